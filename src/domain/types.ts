// The domain vocabulary of vfio-reconcile. Everything here is plain data: no functions, no ports,
// so that hosts, desired states and plans can be compared, snapshotted and printed as JSON.
// Values are parsed and canonicalised at the boundary (observe, desire); code inside trusts them.

/** Buses whose devices the tool can rebind; both have `driver_override`. */
export type Bus = 'pci' | 'platform';
export const BUSES: readonly Bus[] = ['pci', 'platform'];

/**
 * A device's identity across the whole tool: `${bus}/${name}`, e.g. `pci/0000:01:00.0` or
 * `platform/12ce0000.i2c`. A slash never occurs in a kernel device name, so the key is unambiguous.
 */
export type DeviceKey = string;

export interface SriovState {
  totalVfs: number;
  numVfs: number;
  /** `sriov_drivers_autoprobe`: whether VFs created from now on probe drivers by themselves. */
  driversAutoprobe: boolean;
  /**
   * `sriov_offset` and `sriov_stride`: routing-ID distance of VF 0 from the PF and between VFs, so
   * the addresses of VFs that do not exist yet can be predicted. Absent when unreadable (pre-4.13).
   */
  offset?: number;
  stride?: number;
  /** `sriov_vf_device`: the device id the VFs will have. */
  vfDevice?: string;
}

/** What observe saw of one device. Hex ids are lowercase without `0x` (`10de`, `030000`). */
export interface Device {
  key: DeviceKey;
  bus: Bus;
  /** Kernel device name: canonical lowercase PCI address `0000:01:00.0`, or a platform name. */
  name: string;
  vendor?: string;
  device?: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  /** PCI class code, 6 hex digits (`030000`). */
  class?: string;
  modalias?: string;
  /** Devicetree `compatible` strings, most specific first (platform devices). */
  compatible?: string[];
  /** Currently bound driver, or null when unbound. */
  driver: string | null;
  /** `driver_override`, or null when unset (the kernel shows `(null)` or an empty line). */
  override: string | null;
  /** IOMMU group number as a string, or null without an IOMMU. */
  iommuGroup: string | null;
  numaNode?: number;
  /** True for the boot VGA device (`boot_vga` reads 1). */
  bootVga?: boolean;
  /** PCI bridges (class 0604) and devices on `pcieport`: never rebound by the tool. */
  isBridge: boolean;
  sriov?: SriovState;
  /** For a VF: key of its PF. */
  physfn?: DeviceKey;
  /** For a PF: keys of its VFs, ordered by VF index (virtfn0, virtfn1, ...). */
  virtfns?: DeviceKey[];
  /**
   * Set on a VF that does not exist yet: a `set-numvfs` of this plan creates it at this address,
   * predicted from its PF's sriov_offset/stride (plan/sriov.ts). Never set by observe.
   */
  predicted?: { index: number };
}

export interface ModuleInfo {
  /** False where no module list could be read: the planner then cannot check that a module exists. */
  known: boolean;
  /** Loadable module names, normalised with underscores (`vfio_pci`). */
  available: string[];
  /** Modules loaded now (`/sys/module`), normalised with underscores. */
  loaded: string[];
  /**
   * The `alias vfio_pci:...` lines of modules.alias (VFIO variant drivers and vfio-pci itself), for
   * `driver: vfio`. Absent when no modules.alias was read.
   */
  vfioAliases?: ModuleAlias[];
}

/** One modules.alias line: a glob on a modalias, and the module it loads. */
export interface ModuleAlias {
  pattern: string;
  module: string;
}

/** One type a mediated-device parent offers (`mdev_supported_types/<id>`). */
export interface MdevType {
  /** `<parent driver>-<type>`: `i915-GVTg_V5_4`, `nvidia-63`, `mtty-2`. */
  id: string;
  /** `name`: a readable name, when the parent gives one. */
  name?: string;
  availableInstances: number;
  /** `device_api`: `vfio-pci`, `vfio-ccw`, ... */
  deviceApi?: string;
  description?: string;
}

/** A device that can create mediated devices: an entry of /sys/class/mdev_bus. */
export interface MdevParent {
  /** Its kernel device name: a PCI address, or a virtual device's name (`mtty`, `matrix`). */
  name: string;
  /** The pci or platform device it is, if any (a parent can be a virtual or css device). */
  device?: DeviceKey;
  types: MdevType[];
}

/** A mediated device that exists: /sys/bus/mdev/devices/<uuid>. */
export interface Mdev {
  uuid: string;
  /** Parent name, as in MdevParent. */
  parent: string;
  type: string;
  driver: string | null;
  iommuGroup: string | null;
}

/** The binding-relevant view of a host, as observe builds it from sysfs. */
export interface Host {
  hostname?: string;
  kernelRelease?: string;
  /** Sorted by key. */
  devices: Device[];
  /** Registered drivers per bus, sorted. */
  drivers: Record<Bus, string[]>;
  /** IOMMU group -> member device keys, sorted. */
  groups: Record<string, DeviceKey[]>;
  modules: ModuleInfo;
  /**
   * What holds each device right now (mounts, swap, interfaces, open VFIO groups; observe/usage.ts),
   * by device key; devices holding nothing are absent. Absent as a whole when nobody looked (a bare
   * sysfs tree): the planner then enforces only what the devices themselves show (boot VGA).
   */
  usage?: Record<DeviceKey, UsageFact[]>;
  /** Mediated-device parents and mdevs; absent when the host has neither (no mdev support loaded). */
  mdevs?: { parents: MdevParent[]; devices: Mdev[] };
}

/** Kinds of use that make unbinding a device unsafe (design.md "Safety by default"). */
export type UsageKind = 'mount' | 'swap' | 'holder' | 'netif' | 'boot-vga' | 'fbcon' | 'vfio-open';

/** One reason a device is in use, as the host showed it. */
export interface UsageFact {
  kind: UsageKind;
  /**
   * What holds it, written to follow "in use: ": `/dev/vda → vda1 mounted on /`,
   * `interface eth0 up with 192.0.2.2/24, carrying the default route`, `/dev/vfio/12 open by pid 4242 (qemu ...)`.
   */
  detail: string;
}

// ---------------------------------------------------------------------------------------------
// Desired state

/** Where in a state file something was written; line and col are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** What a rule asks for a device. `default` clears the override and lets the kernel choose. */
export type Target =
  | {
      kind: 'driver';
      driver: string;
      /** Set when `driver: vfio` chose this driver for the device: which, and why (plan/variant.ts). */
      chosen?: string;
    }
  | { kind: 'default' }
  | { kind: 'none' };

/**
 * A target as a rule writes it: a Target, or `vfio`, the most specific VFIO driver for each device
 * (a variant driver from modules.alias, else vfio-pci), which resolve() turns into a Target.
 */
export type RuleTarget = Target | { kind: 'vfio' };

/** A rule's match block, as written (globs and prefixes not yet applied). Every key given must match. */
export interface Selector {
  address?: string;
  vendor?: string;
  device?: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  class?: string;
  iommuGroup?: string;
  /** Selects the VFs of the PF at this address. */
  pf?: string;
  bus?: Bus;
  /** Device-name glob, any bus. */
  name?: string;
  /** Devicetree compatible string (platform bus). */
  compatible?: string;
  /** VF index ranges (`0-3`, `0,2,4-7`): selects VFs by their position under their PF. */
  vf?: string;
}

export interface VfSpec {
  count: number;
  target: RuleTarget;
}

export interface Rule {
  /** 0-based position in `devices:`. */
  index: number;
  name?: string;
  match: Selector;
  count?: number;
  target: RuleTarget;
  vfs?: VfSpec;
  force: boolean;
  /** Where the rule starts. */
  pos: SourcePos;
}

export interface MdevSpec {
  index: number;
  parent: Selector;
  type: string;
  /** Lowercase. */
  uuid: string;
  /** Written to the new mdev's attributes in this order right after it is created (as mdevctl does). */
  attrs?: MdevAttr[];
  pos: SourcePos;
}

export interface MdevAttr {
  name: string;
  value: string;
}

export type GroupPolicy = 'strict' | 'include';

/**
 * Which machines a state file is for. Every criterion given must hold (AND); within one, any entry
 * may match (OR). A file with none applies everywhere.
 */
export interface HostCriteria {
  /** Hostname globs, case-insensitive. */
  hosts?: string[];
  /** DMI product-name glob (`/sys/class/dmi/id/product_name`), case-insensitive. */
  dmi?: { product: string };
  /** `/etc/machine-id` values, lowercase. */
  machineIds?: string[];
}

/** What a host is called, for matching a state file's HostCriteria. Absent facts never match. */
export interface HostIdentity {
  hostname: string;
  dmiProduct?: string;
  machineId?: string;
}

/** A parsed, schema-valid state file. */
export interface StateFile extends HostCriteria {
  path: string;
  version: 1;
  rules: Rule[];
  mdevs: MdevSpec[];
  options: { iommuGroups: GroupPolicy };
}

/** One device's wanted binding after selectors were resolved against a host. */
export interface DesiredBinding {
  device: DeviceKey;
  target: Target;
  /** The rule that asked for it. */
  rule: Rule;
  force: boolean;
}

export interface Desired {
  state: StateFile;
  /** Sorted by device key; at most one per device. */
  bindings: DesiredBinding[];
  /** VF count wanted per PF, from `vfs:` blocks. */
  vfs: { pf: DeviceKey; count: number; target: Target; rule: Rule }[];
  /**
   * VFs the plan creates, at addresses predicted from their PF's sriov_offset/stride (resolve() matched
   * the rules against them too). Absent or empty when no `vfs:` count changes.
   */
  created?: Device[];
  /** Wanted mediated devices, their parents resolved. */
  mdevs?: DesiredMdev[];
  /** What resolve noticed without failing: rules matching nothing, bridges skipped. */
  warnings?: Notice[];
}

export interface DesiredMdev {
  uuid: string;
  /** Parent name (MdevParent.name). */
  parent: string;
  type: string;
  attrs: MdevAttr[];
  spec: MdevSpec;
}

// ---------------------------------------------------------------------------------------------
// Plan

/** Why a device is in the plan. */
export type ChangeReason =
  | 'spec' // a rule asks for something the host does not have
  | 'drift' // the host moved away from what the last apply set
  | 'prune' // an earlier apply changed it and no rule covers it any more: back to default
  | 'group'; // brought along by `iommuGroups: include`

export interface BindingState {
  driver: string | null;
  override: string | null;
}

export interface Change {
  device: DeviceKey;
  before: BindingState;
  /** `after.driver` is undefined when the kernel chooses (target `default`). */
  after: { driver: string | null | undefined; override: string | null };
  target: Target;
  reason: ChangeReason;
  /** The rule behind the change (absent for prune). */
  rule?: { index: number; name?: string; line: number };
  group: string | null;
  /** True when a safety guard was overridden for this device. */
  forced: boolean;
  /** The device does not exist yet: VF `index` of `pf`, created by this plan's set-numvfs. */
  created?: { pf: DeviceKey; index: number };
}

/** A mediated device the plan creates, removes, or removes and creates again elsewhere. */
export interface MdevChange {
  uuid: string;
  /** Where it is now (null: it does not exist). */
  before: { parent: string; type: string } | null;
  /** Where it will be (null: removed). */
  after: { parent: string; type: string; attrs: MdevAttr[] } | null;
  /** `spec`: an mdevs: entry asks for it; `prune`: an earlier apply created it and no entry does now. */
  reason: 'spec' | 'prune';
  /** The mdevs: entry behind it. */
  spec?: { index: number; line: number };
  forced: boolean;
}

/** Step kinds, in the order the planner emits them within an IOMMU group. */
export type StepKind =
  | 'load-module'
  | 'set-autoprobe'
  | 'set-numvfs'
  | 'set-override'
  | 'unbind'
  | 'probe'
  | 'bind'
  | 'verify'
  | 'remove-mdev'
  | 'create-mdev'
  | 'set-mdev-attr';

interface StepBase {
  /**
   * IOMMU group the step belongs to (null: none, host-wide like a module load, or not known yet: a VF
   * or mdev this plan creates).
   */
  group: string | null;
}

export type Step =
  | (StepBase & { kind: 'load-module'; module: string; driver: string; bus: Bus })
  /** `sriov_drivers_autoprobe` of a PF: off while VFs meant for other drivers are created. */
  | (StepBase & { kind: 'set-autoprobe'; device: DeviceKey; from: boolean; to: boolean })
  | (StepBase & {
      kind: 'set-numvfs';
      device: DeviceKey;
      from: number;
      to: number;
      /** The VFs the write must create, in index order (predicted addresses); apply checks they did. */
      vfs?: DeviceKey[];
    })
  | (StepBase & { kind: 'set-override'; device: DeviceKey; from: string | null; to: string | null })
  | (StepBase & { kind: 'unbind'; device: DeviceKey; driver: string })
  | (StepBase & { kind: 'probe'; device: DeviceKey })
  | (StepBase & { kind: 'bind'; device: DeviceKey; driver: string })
  | (StepBase & {
      kind: 'verify';
      device: DeviceKey;
      /** undefined: any driver or none (the kernel's choice); null: must be unbound. */
      driver: string | null | undefined;
      override: string | null;
    })
  /** Write 1 to /sys/bus/mdev/devices/<uuid>/remove. */
  | (StepBase & { kind: 'remove-mdev'; uuid: string; parent: string; type: string })
  /** Write the uuid to <parent>/mdev_supported_types/<type>/create. */
  | (StepBase & { kind: 'create-mdev'; uuid: string; parent: string; type: string })
  /** Write an attribute of a just-created mdev. */
  | (StepBase & { kind: 'set-mdev-attr'; uuid: string; attr: string; value: string });

export interface Notice {
  message: string;
  device?: DeviceKey;
  rule?: { index: number; name?: string; line: number };
}

/** Something that stops the plan from being applied, with what would fix it. */
export interface Blocked extends Notice {
  /** Stable machine-readable reason, e.g. `group-split`, `bridge`, `in-use`, `unknown-driver`. */
  code: string;
  fix?: string;
}

export interface Plan {
  /** Fingerprint of the host the plan was computed against (see domain/fingerprint.ts). */
  fingerprint: string;
  changes: Change[];
  steps: Step[];
  warnings: Notice[];
  blocked: Blocked[];
  /** False when anything is blocked: apply refuses such a plan. */
  applyable: boolean;
  /** Mediated devices the plan creates or removes; absent when none. */
  mdevs?: MdevChange[];
}

export interface PlanOptions {
  /**
   * Devices that an earlier apply changed (from the state dir), for prune and drift; mdevs it created
   * are among them as `mdev/<uuid>` (names.ts mdevKey).
   */
  managed?: DeviceKey[];
  /**
   * What the last apply set each managed device to (the state dir's managed set). A managed device
   * whose rule now asks for something else is `spec` (the file changed), not `drift`; without it,
   * every change to a managed device is `drift`.
   */
  applied?: Record<DeviceKey, Target>;
  /** Override the in-use guards for every rule (`--force`). */
  force?: boolean;
}
