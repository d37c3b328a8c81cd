// Selectors against one host: which device each rule means, and whether the file's demands hold
// (counts, no two rules disagreeing about a device, VF counts the hardware can give). Pure: the
// host is data. Every problem is collected and thrown together as one `selector` error.

import type { Diagnostic } from '../domain/errors.js';
import { splitKey } from '../domain/names.js';
import type { Desired, DesiredBinding, Device, DeviceKey, Host, HostIdentity, Notice, Rule, StateFile, Target } from '../domain/types.js';
import { isFor } from '../fleet/identity.js';
import { concreteTarget, createdVfs, futureHost, predictVfs } from './future-vfs.js';
import { compileSelector } from './match.js';
import { resolveMdevs } from './mdevs.js';
import { problems } from './problems.js';

/**
 * Whether the file applies on this host: `hosts:` globs (case-insensitive like DNS names), `dmi:`
 * and `machineIds:` (fleet/identity.ts). A bare hostname knows no DMI product or machine-id.
 */
export function hostMatches(state: StateFile, host: string | HostIdentity): boolean {
  return isFor(state, typeof host === 'string' ? { hostname: host } : host);
}

export function targetText(t: Target): string {
  return t.kind === 'driver' ? t.driver : t.kind;
}

function sameTarget(a: Target, b: Target): boolean {
  return a.kind === b.kind && (a.kind !== 'driver' || a.driver === (b as { driver: string }).driver);
}

/** `rule 'rtx3090' (line 4)`, or by position when the rule has no name. */
export function ruleLabel(rule: Rule): string {
  return `rule ${rule.name !== undefined ? `'${rule.name}'` : `devices[${rule.index}]`} (line ${rule.pos.line})`;
}

/** `0000:01:00.0 (10de:2204)`: the address plus the ids people recognise a card by. */
export function deviceLabel(d: Device): string {
  return d.vendor && d.device ? `${d.name} (${d.vendor}:${d.device})` : d.name;
}

function ruleRef(rule: Rule): NonNullable<Notice['rule']> {
  return { index: rule.index, ...(rule.name !== undefined ? { name: rule.name } : {}), line: rule.pos.line };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function resolve(state: StateFile, host: Host): Desired {
  // Rules match the host as it will be once the `vfs:` counts are set, VFs to be created included
  // (future-vfs.ts); `vfio` targets become a concrete driver per device (variant.ts).
  const created = createdVfs(state, host);
  const view = futureHost(host, created);
  const errors: Diagnostic[] = [];
  const warnings: Notice[] = [];
  const bindings = new Map<DeviceKey, DesiredBinding>();
  const vfs = new Map<DeviceKey, Desired['vfs'][number]>();
  const error = (rule: Rule, message: string): void => {
    errors.push({ file: rule.pos.file, line: rule.pos.line, col: rule.pos.col, message });
  };

  for (const rule of state.rules) {
    const match = compileSelector(rule.match);
    const matched = view.devices.filter((d) => match(d, view));
    for (const bridge of matched.filter((d) => d.isBridge)) {
      warnings.push({
        message: `${ruleLabel(rule)} matches bridge ${deviceLabel(bridge)}: bridges are never rebound, so it is left alone`,
        device: bridge.key,
        rule: ruleRef(rule),
      });
    }
    const devices = matched.filter((d) => !d.isBridge);

    if (rule.count !== undefined && devices.length !== rule.count) {
      const list = devices.length ? `: ${devices.map(deviceLabel).join(', ')}` : '';
      error(rule, `${ruleLabel(rule)} expects ${plural(rule.count, 'device')}, matched ${devices.length}${list}`);
      continue;
    }
    if (devices.length === 0) {
      if (rule.count === undefined) warnings.push({ message: `${ruleLabel(rule)} matches no device on this host`, rule: ruleRef(rule) });
      continue;
    }

    for (const d of devices) {
      const earlier = bindings.get(d.key);
      const target = concreteTarget(rule.target, d, view);
      if (!earlier) {
        bindings.set(d.key, { device: d.key, target, rule, force: rule.force });
      } else if (!sameTarget(earlier.target, target)) {
        error(rule, `${deviceLabel(d)}: ${ruleLabel(earlier.rule)} wants ${targetText(earlier.target)}, ${ruleLabel(rule)} wants ${targetText(target)}`);
      } else {
        // Same target from two rules: the first stays the recorded rule; force from either counts.
        earlier.force ||= rule.force;
      }
    }

    if (rule.vfs) {
      const spec = rule.vfs;
      for (const pf of devices) {
        const earlier = vfs.get(pf.key);
        if (pf.physfn) {
          error(rule, `${ruleLabel(rule)} asks for VFs, but it matches ${deviceLabel(pf)}, itself a VF of ${splitKey(pf.physfn).name}: narrow the match to the PF`);
        } else if (!pf.sriov) {
          error(rule, `${ruleLabel(rule)} asks for VFs, but ${deviceLabel(pf)} is not SR-IOV capable`);
        } else if (spec.count > pf.sriov.totalVfs) {
          error(rule, `${ruleLabel(rule)} asks for ${plural(spec.count, 'VF')} on ${deviceLabel(pf)}, which supports at most ${pf.sriov.totalVfs} (sriov_totalvfs)`);
        } else {
          // The VFs share their ids, so one of them (existing, or as it will be) decides a `vfio` target.
          const vfKey = pf.virtfns?.[0];
          const sample = view.devices.find((v) => v.key === vfKey) ?? predictVfs(pf, 1)?.[0] ?? pf;
          const target = concreteTarget(spec.target, sample, view);
          if (!earlier) {
            vfs.set(pf.key, { pf: pf.key, count: spec.count, target, rule });
          } else if (earlier.count !== spec.count || !sameTarget(earlier.target, target)) {
            error(rule, `${deviceLabel(pf)}: ${ruleLabel(earlier.rule)} wants ${plural(earlier.count, 'VF')} on ${targetText(earlier.target)}, ${ruleLabel(rule)} wants ${plural(spec.count, 'VF')} on ${targetText(target)}`);
          }
        }
      }
    }
  }

  // A `vfs:` driver and a rule selecting one of those VFs directly must agree. A vfs block without
  // a driver (`default`) leaves the VFs to such rules, so it conflicts with none.
  const byKey = new Map(view.devices.map((d) => [d.key, d]));
  for (const spec of vfs.values()) {
    if (spec.target.kind === 'default') continue;
    for (const vf of (byKey.get(spec.pf)?.virtfns ?? []).slice(0, spec.count)) {
      const b = bindings.get(vf);
      if (b && !sameTarget(b.target, spec.target)) {
        const d = byKey.get(vf);
        error(b.rule, `${d ? deviceLabel(d) : vf}: ${ruleLabel(spec.rule)} wants its VFs on ${targetText(spec.target)}, ${ruleLabel(b.rule)} wants ${targetText(b.target)}`);
      }
    }
  }

  const mdevs = resolveMdevs(state.mdevs, host, errors);
  if (errors.length) throw problems('selector', state.path, errors);
  const byDevice = (a: { device: DeviceKey }, b: { device: DeviceKey }): number => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0);
  return {
    state,
    bindings: [...bindings.values()].sort(byDevice),
    vfs: [...vfs.values()].sort((a, b) => byDevice({ device: a.pf }, { device: b.pf })),
    warnings,
    ...(created.length > 0 ? { created } : {}),
    ...(mdevs.length > 0 ? { mdevs } : {}),
  };
}
