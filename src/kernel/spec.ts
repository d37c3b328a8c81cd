// The kernel model's builder vocabulary and the shapes its test-facing reads return.

import type { Bus } from '../domain/types.js';
import type { PciIdEntry } from './state.js';

export interface ModelOptions {
  /** Kernel version the semantics follow: `6.12` (default), `6.1`, `5.10`, or a full release. */
  kernel?: string;
  /** False: the model has no module list, so `available()` returns null (a bare sysfs root). */
  modulesKnown?: boolean;
}

export interface DriverSpec {
  /**
   * Module that registers it; defaults to the driver name with `_` for `-`. null: no module is
   * known (it is neither listed nor loadable), as for drivers seen on an observed host.
   */
  module?: string | null;
  /** Built into the kernel: always loaded. */
  builtin?: boolean;
  /** Whether its module is loaded (registered under bus/<bus>/drivers) now; default true. */
  loaded?: boolean;
  /** PCI ID table, `[vendor, device]` pairs or entries. Omitted: learnt from devices the builder binds to it. */
  ids?: Array<[string, string] | PciIdEntry>;
  /** Platform: devicetree compatibles and device base names it matches. */
  compatible?: string[];
  names?: string[];
  /** Supports `sriov_numvfs` on PFs bound to it. */
  sriov?: boolean;
  /** A VFIO driver (binds only through driver_override); defaults from the name. */
  vfio?: boolean;
  /** modules.alias patterns of its module (`vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*` for a variant driver). */
  aliases?: string[];
}

export interface MdevTypeSpec {
  /** The full type id: `<parent driver>-<type>` (`i915-GVTg_V5_4`, `mtty-2`). */
  id: string;
  name?: string;
  /** Default `vfio-pci`. */
  deviceApi?: string;
  description?: string;
  /** Instances of this type (without a parent pool); default 1. */
  instances?: number;
  /** Pool units one instance takes when the parent has a pool; default 1. */
  cost?: number;
}

export interface MdevParentSpec {
  types: MdevTypeSpec[];
  /** The mdev driver created mdevs bind to; default `vfio_mdev`. */
  mdevDriver?: string;
  /** Capacity shared by all types (mtty: 24 ports, a dual-port instance takes 2). */
  pool?: number;
  /** Writable vendor attributes of its mdevs. */
  attrs?: string[];
}

/** One mdev, for assertions. */
export interface MdevState {
  uuid: string;
  parent: string;
  type: string;
  driver: string | null;
  group: string;
  attrs: Record<string, string>;
}

export interface PciSpec {
  vendor: string;
  device: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  class?: string;
  revision?: string;
  modalias?: string;
  /** IOMMU group; null: no IOMMU. Default: a fresh group of its own. */
  group?: string | null;
  /** Bound driver (the builder never probes: an omitted driver means unbound). */
  driver?: string | null;
  override?: string | null;
  bootVga?: boolean;
  numa?: number;
  /** The upstream bridge the device's sysfs directory nests under. */
  parent?: string;
  sriov?: {
    totalVfs: number;
    /** Device id of the VFs; default the PF's. */
    vfDevice?: string;
    autoprobe?: boolean;
    offset?: number;
    stride?: number;
    vfGroups?: 'own' | 'pf';
    /** VFs that exist already (created unbound). */
    numVfs?: number;
  };
  /** Add this device as the next VF of that PF (which must declare `sriov`). */
  physfn?: string;
}

export interface PlatformSpec {
  compatible?: string[];
  driver?: string | null;
  override?: string | null;
  group?: string | null;
  modalias?: string;
}

/** The binding-relevant state of one device, for assertions. */
export interface DeviceState {
  bus: Bus;
  name: string;
  driver: string | null;
  override: string | null;
  group: string | null;
  numVfs?: number;
  autoprobe?: boolean;
  virtfns: string[];
  physfn?: string;
}

export interface WriteRecord {
  path: string;
  value: string;
  /** `ok`, the errno name, or `pending` while the write blocks. */
  result: string;
}
