/**
 * KernelModel: an in-memory Linux kernel as far as driver binding goes. It implements SysfsPort
 * (paths as src/sysfs/layout.ts builds them, values and links shaped like the real kernel's) and
 * ModulePort, with the binding semantics of /work/shared/kernel-abi.md, a builder for tests and
 * fault injection. The executor, the planner's tests and `--snapshot` simulation run against it.
 *
 * What it emulates: driver_override store/show (newline cut, clearing, EINVAL at PAGE_SIZE-1, the
 * 5.19-6.0 NUL quirk), bind/unbind/drivers_probe with their errnos per version (EBUSY vs ENODEV
 * for bind-already-bound at 5.14), bus match rules (override first; PCI ID tables; platform
 * compatible or name), probe refusals (VF autoprobe, vfio-pci on bridges, group-less devices and
 * PFs with VFs, injected probe failures), module loads that bind every unbound matching device,
 * SR-IOV VF creation and destruction, /dev/vfio/N nodes, group viability (before and after 5.19),
 * held VFIO groups (unbind hangs, DMA drivers get EBUSY or, before 5.19, the kernel BUG),
 * hotplug (the new device probes at once, override or not) and hot-unplug, mdev parents and mdevs
 * (create with EINVAL/EEXIST/EUSERS, remove blocking while held, vendor attributes, a parent's
 * unbind removing its mdevs; kernel/mdev.ts), modules.alias entries of modules, and hangs and
 * errnos injected on any write.
 *
 * Simplifications, on purpose:
 * - binding a vfio driver succeeds whatever the rest of its group is bound to; viability is a
 *   separate question (`groupViable`, checked by `openVfioGroup`), as on the real kernel where a
 *   non-viable group fails only when user space claims it;
 * - vfio drivers bind through driver_override or a dynamic ID on every version: the 5.15
 *   override_only table and the older empty table behave the same for both;
 * - unbinding a PF always destroys its VFs (every in-tree SR-IOV driver's remove() does);
 * - an mdev type has a fixed number of instances, or draws on a pool its parent shares between its
 *   types (mtty's ports); resource accounting like GVT-g's aperture split is not modelled;
 * - a device's mdev types exist while it is bound to the driver it had when declared a parent.
 *
 * What it does NOT emulate (the QEMU lab in test/lab covers the real kernel):
 * - asynchronous probing: every probe finishes inside the write or module load that caused it;
 * - new_id / remove_id writes and vfio-pci `ids=` (the tool never uses them); the builder infers a
 *   dynamic ID only from a device it binds to a vfio driver without an override;
 * - udev, module autoloading on hotplug, rescans, device links (supplier/consumer cascades);
 * - device_lock: a driver_override write does not block behind a stuck unbind;
 * - deferred probes coming back later: EPROBE_DEFER from failProbe is reported, nothing re-probes;
 * - writes longer than PAGE_SIZE being split into two stores;
 * - the vfio-platform reset-handler lookup (use failProbe(..., 'ENOENT') for it), the vfio-pci
 *   denylist, VF tokens, `enable`, `reset`, `remove`, mdev attributes' own validation, and anything
 *   outside bus/, class/mdev_bus, kernel/iommu_groups, module/ and devicetree compatibles.
 */

import { KernelWriteError } from '../domain/errors.js';
import { isDeviceName, isVfioDriver, moduleNameOf } from '../domain/names.js';
import type { Bus, Host, ModuleAlias } from '../domain/types.js';
import { assertRootRelative } from '../sysfs/path.js';
import type { ModulePort, SysfsPort } from '../sysfs/port.js';
import { Faults, isBlocked, type Fault, type Outcome } from './faults.js';
import { buildFromHost, type DefaultBinding } from './from-host.js';
import { buildExtrasFromHost } from './from-host-extras.js';
import { groupViable, platformBaseName } from './match.js';
import { KernelOps } from './ops.js';
import { KernelState, KernelVersion, type KDevice, type KDriver, type PciIdEntry, type VfioHolder } from './state.js';
import type { DeviceState, DriverSpec, MdevParentSpec, MdevState, ModelOptions, PciSpec, PlatformSpec, WriteRecord } from './spec.js';
import { VirtualSysfs } from './vfs.js';
import { byNumber } from './view.js';

export type { DeviceState, DriverSpec, MdevParentSpec, MdevState, MdevTypeSpec, ModelOptions, PciSpec, PlatformSpec, WriteRecord } from './spec.js';

interface Pending {
  record: WriteRecord;
  until: string;
  resume: () => void;
}

const normHex = (v: string, width: number): string => v.toLowerCase().replace(/^0x/, '').padStart(width, '0');

function canonicalIds(ids: DriverSpec['ids']): PciIdEntry[] {
  return (ids ?? []).map((id) => {
    const e: PciIdEntry = Array.isArray(id) ? { vendor: id[0], device: id[1] } : { ...id };
    for (const k of ['vendor', 'device', 'subsystemVendor', 'subsystemDevice'] as const) {
      if (e[k] !== undefined) e[k] = normHex(e[k]!, 4);
    }
    if (e.class !== undefined) e.class = e.class.toLowerCase().replace(/^0x/, '');
    return e;
  });
}

function checkNew(existing: KDevice | undefined, bus: Bus, name: string): void {
  if (!isDeviceName(bus, name)) {
    throw new Error(`${bus} device name ${JSON.stringify(name)} is not one the kernel would use${bus === 'pci' ? ' (write 0000:01:00.0, lowercase)' : ''}`);
  }
  if (existing) throw new Error(`device ${bus}/${name} declared twice`);
}

export class KernelModel implements SysfsPort, ModulePort {
  readonly root = 'kernel-model';
  /** Every write attempted, in order, with its result. */
  readonly writes: WriteRecord[] = [];
  /** Every module load asked for, underscored. */
  readonly loads: string[] = [];

  private readonly s: KernelState;
  private readonly faults = new Faults();
  private readonly pending: Pending[] = [];
  private readonly moduleFailures = new Map<string, string>();
  private readonly modulesKnown: boolean;
  private readonly ops: KernelOps;
  private readonly fs: VirtualSysfs;

  constructor(opts: ModelOptions = {}) {
    this.s = new KernelState(new KernelVersion(opts.kernel ?? '6.12'));
    this.ops = new KernelOps(this.s);
    this.fs = new VirtualSysfs(this.s, this.ops);
    this.modulesKnown = opts.modulesKnown ?? true;
  }

  /**
   * A model of an observed host, for offline simulation (see from-host.ts for the assumptions).
   * `defaults`: by device key, the driver the kernel binds when no override steers it.
   */
  static fromHost(host: Host, defaults: Record<string, DefaultBinding> = {}): KernelModel {
    const k = new KernelModel({ kernel: host.kernelRelease ?? '6.12', modulesKnown: host.modules.known });
    buildFromHost(k, host, defaults);
    buildExtrasFromHost(k, host);
    return k;
  }

  get kernel(): string {
    return this.s.version.text;
  }

  // ---------------------------------------------------------------------------------------------
  // Builder

  driver(bus: Bus, name: string, spec: DriverSpec = {}): this {
    if (this.s.driver(bus, name)) throw new Error(`driver ${bus}/${name} declared twice`);
    const module = spec.module === null ? null : this.declareModule(moduleNameOf(spec.module ?? name), spec.builtin ?? false, spec.loaded);
    if (spec.aliases) {
      if (!module) throw new Error(`driver ${name}: aliases need a module`);
      module.aliases.push(...spec.aliases);
    }
    const drv: KDriver = {
      bus,
      name,
      module: module?.name ?? '',
      ids: canonicalIds(spec.ids),
      dynamicIds: [],
      compatible: spec.compatible ?? [],
      names: spec.names ?? [name],
      sriov: spec.sriov ?? false,
      vfio: spec.vfio ?? isVfioDriver(name),
      registered: false,
      learns: spec.ids === undefined && spec.compatible === undefined && spec.names === undefined,
    };
    this.s.drivers.set(`${bus}/${name}`, drv);
    if (module ? module.loaded : spec.loaded !== false) this.ops.register(drv, false);
    this.s.changed();
    return this;
  }

  /** A loadable module with no driver the model knows of (it only shows in `available()`). */
  module(name: string, opts: { loaded?: boolean; builtin?: boolean; aliases?: string[] } = {}): this {
    const m = moduleNameOf(name);
    if (!this.s.modules.has(m) || opts.loaded !== undefined) this.declareModule(m, opts.builtin ?? false, opts.loaded ?? false);
    if (opts.aliases) this.s.modules.get(m)!.aliases.push(...opts.aliases);
    return this;
  }

  /**
   * Makes `name` an mdev parent: the pci or platform device of that name (a parent while it stays on
   * the driver it has now), or else a virtual device (like mtty's) that always is one.
   */
  mdevParent(name: string, spec: MdevParentSpec): this {
    if (this.s.mdevParents.has(name)) throw new Error(`mdev parent ${name} declared twice`);
    const dev = this.find(name) ?? null;
    if (dev && dev.driver === null) throw new Error(`mdev parent ${name} must be bound to the driver that registers it`);
    const parent = {
      name,
      dev,
      driver: dev?.driver ?? null,
      mdevDriver: spec.mdevDriver ?? 'vfio_mdev',
      types: spec.types.map((t) => ({
        id: t.id,
        deviceApi: t.deviceApi ?? 'vfio-pci',
        instances: t.instances ?? 1,
        cost: t.cost ?? 1,
        ...(t.name !== undefined ? { name: t.name } : {}),
        ...(t.description !== undefined ? { description: t.description } : {}),
      })),
      attrs: spec.attrs ?? [],
      ...(spec.pool !== undefined ? { pool: spec.pool } : {}),
    };
    this.s.mdevParents.set(name, parent);
    this.s.changed();
    return this;
  }

  /** An mdev that exists already (created before the test starts). */
  mdev(uuid: string, spec: { parent: string; type: string; attrs?: Record<string, string> }): this {
    const parent = this.s.mdevParents.get(spec.parent);
    if (!parent?.types.some((t) => t.id === spec.type)) throw new Error(`mdev ${uuid}: parent ${spec.parent} has no type ${spec.type}`);
    if (this.s.mdevs.has(uuid)) throw new Error(`mdev ${uuid} declared twice`);
    this.ops.mdev.add(parent, spec.type, uuid, new Map(Object.entries(spec.attrs ?? {})));
    return this;
  }

  pci(name: string, spec: PciSpec): this {
    checkNew(this.s.device('pci', name), 'pci', name);
    const dev: KDevice = {
      bus: 'pci',
      name,
      vendor: normHex(spec.vendor, 4),
      device: normHex(spec.device, 4),
      driver: null,
      override: spec.override ?? null,
      group: null,
      numa: spec.numa ?? -1,
      bootVga: spec.bootVga ?? false,
      parent: spec.parent ?? null,
      virtfns: [],
    };
    if (spec.subsystemVendor !== undefined) dev.subsystemVendor = normHex(spec.subsystemVendor, 4);
    if (spec.subsystemDevice !== undefined) dev.subsystemDevice = normHex(spec.subsystemDevice, 4);
    if (spec.class !== undefined) dev.class = normHex(spec.class, 6);
    if (spec.revision !== undefined) dev.revision = normHex(spec.revision, 2);
    if (spec.modalias !== undefined) dev.modalias = spec.modalias;
    if (spec.physfn !== undefined) this.attachVf(dev, spec.physfn);
    this.addDevice(dev, spec.group, spec.driver);
    if (spec.sriov) {
      dev.sriov = {
        totalVfs: spec.sriov.totalVfs,
        numVfs: 0,
        autoprobe: spec.sriov.autoprobe ?? true,
        vfDevice: normHex(spec.sriov.vfDevice ?? spec.device, 4),
        offset: spec.sriov.offset ?? 1,
        stride: spec.sriov.stride ?? 1,
        vfGroups: spec.sriov.vfGroups ?? 'own',
      };
      if (spec.sriov.numVfs) this.ops.createVfs(dev, spec.sriov.numVfs, false);
    }
    return this;
  }

  platform(name: string, spec: PlatformSpec = {}): this {
    checkNew(this.s.device('platform', name), 'platform', name);
    const dev: KDevice = {
      bus: 'platform',
      name,
      driver: null,
      override: spec.override ?? null,
      group: null,
      numa: -1,
      bootVga: false,
      parent: null,
      virtfns: [],
    };
    if (spec.compatible !== undefined) dev.compatible = spec.compatible;
    if (spec.modalias !== undefined) dev.modalias = spec.modalias;
    this.addDevice(dev, spec.group === undefined ? null : spec.group, spec.driver);
    return this;
  }

  /**
   * Hotplug or rescan: the device appears and is offered to the registered drivers at once
   * (PCI ignores drivers_autoprobe for added devices). The builder's `driver` field is ignored.
   */
  hotplug(name: string, spec: PciSpec): this {
    this.pci(name, { ...spec, driver: null });
    this.ops.attach(this.s.device('pci', name)!);
    return this;
  }

  /** Probing `driver` on `device` fails with `errno` (e1000 on an e1000e NIC: EIO). */
  failProbe(driver: string, device: string, errno: string): this {
    this.s.probeFailures.set(`${driver}\0${device}`, errno);
    return this;
  }

  /** `modprobe NAME` fails with this message. */
  failModule(module: string, message: string): this {
    this.moduleFailures.set(moduleNameOf(module), message);
    return this;
  }

  inject(fault: Fault): this {
    this.faults.add(fault);
    return this;
  }

  /** Hot-unplug: the device (and a PF's VFs) and its links vanish. */
  removeDevice(name: string): this {
    const dev = this.find(name);
    if (!dev) throw new Error(`no device ${name}`);
    if (dev.sriov) for (const vf of [...dev.virtfns]) this.s.devices.delete(`pci/${vf}`);
    if (dev.physfn) {
      const pf = this.s.device('pci', dev.physfn.pf);
      if (pf) pf.virtfns = pf.virtfns.filter((v) => v !== name);
    }
    this.s.devices.delete(`${dev.bus}/${dev.name}`);
    this.s.changed();
    return this;
  }

  /** A process opens /dev/vfio/<group> (a VM holds the group): unbinds in it hang until closed. */
  openVfioGroup(group: string, holder: VfioHolder = { pid: 4242, command: 'qemu-system-x86_64' }): this {
    if (!this.vfioNodes().includes(group)) throw new Error(`open /dev/vfio/${group}: no such file (no member is bound to a vfio driver)`);
    if (!groupViable(this.s, group)) throw new Error(`/dev/vfio/${group}: group is not viable, VFIO refuses to use it (EPERM)`);
    this.s.held.set(group, holder);
    return this;
  }

  /** The holder of /dev/vfio/<group> closes it: writes blocked on the group complete. */
  closeVfioGroup(group: string): void {
    this.s.held.delete(group);
    this.resume((p) => p.until === group);
  }

  /** Every blocker lets go (held groups close, injected hangs end); a kernel BUG stays hung. */
  release(): void {
    this.s.held.clear();
    this.resume((p) => p.until !== 'panic');
  }

  // ---------------------------------------------------------------------------------------------
  // Semantic reads for tests

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  dev(name: string): DeviceState {
    const d = this.find(name);
    if (!d) throw new Error(`no device ${name} in the kernel model`);
    const out: DeviceState = { bus: d.bus, name: d.name, driver: d.driver, override: d.override, group: d.group, virtfns: [...d.virtfns] };
    if (d.sriov) {
      out.numVfs = d.sriov.numVfs;
      out.autoprobe = d.sriov.autoprobe;
    }
    if (d.physfn) out.physfn = d.physfn.pf;
    return out;
  }

  /** Mediated devices that exist, in creation order. */
  mdevs(): MdevState[] {
    return [...this.s.mdevs.values()].map((m) => ({
      uuid: m.uuid,
      parent: m.parent.name,
      type: m.type,
      driver: m.driver,
      group: m.group,
      attrs: Object.fromEntries(m.attrs),
    }));
  }

  /** Groups that have a /dev/vfio/N node: some member is bound to a vfio driver, or is an mdev. */
  vfioNodes(): string[] {
    const nodes = new Set<string>();
    for (const d of this.s.devices.values()) {
      if (d.group !== null && d.driver !== null && this.s.driver(d.bus, d.driver)?.vfio) nodes.add(d.group);
    }
    for (const m of this.s.mdevs.values()) if (m.driver !== null) nodes.add(m.group);
    return [...nodes].sort(byNumber);
  }

  vfioHolders(): Map<string, VfioHolder> {
    return new Map(this.s.held);
  }

  groupViable(group: string): boolean {
    return groupViable(this.s, group);
  }

  registeredDrivers(bus: Bus): string[] {
    return this.s.registeredDrivers(bus);
  }

  loadedModules(): string[] {
    return this.s.loadedModules();
  }

  /** Set when a write hit a kernel BUG (pre-5.19: a DMA driver bound into a held group); all hangs since. */
  get panicked(): string | null {
    return this.s.panicked;
  }

  /** Writes that are blocked right now. */
  blockedWrites(): WriteRecord[] {
    return this.pending.map((p) => p.record);
  }

  // ---------------------------------------------------------------------------------------------
  // SysfsPort

  read(path: string): string | null {
    const node = this.fs.lookup(path);
    if (node?.kind !== 'file' || node.content === null) return null;
    return node.content.endsWith('\n') ? node.content.slice(0, -1) : node.content;
  }

  readLink(path: string): string | null {
    const node = this.fs.lookup(path);
    return node?.kind === 'file' ? null : (node?.target ?? null);
  }

  list(path: string): string[] {
    const node = this.fs.lookup(path);
    return node?.kind === 'dir' ? [...node.entries].sort() : [];
  }

  write(path: string, value: string): Promise<void> {
    try {
      assertRootRelative(path);
    } catch (err) {
      return Promise.reject(err);
    }
    const record: WriteRecord = { path, value, result: 'pending' };
    this.writes.push(record);
    return new Promise<void>((resolve, reject) => {
      const settle = (outcome: Outcome): void => {
        if (isBlocked(outcome)) {
          this.pending.push({ record, until: outcome.until, resume: () => settle(outcome.then()) });
        } else if (outcome === 'ok') {
          record.result = 'ok';
          resolve();
        } else {
          record.result = outcome.errno;
          reject(new KernelWriteError(outcome.errno, path, value));
        }
      };
      settle(this.perform(path, value));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // ModulePort

  available(): string[] | null {
    return this.modulesKnown ? [...this.s.modules.keys()].sort() : null;
  }

  vfioAliases(): ModuleAlias[] | null {
    if (!this.modulesKnown) return null;
    return [...this.s.modules.values()].flatMap((m) => m.aliases.filter((a) => a.startsWith('vfio_pci:')).map((pattern) => ({ pattern, module: m.name })));
  }

  load(name: string): Promise<void> {
    const m = moduleNameOf(name);
    this.loads.push(m);
    if (this.s.panicked) return new Promise<void>(() => undefined);
    const failure = this.moduleFailures.get(m);
    if (failure !== undefined) return Promise.reject(new Error(failure));
    const module = this.s.modules.get(m);
    if (!module) return Promise.reject(new Error(`modprobe: FATAL: Module ${name} not found`));
    if (module.loaded) return Promise.resolve();
    module.loaded = true;
    for (const drv of this.s.drivers.values()) {
      if (drv.module === m) this.ops.register(drv, true);
    }
    this.s.changed();
    if (this.s.panicked) return new Promise<void>(() => undefined);
    return Promise.resolve();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: state changes

  private declareModule(name: string, builtin: boolean, loaded: boolean | undefined) {
    const existing = this.s.modules.get(name);
    const want = builtin || (loaded ?? true);
    if (existing) {
      if (loaded !== undefined && existing.loaded !== want) throw new Error(`module ${name} declared both loaded and not loaded`);
      return existing;
    }
    const module = { name, builtin, loaded: want, aliases: [] as string[] };
    this.s.modules.set(name, module);
    return module;
  }

  private addDevice(dev: KDevice, group: string | null | undefined, driver: string | null | undefined): void {
    dev.group = group === undefined ? this.s.freshGroup() : group;
    this.s.noteGroup(dev.group);
    this.s.devices.set(`${dev.bus}/${dev.name}`, dev);
    if (driver) this.bindAtBuild(dev, driver);
    this.s.changed();
  }

  private bindAtBuild(dev: KDevice, name: string): void {
    let drv = this.s.driver(dev.bus, name);
    if (!drv) {
      this.driver(dev.bus, name);
      drv = this.s.driver(dev.bus, name)!;
    }
    if (!drv.registered) throw new Error(`cannot bind ${dev.name} to ${name}: its module ${drv.module} is not loaded`);
    if (drv.vfio && dev.bus === 'pci' && dev.override !== name) {
      drv.dynamicIds.push({ vendor: dev.vendor, device: dev.device });
    } else if (drv.learns && !drv.vfio) {
      if (dev.bus === 'pci') drv.ids.push({ vendor: dev.vendor, device: dev.device });
      else if (dev.compatible?.length) drv.compatible.push(dev.compatible[0]!);
      else drv.names.push(platformBaseName(dev.name));
    }
    dev.driver = name;
  }

  private attachVf(vf: KDevice, pfName: string): void {
    const pf = this.s.device('pci', pfName);
    if (!pf?.sriov) throw new Error(`${vf.name}: physfn ${pfName} is not a declared SR-IOV PF`);
    vf.physfn = { pf: pfName, index: pf.virtfns.length };
    pf.virtfns.push(vf.name);
    pf.sriov.numVfs = pf.virtfns.length;
  }

  private resume(which: (p: Pending) => boolean): void {
    const due = this.pending.filter(which);
    for (const p of due) this.pending.splice(this.pending.indexOf(p), 1);
    for (const p of due) p.resume();
  }

  private find(name: string): KDevice | undefined {
    return this.s.device('pci', name) ?? this.s.device('platform', name);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: writes

  private perform(path: string, value: string): Outcome {
    if (this.s.panicked) return this.ops.hangForever();
    const target = this.fs.lookup(path);
    // open(2) fails before anything reaches the kernel's store().
    if (!target) return { errno: 'ENOENT' };
    if (target.kind !== 'file' || !target.store) return { errno: target.kind === 'dir' ? 'EISDIR' : 'EACCES' };
    if (value.length === 0) return 'ok'; // a 0-byte write never reaches store()
    const injected = this.faults.take(path, value);
    if (injected === 'hang') return { until: 'release', then: () => target.store!(value) };
    if (injected !== undefined) return { errno: injected };
    return target.store(value);
  }

  /** The raw state, for writeSysfsTree; tests read through dev() and friends instead. */
  get state(): KernelState {
    return this.s;
  }
}

