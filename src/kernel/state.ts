// The kernel model's plain state: drivers, modules, devices and IOMMU groups, plus the version
// switches that change binding behaviour. Semantics live in match.ts (who may bind what) and
// model.ts (what each write does); sysfs rendering lives in view.ts.

import type { Bus } from '../domain/types.js';

/** `major.minor` of the emulated kernel; behaviour changes at 5.14, 5.15, 5.19 and 6.1. */
export class KernelVersion {
  readonly major: number;
  readonly minor: number;
  readonly text: string;

  constructor(text: string) {
    const m = /^(\d+)\.(\d+)/.exec(text);
    if (!m) throw new Error(`kernel version must look like 6.12 or 6.12.117-amd64, got ${JSON.stringify(text)}`);
    this.text = text;
    this.major = Number(m[1]);
    this.minor = Number(m[2]);
  }

  atLeast(major: number, minor: number): boolean {
    return this.major > major || (this.major === major && this.minor >= minor);
  }
}

/**
 * One entry of a PCI driver's ID table. Omitted fields match anything; `class` is a prefix of the
 * 6-digit class code (`0c03` matches every USB controller).
 */
export interface PciIdEntry {
  vendor?: string;
  device?: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  class?: string;
}

export interface KDriver {
  bus: Bus;
  name: string;
  /** Module that registers the driver, underscored; '' when unknown. */
  module: string;
  /** PCI ID table. */
  ids: PciIdEntry[];
  /**
   * Dynamic IDs (new_id, vfio-pci `ids=`). The model has no new_id; the builder adds one when it
   * binds a device to a vfio driver without an override, since that is how such a binding happens.
   */
  dynamicIds: PciIdEntry[];
  /** Platform: devicetree compatible strings and device base names the driver matches. */
  compatible: string[];
  names: string[];
  /** Has `sriov_configure`: `sriov_numvfs` works on PFs bound to it. */
  sriov: boolean;
  /** A VFIO driver: binds through driver_override only and creates /dev/vfio/N. */
  vfio: boolean;
  /** Registered under bus/<bus>/drivers (its module is loaded). */
  registered: boolean;
  /** Declared without a match table: the builder adds each device it binds to the driver's table. */
  learns: boolean;
}

export interface KModule {
  name: string;
  builtin: boolean;
  loaded: boolean;
  /** Its modules.alias patterns (`vfio_pci:v000015B3d0000101E...`). */
  aliases: string[];
}

/** One type of an mdev parent. */
export interface KMdevType {
  id: string;
  name?: string;
  deviceApi: string;
  description?: string;
  /** Instances of this type alone; unused when the parent has a shared pool. */
  instances: number;
  /** Pool units one instance takes (mtty: its number of ports). */
  cost: number;
}

/**
 * A device that creates mediated devices: a pci/platform device while it is bound to the driver
 * that registered it as a parent, or a virtual device (mtty) that always is one.
 */
export interface KMdevParent {
  name: string;
  dev: KDevice | null;
  /** The driver `dev` must be bound to for the parent to be registered. */
  driver: string | null;
  /** The mdev driver new mdevs bind to. */
  mdevDriver: string;
  types: KMdevType[];
  /** Shared capacity across types (mtty's 24 ports); types draw `cost` from it. */
  pool?: number;
  /** Writable vendor attributes every mdev of this parent has. */
  attrs: string[];
}

export interface KMdev {
  uuid: string;
  parent: KMdevParent;
  type: string;
  group: string;
  driver: string | null;
  attrs: Map<string, string>;
}

export interface KSriov {
  totalVfs: number;
  numVfs: number;
  autoprobe: boolean;
  vfDevice: string;
  /** Routing-ID distance of VF 0 from the PF and between VFs (`sriov_offset`, `sriov_stride`). */
  offset: number;
  stride: number;
  /** Where new VFs go: a fresh IOMMU group each (ACS), or the PF's group. */
  vfGroups: 'own' | 'pf';
}

export interface KDevice {
  bus: Bus;
  name: string;
  vendor?: string;
  device?: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  class?: string;
  revision?: string;
  /** Set when given explicitly; otherwise view.ts derives it from the ids. */
  modalias?: string;
  compatible?: string[];
  driver: string | null;
  /** `driver_override`: null when unset; "" is the 5.19-6.0 NUL-write value that matches nothing. */
  override: string | null;
  group: string | null;
  numa: number;
  bootVga: boolean;
  /** PCI: the upstream bridge this device's sysfs directory nests under. */
  parent: string | null;
  sriov?: KSriov;
  /** VF: its PF's name and index. */
  physfn?: { pf: string; index: number };
  /** PF: its VFs' names by index. */
  virtfns: string[];
}

export function isBridgeClass(cls: string | undefined): boolean {
  return cls !== undefined && cls.startsWith('0604');
}

/** Who holds a /dev/vfio/N open (for the in-use guards). */
export interface VfioHolder {
  pid: number;
  command: string;
}

export class KernelState {
  readonly version: KernelVersion;
  /** Keyed `${bus}/${name}`, in the order devices were added (the bus's device list order). */
  readonly devices = new Map<string, KDevice>();
  /** Keyed `${bus}/${name}`, in declaration order. */
  readonly drivers = new Map<string, KDriver>();
  /** Registered drivers in registration order: the order the bus tries them in. */
  readonly registered: KDriver[] = [];
  readonly modules = new Map<string, KModule>();
  readonly held = new Map<string, VfioHolder>();
  readonly mdevParents = new Map<string, KMdevParent>();
  /** By uuid, in creation order. */
  readonly mdevs = new Map<string, KMdev>();
  readonly probeFailures = new Map<string, string>();
  readonly autoprobe: Record<Bus, boolean> = { pci: true, platform: true };
  /** Set when a write hit a kernel BUG; from then on everything hangs. */
  panicked: string | null = null;
  /** Bumped on every change, so rendered views can be cached. */
  generation = 0;
  private lastGroup = -1;

  constructor(version: KernelVersion) {
    this.version = version;
  }

  device(bus: Bus, name: string): KDevice | undefined {
    return this.devices.get(`${bus}/${name}`);
  }

  driver(bus: Bus, name: string): KDriver | undefined {
    return this.drivers.get(`${bus}/${name}`);
  }

  registeredDriver(bus: Bus, name: string): KDriver | undefined {
    const d = this.driver(bus, name);
    return d?.registered ? d : undefined;
  }

  registeredDrivers(bus: Bus): string[] {
    return this.registered.filter((d) => d.bus === bus).map((d) => d.name).sort();
  }

  loadedModules(): string[] {
    return [...this.modules.values()].filter((m) => m.loaded).map((m) => m.name).sort();
  }

  members(group: string): KDevice[] {
    return [...this.devices.values()].filter((d) => d.group === group);
  }

  /** Remember a group number so fresh groups (new VFs) never reuse one. */
  noteGroup(group: string | null): void {
    if (group !== null && /^\d+$/.test(group)) this.lastGroup = Math.max(this.lastGroup, Number(group));
  }

  freshGroup(): string {
    this.lastGroup += 1;
    return String(this.lastGroup);
  }

  /** Whether the parent is registered now: a device parent only while on its driver. */
  mdevParentActive(p: KMdevParent): boolean {
    return p.dev === null || (this.devices.get(`${p.dev.bus}/${p.dev.name}`) === p.dev && p.dev.driver === p.driver);
  }

  activeMdevParents(): KMdevParent[] {
    return [...this.mdevParents.values()].filter((p) => this.mdevParentActive(p)).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** `available_instances` of a type, as the parent driver computes it. */
  mdevAvailable(p: KMdevParent, type: KMdevType): number {
    const mine = [...this.mdevs.values()].filter((m) => m.parent === p);
    if (p.pool !== undefined) {
      const used = mine.reduce((sum, m) => sum + (p.types.find((t) => t.id === m.type)?.cost ?? 1), 0);
      return Math.max(0, Math.floor((p.pool - used) / type.cost));
    }
    return Math.max(0, type.instances - mine.filter((m) => m.type === type.id).length);
  }

  /** The errno a probe of `driver` on `device` fails with, as set by `failProbe`. */
  probeFailure(driver: string, device: string): string | undefined {
    return this.probeFailures.get(`${driver}\0${device}`);
  }

  changed(): void {
    this.generation += 1;
  }
}
