// The model's state seen as a sysfs tree: resolves a root-relative path to a directory, a symlink
// or an attribute (with the store() that a write to it runs). Rendering comes from view.ts, so
// reads here and the tree writeSysfsTree materialises agree.

import type { Bus } from '../domain/types.js';
import { assertRootRelative } from '../sysfs/path.js';
import type { Outcome } from './faults.js';
import type { KernelOps } from './ops.js';
import type { KDevice, KDriver, KernelState } from './state.js';
import { busFiles, compatibleFile, groupNumbers, renderDevice, renderDriver, type NodeView } from './view.js';

export type VNode =
  | { kind: 'dir'; entries: string[]; target?: string }
  | { kind: 'link'; target: string }
  | { kind: 'file'; content: string | null; store?: (value: string) => Outcome };

const dir = (entries: string[], target?: string): VNode => (target ? { kind: 'dir', entries, target } : { kind: 'dir', entries });

export class VirtualSysfs {
  private readonly views = new WeakMap<KDevice, { generation: number; view: NodeView }>();

  constructor(
    private readonly s: KernelState,
    private readonly ops: KernelOps,
  ) {}

  private view(dev: KDevice): NodeView {
    const cached = this.views.get(dev);
    if (cached?.generation === this.s.generation) return cached.view;
    const view = renderDevice(this.s, dev);
    this.views.set(dev, { generation: this.s.generation, view });
    return view;
  }

  /** Throws, like FsSysfsPort, for a path that is absolute or climbs out of the root. */
  lookup(path: string): VNode | undefined {
    assertRootRelative(path);
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    const [top, a, b, c, ...rest] = parts;
    if (parts.length === 0) return dir(['bus', 'kernel', 'module']);
    if (top === 'bus') return this.lookupBus(parts.slice(1));
    if (top === 'module') {
      if (a === undefined) return dir(this.s.loadedModules());
      return b === undefined && this.s.modules.get(a)?.loaded ? dir([]) : undefined;
    }
    if (top === 'kernel' && a === undefined) return dir(['iommu_groups']);
    if (top === 'kernel' && a === 'iommu_groups') {
      const groups = groupNumbers(this.s);
      if (b === undefined) return dir(groups);
      if (!groups.includes(b)) return undefined;
      if (c === undefined) return dir(['devices']);
      if (c !== 'devices') return undefined;
      const members = this.s.members(b);
      if (rest.length === 0) return dir(members.map((m) => m.name));
      const m = members.find((d) => d.name === rest[0]);
      return m && rest.length === 1 ? { kind: 'link', target: `../../../../${this.view(m).path}` } : undefined;
    }
    return undefined;
  }

  private lookupBus(parts: string[]): VNode | undefined {
    const [busName, section, name, ...rest] = parts;
    if (busName === undefined) return dir(['pci', 'platform']);
    if (busName !== 'pci' && busName !== 'platform') return undefined;
    const bus: Bus = busName;
    if (section === undefined) return dir(['devices', 'drivers', ...busFiles(this.s, bus).keys()]);
    if (section === 'devices') {
      if (name === undefined) return dir([...this.s.devices.values()].filter((d) => d.bus === bus).map((d) => d.name));
      const dev = this.s.device(bus, name);
      return dev ? this.lookupDevice(dev, rest) : undefined;
    }
    if (section === 'drivers') {
      if (name === undefined) return dir(this.s.registeredDrivers(bus));
      const drv = this.s.registeredDriver(bus, name);
      return drv ? this.lookupDriver(drv, rest) : undefined;
    }
    if (rest.length || name !== undefined) return undefined;
    if (section === 'drivers_probe') return { kind: 'file', content: null, store: (v) => this.ops.storeProbe(bus, v) };
    if (section === 'drivers_autoprobe') {
      return { kind: 'file', content: busFiles(this.s, bus).get('drivers_autoprobe')!, store: (v) => this.ops.storeBusAutoprobe(bus, v) };
    }
    return undefined;
  }

  private lookupDevice(dev: KDevice, rest: string[]): VNode | undefined {
    const view = this.view(dev);
    // bus/<bus>/devices/<name> itself is a symlink into devices/.
    if (rest.length === 0) return dir([...view.files.keys(), ...view.links.keys()], `../../../${view.path}`);
    const [entry, ...below] = rest;
    if (entry === 'driver' && below.length > 0) {
      const drv = dev.driver === null ? undefined : this.s.registeredDriver(dev.bus, dev.driver);
      return drv ? this.lookupDriver(drv, below) : undefined;
    }
    if (entry === 'of_node' && dev.compatible?.length) {
      if (below.length === 0) return { kind: 'link', target: view.links.get('of_node')! };
      return below.length === 1 && below[0] === 'compatible' ? { kind: 'file', content: compatibleFile(dev.compatible) } : undefined;
    }
    if (below.length > 0 || entry === undefined) return undefined;
    const link = view.links.get(entry);
    if (link !== undefined) return { kind: 'link', target: link };
    if (!view.files.has(entry)) return undefined;
    const content = view.files.get(entry)!;
    switch (entry) {
      case 'driver_override':
        return { kind: 'file', content, store: (v) => this.ops.storeOverride(dev, v) };
      case 'sriov_numvfs':
        return { kind: 'file', content, store: (v) => this.ops.storeNumVfs(dev, v) };
      case 'sriov_drivers_autoprobe':
        return { kind: 'file', content, store: (v) => this.ops.storeVfAutoprobe(dev, v) };
      default:
        return { kind: 'file', content };
    }
  }

  private lookupDriver(drv: KDriver, rest: string[]): VNode | undefined {
    const view = renderDriver(this.s, drv);
    if (rest.length === 0) return dir([...view.files.keys(), ...view.links.keys()]);
    if (rest.length > 1) return undefined;
    const entry = rest[0]!;
    if (entry === 'bind') return { kind: 'file', content: null, store: (v) => this.ops.storeBind(drv, v) };
    if (entry === 'unbind') return { kind: 'file', content: null, store: (v) => this.ops.storeUnbind(drv, v) };
    const link = view.links.get(entry);
    if (link !== undefined) return { kind: 'link', target: link };
    return view.files.has(entry) ? { kind: 'file', content: view.files.get(entry)! } : undefined;
  }
}
