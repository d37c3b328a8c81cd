// The model's state seen as a sysfs tree: resolves a root-relative path to a directory, a symlink
// or an attribute (with the store() that a write to it runs). Rendering comes from view.ts, so
// reads here and the tree writeSysfsTree materialises agree.

import type { Bus } from '../domain/types.js';
import { assertRootRelative } from '../sysfs/path.js';
import type { Outcome } from './faults.js';
import type { KernelOps } from './ops.js';
import { mdevDrivers, mdevNodes, mdevPath, parentEntries, parentPath, type MdevNode } from './mdev-view.js';
import type { KDevice, KDriver, KernelState } from './state.js';
import { busFiles, compatibleFile, groupNumbers, renderDevice, renderDriver, type NodeView } from './view.js';

export type VNode =
  | { kind: 'dir'; entries: string[]; target?: string }
  | { kind: 'link'; target: string }
  | { kind: 'file'; content: string | null; store?: (value: string) => Outcome };

const dir = (entries: string[], target?: string): VNode => (target ? { kind: 'dir', entries, target } : { kind: 'dir', entries });

export class VirtualSysfs {
  private readonly views = new WeakMap<KDevice, { generation: number; view: NodeView }>();
  private mdevCache: { generation: number; nodes: Map<string, MdevNode> } | undefined;

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
    // class/ and bus/mdev appear only with mdev support: other trees stay as they were.
    if (parts.length === 0) return dir(this.hasMdev() ? ['bus', 'class', 'kernel', 'module'] : ['bus', 'kernel', 'module']);
    if (top === 'bus') return this.lookupBus(parts.slice(1));
    if (top === 'class') return this.lookupClass(parts.slice(1));
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
      const mdevs = [...this.s.mdevs.values()].filter((m) => m.group === b);
      if (rest.length === 0) return dir([...members.map((m) => m.name), ...mdevs.map((m) => m.uuid)]);
      if (rest.length !== 1) return undefined;
      const m = members.find((d) => d.name === rest[0]);
      if (m) return { kind: 'link', target: `../../../../${this.view(m).path}` };
      const md = mdevs.find((x) => x.uuid === rest[0]);
      return md ? { kind: 'link', target: `../../../../${mdevPath(this.s, md)}` } : undefined;
    }
    return undefined;
  }

  private lookupBus(parts: string[]): VNode | undefined {
    const [busName, section, name, ...rest] = parts;
    if (busName === undefined) return dir(this.hasMdev() ? ['mdev', 'pci', 'platform'] : ['pci', 'platform']);
    if (busName === 'mdev') return this.hasMdev() ? this.lookupMdevBus(parts.slice(1)) : undefined;
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
    const parent = [...this.s.mdevParents.values()].find((p) => p.dev === dev);
    const mdevEntries = parent ? parentEntries(this.s, parent) : [];
    // bus/<bus>/devices/<name> itself is a symlink into devices/.
    if (rest.length === 0) return dir([...view.files.keys(), ...view.links.keys(), ...mdevEntries], `../../../${view.path}`);
    const [entry, ...below] = rest;
    if (entry !== undefined && mdevEntries.includes(entry)) return this.lookupMdevPath([view.path, ...rest].join('/'));
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

  private hasMdev(): boolean {
    return this.s.mdevParents.size > 0 || this.s.mdevs.size > 0;
  }

  /** class/mdev_bus/<parent>/...: a link to each active parent's device directory. */
  private lookupClass(parts: string[]): VNode | undefined {
    if (!this.hasMdev()) return undefined;
    const [cls, name, ...rest] = parts;
    if (cls === undefined) return dir(['mdev_bus']);
    if (cls !== 'mdev_bus') return undefined;
    const parents = this.s.activeMdevParents();
    if (name === undefined) return dir(parents.map((p) => p.name));
    const p = parents.find((x) => x.name === name);
    if (!p) return undefined;
    const path = parentPath(this.s, p);
    if (rest.length === 0) return dir(parentEntries(this.s, p), `../../${path}`);
    return this.lookupMdevPath([path, ...rest].join('/'));
  }

  private lookupMdevBus(parts: string[]): VNode | undefined {
    const [section, name, ...rest] = parts;
    if (section === undefined) return dir(['devices', 'drivers']);
    if (section === 'drivers') {
      const drivers = mdevDrivers(this.s);
      if (name === undefined) return dir(drivers);
      return drivers.includes(name) && rest.length === 0 ? dir([]) : undefined;
    }
    if (section !== 'devices') return undefined;
    if (name === undefined) return dir([...this.s.mdevs.keys()]);
    const m = this.s.mdevs.get(name);
    if (!m) return undefined;
    if (rest.length === 0) {
      const node = this.mdevNodesNow().get(mdevPath(this.s, m))!;
      return dir([...node.files.keys(), ...node.links.keys()], `../../../${node.path}`);
    }
    return this.lookupMdevPath([mdevPath(this.s, m), ...rest].join('/'));
  }

  private mdevNodesNow(): Map<string, MdevNode> {
    if (this.mdevCache?.generation !== this.s.generation) {
      this.mdevCache = { generation: this.s.generation, nodes: new Map(mdevNodes(this.s).map((n) => [n.path, n])) };
    }
    return this.mdevCache.nodes;
  }

  /** A canonical path inside an mdev parent's types or an mdev's directory. */
  private lookupMdevPath(path: string): VNode | undefined {
    const nodes = this.mdevNodesNow();
    const node = nodes.get(path);
    if (node) return dir([...node.files.keys(), ...node.links.keys(), ...node.dirs]);
    const cut = path.lastIndexOf('/');
    const owner = nodes.get(path.slice(0, cut));
    const entry = path.slice(cut + 1);
    if (!owner) return undefined;
    const link = owner.links.get(entry);
    if (link !== undefined) return { kind: 'link', target: link };
    if (!owner.files.has(entry)) return undefined;
    const content = owner.files.get(entry)!;
    const { parent, type, mdev } = owner.of;
    if (type && entry === 'create') return { kind: 'file', content, store: (v) => this.ops.mdev.create(parent, type, v) };
    if (mdev && entry === 'remove') return { kind: 'file', content, store: (v) => this.ops.mdev.remove(mdev, v) };
    if (mdev) return { kind: 'file', content, store: (v) => this.ops.mdev.storeAttr(mdev, entry, v) };
    return { kind: 'file', content };
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
