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
}

export interface ModuleInfo {
  /** False where no module list could be read: the planner then cannot check that a module exists. */
  known: boolean;
  /** Loadable module names, normalised with underscores (`vfio_pci`). */
  available: string[];
  /** Modules loaded now (`/sys/module`), normalised with underscores. */
  loaded: string[];
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
  | { kind: 'driver'; driver: string }
  | { kind: 'default' }
  | { kind: 'none' };

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
}

export interface VfSpec {
  count: number;
  target: Target;
}

export interface Rule {
  /** 0-based position in `devices:`. */
  index: number;
  name?: string;
  match: Selector;
  count?: number;
  target: Target;
  vfs?: VfSpec;
  force: boolean;
  /** Where the rule starts. */
  pos: SourcePos;
}

export interface MdevSpec {
  index: number;
  parent: Selector;
  type: string;
  uuid: string;
  pos: SourcePos;
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
  /** What resolve noticed without failing: rules matching nothing, bridges skipped. */
  warnings?: Notice[];
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
}

/** Step kinds, in the order the planner emits them within an IOMMU group. */
export type StepKind =
  | 'load-module'
  | 'set-numvfs'
  | 'set-override'
  | 'unbind'
  | 'probe'
  | 'bind'
  | 'verify';

interface StepBase {
  /** IOMMU group the step belongs to (null: none, or host-wide like a module load). */
  group: string | null;
}

export type Step =
  | (StepBase & { kind: 'load-module'; module: string; driver: string; bus: Bus })
  | (StepBase & { kind: 'set-numvfs'; device: DeviceKey; from: number; to: number })
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
    });

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
}

export interface PlanOptions {
  /** Devices that an earlier apply changed (from the state dir), for prune and drift. */
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
