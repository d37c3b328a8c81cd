// Plain-data hosts and desired states for planner tests: one line per device, defaults that
// describe an ordinary x86 host (modern kernel, IOMMU on, vfio_pci loadable but not loaded).

import type { Desired, Device, GroupPolicy, Host, Rule, Target } from '../../src/domain/types.js';

export function pci(name: string, o: Partial<Device> = {}): Device {
  return {
    key: `pci/${name}`,
    bus: 'pci',
    name,
    vendor: '8086',
    device: '1234',
    class: '020000',
    driver: null,
    override: null,
    iommuGroup: null,
    isBridge: false,
    ...o,
  };
}

export function bridge(name: string, o: Partial<Device> = {}): Device {
  return pci(name, { class: '060400', driver: 'pcieport', isBridge: true, ...o });
}

/**
 * Groups and registered drivers are derived from the devices unless given. The host is a live one
 * whose usage facts were gathered and found nothing (`usage: {}`), unless a test says otherwise.
 */
export function host(devices: Device[], o: Partial<Host> = {}): Host {
  const groups: Record<string, string[]> = {};
  for (const d of devices) if (d.iommuGroup !== null) (groups[d.iommuGroup] ??= []).push(d.key);
  for (const g of Object.values(groups)) g.sort();
  const pciDrivers = [...new Set(devices.filter((d) => d.bus === 'pci' && d.driver).map((d) => d.driver!))].sort();
  return {
    hostname: 'pve-1',
    kernelRelease: '6.12.117-amd64',
    devices: [...devices].sort((a, b) => (a.key < b.key ? -1 : 1)),
    drivers: { pci: pciDrivers, platform: [] },
    groups,
    modules: { known: true, available: ['vfio_pci', 'pci_stub', 'nvidia', 'snd_hda_intel'], loaded: [] },
    usage: {},
    ...o,
  };
}

export function target(text: string): Target {
  return text === 'default' || text === 'none' ? { kind: text } : { kind: 'driver', driver: text };
}

/** A rule whose targets are concrete (no `vfio`), so tests can put them into a Desired directly. */
export type PlainRule = Rule & { target: Target; vfs?: { count: number; target: Target } };

export function rule(index: number, driver: string, o: Partial<PlainRule> = {}): PlainRule {
  return { index, match: { address: '*' }, target: target(driver), force: false, pos: { file: 'state.yaml', line: 3 + index * 3, col: 5 }, ...o };
}

/** `[address, rule]` pairs; a string stands for a fresh anonymous rule with that driver. */
export function desired(
  bindings: [string, string | PlainRule][],
  o: { iommuGroups?: GroupPolicy; vfs?: Desired['vfs'] } = {},
): Desired {
  const rules: Rule[] = [];
  const out = bindings.map(([address, r], i) => {
    const ru = typeof r === 'string' ? rule(i, r) : r;
    if (!rules.includes(ru)) rules.push(ru);
    return { device: `pci/${address}`, target: ru.target, rule: ru, force: ru.force };
  });
  for (const v of o.vfs ?? []) if (!rules.includes(v.rule)) rules.push(v.rule);
  return {
    state: { path: 'state.yaml', version: 1, rules, mdevs: [], options: { iommuGroups: o.iommuGroups ?? 'strict' } },
    bindings: out.sort((a, b) => (a.device < b.device ? -1 : 1)),
    vfs: o.vfs ?? [],
  };
}

/** Steps as short strings, for order assertions that read like the rendered plan. */
export function stepLines(steps: import('../../src/domain/types.js').Step[]): string[] {
  return steps.map((s) => {
    switch (s.kind) {
      case 'load-module':
        return `load-module ${s.module}`;
      case 'set-numvfs':
        return `set-numvfs ${s.device} ${s.from}->${s.to}`;
      case 'set-override':
        return `set-override ${s.device} ${s.to}`;
      case 'unbind':
        return `unbind ${s.device} ${s.driver}`;
      case 'probe':
        return `probe ${s.device}`;
      case 'bind':
        return `bind ${s.device} ${s.driver}`;
      case 'verify':
        return `verify ${s.device} ${s.driver === undefined ? '*' : s.driver} ${s.override}`;
      case 'set-autoprobe':
        return `set-autoprobe ${s.device} ${s.to ? 1 : 0}`;
      case 'create-mdev':
      case 'remove-mdev':
        return `${s.kind} ${s.uuid} ${s.type}@${s.parent}`;
      case 'set-mdev-attr':
        return `set-mdev-attr ${s.uuid} ${s.attr}=${s.value}`;
    }
  });
}
