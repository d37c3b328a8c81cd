// How the model's mdev parents and mdevs look in sysfs: a parent's `mdev_supported_types/<type>/`
// directories, each mdev's directory beside them under the parent, and the links that lead there
// (class/mdev_bus/<parent>, bus/mdev/devices/<uuid>, kernel/iommu_groups/<n>/devices/<uuid>).
// The model's reads (vfs.ts) and writeSysfsTree both render from here.

import type { KernelState, KMdev, KMdevParent, KMdevType } from './state.js';
import { devicePath } from './view.js';

/** One mdev directory: files (null content: write-only), links and subdirectories. */
export interface MdevNode {
  path: string;
  files: Map<string, string | null>;
  links: Map<string, string>;
  dirs: string[];
  /** What writes to its files act on. */
  of: { parent: KMdevParent; type?: KMdevType; mdev?: KMdev };
}

const up = (path: string): string => '../'.repeat(path.split('/').length);

export function parentPath(s: KernelState, p: KMdevParent): string {
  return p.dev ? devicePath(s, p.dev) : `devices/virtual/${p.name}/${p.name}`;
}

export function mdevPath(s: KernelState, m: KMdev): string {
  return `${parentPath(s, m.parent)}/${m.uuid}`;
}

/** Every directory the active parents and the mdevs add, parents before children. */
export function mdevNodes(s: KernelState): MdevNode[] {
  const nodes: MdevNode[] = [];
  for (const p of s.activeMdevParents()) {
    const base = `${parentPath(s, p)}/mdev_supported_types`;
    nodes.push({ path: base, files: new Map(), links: new Map(), dirs: p.types.map((t) => t.id), of: { parent: p } });
    for (const type of p.types) {
      const files = new Map<string, string | null>([
        ['create', null],
        ['available_instances', `${s.mdevAvailable(p, type)}\n`],
        ['device_api', `${type.deviceApi}\n`],
      ]);
      if (type.name !== undefined) files.set('name', `${type.name}\n`);
      if (type.description !== undefined) files.set('description', `${type.description}\n`);
      nodes.push({ path: `${base}/${type.id}`, files, links: new Map(), dirs: ['devices'], of: { parent: p, type } });
      const links = new Map<string, string>();
      for (const m of s.mdevs.values()) if (m.parent === p && m.type === type.id) links.set(m.uuid, `../../../${m.uuid}`);
      nodes.push({ path: `${base}/${type.id}/devices`, files: new Map(), links, dirs: [], of: { parent: p, type } });
    }
  }
  for (const m of s.mdevs.values()) {
    const path = mdevPath(s, m);
    const back = up(path);
    const files = new Map<string, string | null>([['remove', null]]);
    for (const a of m.parent.attrs) files.set(a, `${m.attrs.get(a) ?? ''}\n`);
    const links = new Map<string, string>([
      ['mdev_type', `../mdev_supported_types/${m.type}`],
      ['iommu_group', `${back}kernel/iommu_groups/${m.group}`],
      ['subsystem', `${back}bus/mdev`],
    ]);
    if (m.driver !== null) links.set('driver', `${back}bus/mdev/drivers/${m.driver}`);
    nodes.push({ path, files, links, dirs: [], of: { parent: m.parent, mdev: m } });
  }
  return nodes;
}

/** Entries a parent's own directory gains: `mdev_supported_types` and its mdevs' directories. */
export function parentEntries(s: KernelState, p: KMdevParent): string[] {
  if (!s.mdevParentActive(p)) return [];
  return ['mdev_supported_types', ...[...s.mdevs.values()].filter((m) => m.parent === p).map((m) => m.uuid)];
}

/** The symlinks that lead into mdev directories, as [root-relative path, relative target]. */
export function mdevLinks(s: KernelState): [string, string][] {
  const out: [string, string][] = [];
  for (const p of s.activeMdevParents()) out.push([`class/mdev_bus/${p.name}`, `../../${parentPath(s, p)}`]);
  for (const m of s.mdevs.values()) {
    out.push([`bus/mdev/devices/${m.uuid}`, `../../../${mdevPath(s, m)}`]);
    out.push([`kernel/iommu_groups/${m.group}/devices/${m.uuid}`, `../../../../${mdevPath(s, m)}`]);
  }
  return out;
}

/** mdev drivers in use, for bus/mdev/drivers. */
export function mdevDrivers(s: KernelState): string[] {
  return [...new Set([...s.mdevs.values()].map((m) => m.driver).filter((d): d is string => d !== null))].sort();
}
