// An `mdevs:` entry's parent selector against the host's mdev parents (/sys/class/mdev_bus). A
// parent that is a pci or platform device matches like any device; one that is not (mtty, vfio-ap's
// matrix) can only be named, so it matches a selector whose only key is `name`.

import type { Diagnostic } from '../domain/errors.js';
import type { DesiredMdev, Host, MdevParent, MdevSpec } from '../domain/types.js';
import { compileSelector, nameRegExp } from './match.js';

function parentMatcher(spec: MdevSpec, host: Host): (p: MdevParent) => boolean {
  const match = compileSelector(spec.parent);
  const keys = Object.keys(spec.parent);
  const byName = keys.length === 1 && spec.parent.name !== undefined ? nameRegExp(spec.parent.name) : null;
  return (p) => {
    const device = p.device === undefined ? undefined : host.devices.find((d) => d.key === p.device);
    return device ? match(device, host) : byName !== null && byName.test(p.name);
  };
}

export const mdevLabel = (spec: MdevSpec): string => `mdevs[${spec.index}] (line ${spec.pos.line})`;

/** Each entry with its one parent; an entry matching none or several is a located error. */
export function resolveMdevs(specs: MdevSpec[], host: Host, errors: Diagnostic[]): DesiredMdev[] {
  const parents = host.mdevs?.parents ?? [];
  const out: DesiredMdev[] = [];
  for (const spec of specs) {
    const matched = parents.filter(parentMatcher(spec, host));
    const at = { file: spec.pos.file, line: spec.pos.line, col: spec.pos.col };
    if (matched.length === 1) {
      out.push({ uuid: spec.uuid, parent: matched[0]!.name, type: spec.type, attrs: spec.attrs ?? [], spec });
      continue;
    }
    const known = parents.length
      ? `the mdev parents here are ${parents.map((p) => p.name).join(', ')}`
      : 'this host has no mdev parents (/sys/class/mdev_bus is empty: the parent driver is not loaded with mdev support, e.g. i915 without enable_gvt=1, or no vGPU host driver)';
    errors.push({
      ...at,
      message: matched.length === 0
        ? `${mdevLabel(spec)}: parent matches no mdev parent; ${known}`
        : `${mdevLabel(spec)}: parent matches ${matched.length} mdev parents (${matched.map((p) => p.name).join(', ')}); narrow it to one`,
    });
  }
  return out.sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
}
