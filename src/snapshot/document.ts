// A host snapshot as a file: a separately typed, versioned shape (schemas/snapshot.schema.json),
// in the manner of the plan document, so the internal Host can change without breaking the
// snapshots a fleet keeps in git. `toSnapshotDocument` and `capturedFromDocument` are inverses:
// a Host survives the round trip deep-equal, which is what makes an offline plan the live one.

import { targetText } from '../desire/resolve.js';
import { deviceKey } from '../domain/names.js';
import type { Bus, Device, DeviceKey, Host, Mdev, MdevParent, ModuleAlias, Target, UsageFact } from '../domain/types.js';

export const SNAPSHOT_KIND = 'vfio-reconcile-snapshot';
export const SNAPSHOT_FORMAT_VERSION = '1.0';

/** Where a device's default driver comes from (see defaults.ts). */
export type DefaultSource = 'bound' | 'modules.alias' | 'unknown';

/** The driver the kernel binds when nothing overrides it: what a `default` target leads to. */
export interface DefaultDriver {
  driver: string | null;
  module: string | null;
  source: DefaultSource;
  /** Every module whose alias matches the device's modalias, in modules.alias order. */
  candidates: string[];
}

/** MAC addresses and serial number: identifiers, in a snapshot only when asked for. */
export interface DeviceIdentifiers {
  macs: { interface: string; address: string }[];
  serial: string | null;
}

/** Everything a snapshot knows about a host, in memory. */
export interface CapturedHost {
  host: Host;
  defaults: Record<DeviceKey, DefaultDriver>;
  dmiProduct?: string;
  machineId?: string;
  /**
   * The state dir's managed set: each device an earlier apply changed, with what it set it to
   * (the planner's PlanOptions.managed and .applied), for prune and drift.
   */
  applied: Record<DeviceKey, Target>;
  /** Present only with --include-ids. */
  identifiers?: Record<DeviceKey, DeviceIdentifiers>;
}

export interface SnapDevice {
  bus: Bus;
  address: string;
  vendor: string | null;
  device: string | null;
  subsystem_vendor: string | null;
  subsystem_device: string | null;
  class: string | null;
  modalias: string | null;
  compatible: string[] | null;
  driver: string | null;
  override: string | null;
  iommu_group: string | null;
  numa_node: number | null;
  boot_vga: boolean;
  sriov: {
    total_vfs: number;
    num_vfs: number;
    drivers_autoprobe: boolean;
    offset: number | null;
    stride: number | null;
    vf_device: string | null;
  } | null;
  physfn: string | null;
  virtfns: string[];
  default_driver: DefaultDriver;
  in_use: UsageFact[];
  identifiers?: DeviceIdentifiers;
}

export interface SnapshotDocument {
  kind: typeof SNAPSHOT_KIND;
  format_version: string;
  created: string;
  tool: string;
  host: { hostname: string | null; kernel: string | null; dmi_product: string | null; machine_id: string | null };
  usage_known: boolean;
  devices: SnapDevice[];
  drivers: Record<Bus, string[]>;
  iommu_groups: Record<string, DeviceKey[]>;
  /** `vfio_aliases`: the `vfio_pci:` lines of modules.alias (`driver: vfio`), null when none was read. */
  modules: { known: boolean; available: string[]; loaded: string[]; vfio_aliases: ModuleAlias[] | null };
  /** Managed device -> what the last apply set it to: a driver name, `default` or `none`. */
  managed: Record<DeviceKey, string>;
  /** Mediated-device parents and mdevs; null when the host has neither. */
  mdevs: { parents: SnapMdevParent[]; devices: SnapMdev[] } | null;
}

export interface SnapMdevParent {
  name: string;
  device: DeviceKey | null;
  types: { id: string; name: string | null; available_instances: number; device_api: string | null; description: string | null }[];
}

export interface SnapMdev {
  uuid: string;
  parent: string;
  type: string;
  driver: string | null;
  iommu_group: string | null;
}

const UNKNOWN: DefaultDriver = { driver: null, module: null, source: 'unknown', candidates: [] };
const addressOf = (key: DeviceKey | undefined): string | null => (key === undefined ? null : key.slice(key.indexOf('/') + 1));

export function toSnapshotDocument(c: CapturedHost, meta: { created: Date; tool: string }): SnapshotDocument {
  const { host } = c;
  return {
    kind: SNAPSHOT_KIND,
    format_version: SNAPSHOT_FORMAT_VERSION,
    created: meta.created.toISOString(),
    tool: meta.tool,
    host: { hostname: host.hostname ?? null, kernel: host.kernelRelease ?? null, dmi_product: c.dmiProduct ?? null, machine_id: c.machineId ?? null },
    usage_known: host.usage !== undefined,
    devices: host.devices.map((d): SnapDevice => {
      const out: SnapDevice = {
        bus: d.bus,
        address: d.name,
        vendor: d.vendor ?? null,
        device: d.device ?? null,
        subsystem_vendor: d.subsystemVendor ?? null,
        subsystem_device: d.subsystemDevice ?? null,
        class: d.class ?? null,
        modalias: d.modalias ?? null,
        compatible: d.compatible ?? null,
        driver: d.driver,
        override: d.override,
        iommu_group: d.iommuGroup,
        numa_node: d.numaNode ?? null,
        boot_vga: d.bootVga === true,
        sriov: d.sriov
          ? {
              total_vfs: d.sriov.totalVfs,
              num_vfs: d.sriov.numVfs,
              drivers_autoprobe: d.sriov.driversAutoprobe,
              offset: d.sriov.offset ?? null,
              stride: d.sriov.stride ?? null,
              vf_device: d.sriov.vfDevice ?? null,
            }
          : null,
        physfn: addressOf(d.physfn),
        virtfns: (d.virtfns ?? []).map((k) => addressOf(k)!),
        default_driver: c.defaults[d.key] ?? UNKNOWN,
        in_use: host.usage?.[d.key] ?? [],
      };
      const ids = c.identifiers?.[d.key];
      if (ids) out.identifiers = ids;
      return out;
    }),
    drivers: host.drivers,
    iommu_groups: host.groups,
    modules: { known: host.modules.known, available: host.modules.available, loaded: host.modules.loaded, vfio_aliases: host.modules.vfioAliases ?? null },
    managed: appliedToText(c.applied),
    mdevs: host.mdevs ? { parents: host.mdevs.parents.map(snapParent), devices: host.mdevs.devices.map(snapMdev) } : null,
  };
}

function snapParent(p: MdevParent): SnapMdevParent {
  return {
    name: p.name,
    device: p.device ?? null,
    types: p.types.map((t) => ({ id: t.id, name: t.name ?? null, available_instances: t.availableInstances, device_api: t.deviceApi ?? null, description: t.description ?? null })),
  };
}

const snapMdev = (m: Mdev): SnapMdev => ({ uuid: m.uuid, parent: m.parent, type: m.type, driver: m.driver, iommu_group: m.iommuGroup });

function mdevParent(p: SnapMdevParent): MdevParent {
  const types = p.types.map((t) => ({
    id: t.id,
    ...(t.name !== null ? { name: t.name } : {}),
    availableInstances: t.available_instances,
    ...(t.device_api !== null ? { deviceApi: t.device_api } : {}),
    ...(t.description !== null ? { description: t.description } : {}),
  }));
  return p.device === null ? { name: p.name, types } : { name: p.name, device: p.device, types };
}

/** The managed set in files: device -> `vfio-pci`, `default` or `none`. */
export function appliedToText(applied: Record<DeviceKey, Target>): Record<DeviceKey, string> {
  return Object.fromEntries(Object.entries(applied).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, t]) => [key, targetText(t)]));
}

export function appliedFromText(managed: Record<DeviceKey, string>): Record<DeviceKey, Target> {
  const target = (text: string): Target => (text === 'default' || text === 'none' ? { kind: text } : { kind: 'driver', driver: text });
  return Object.fromEntries(Object.entries(managed).map(([key, text]) => [key, target(text)]));
}

/**
 * The inverse of toSnapshotDocument, for a document that passed the schema. Derived facts (bridge
 * or not, the group map) are rebuilt here exactly as observe derives them, never taken on trust.
 */
export function capturedFromDocument(doc: SnapshotDocument): CapturedHost {
  const usage: Record<DeviceKey, UsageFact[]> = {};
  const defaults: Record<DeviceKey, DefaultDriver> = {};
  const identifiers: Record<DeviceKey, DeviceIdentifiers> = {};
  const devices = doc.devices.map((s): Device => {
    const d: Device = {
      key: deviceKey(s.bus, s.address),
      bus: s.bus,
      name: s.address,
      driver: s.driver,
      override: s.override,
      iommuGroup: s.iommu_group,
      isBridge: s.bus === 'pci' && ((s.class ?? '').startsWith('0604') || s.driver === 'pcieport'),
    };
    if (s.vendor !== null) d.vendor = s.vendor;
    if (s.device !== null) d.device = s.device;
    if (s.subsystem_vendor !== null) d.subsystemVendor = s.subsystem_vendor;
    if (s.subsystem_device !== null) d.subsystemDevice = s.subsystem_device;
    if (s.class !== null) d.class = s.class;
    if (s.modalias !== null) d.modalias = s.modalias;
    if (s.compatible !== null) d.compatible = s.compatible;
    if (s.numa_node !== null) d.numaNode = s.numa_node;
    if (s.boot_vga) d.bootVga = true;
    if (s.sriov) {
      d.sriov = { totalVfs: s.sriov.total_vfs, numVfs: s.sriov.num_vfs, driversAutoprobe: s.sriov.drivers_autoprobe };
      if (s.sriov.offset !== null && s.sriov.stride !== null) Object.assign(d.sriov, { offset: s.sriov.offset, stride: s.sriov.stride });
      if (s.sriov.vf_device !== null) d.sriov.vfDevice = s.sriov.vf_device;
    }
    if (s.virtfns.length > 0) d.virtfns = s.virtfns.map((a) => deviceKey('pci', a));
    if (s.physfn !== null) d.physfn = deviceKey('pci', s.physfn);
    if (s.in_use.length > 0) usage[d.key] = s.in_use;
    defaults[d.key] = s.default_driver;
    if (s.identifiers) identifiers[d.key] = s.identifiers;
    return d;
  });
  const groups: Record<string, DeviceKey[]> = {};
  for (const d of devices) if (d.iommuGroup !== null) (groups[d.iommuGroup] ??= []).push(d.key);
  for (const members of Object.values(groups)) members.sort();

  const { vfio_aliases, ...modules } = doc.modules;
  const host: Host = { devices, drivers: doc.drivers, groups, modules: vfio_aliases === null ? modules : { ...modules, vfioAliases: vfio_aliases } };
  if (doc.host.hostname !== null) host.hostname = doc.host.hostname;
  if (doc.host.kernel !== null) host.kernelRelease = doc.host.kernel;
  if (doc.usage_known) host.usage = usage;
  if (doc.mdevs) {
    host.mdevs = {
      parents: doc.mdevs.parents.map(mdevParent),
      devices: doc.mdevs.devices.map((m) => ({ uuid: m.uuid, parent: m.parent, type: m.type, driver: m.driver, iommuGroup: m.iommu_group })),
    };
  }
  const out: CapturedHost = { host, defaults, applied: appliedFromText(doc.managed) };
  if (doc.host.dmi_product !== null) out.dmiProduct = doc.host.dmi_product;
  if (doc.host.machine_id !== null) out.machineId = doc.host.machine_id;
  if (Object.keys(identifiers).length > 0) out.identifiers = identifiers;
  return out;
}
