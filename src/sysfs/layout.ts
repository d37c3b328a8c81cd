// Where things live under a sysfs root. Observe, the executor and the kernel model all build paths
// here, so the three agree with each other and with the kernel. Every builder checks its names
// against the kernel's grammar: a path can never climb out of the root.

import { isDeviceName, isDriverName } from '../domain/names.js';
import type { Bus } from '../domain/types.js';

function checked(ok: boolean, what: string, value: string): void {
  if (!ok) throw new Error(`refusing to build a sysfs path from invalid ${what} ${JSON.stringify(value)}`);
}

/** Per-device attributes and links that vfio-reconcile reads or writes. */
export type DeviceAttr =
  | 'vendor'
  | 'device'
  | 'subsystem_vendor'
  | 'subsystem_device'
  | 'class'
  | 'modalias'
  | 'driver' // symlink -> .../bus/<bus>/drivers/<drv>
  | 'driver_override'
  | 'iommu_group' // symlink -> .../kernel/iommu_groups/<n>
  | 'numa_node'
  | 'boot_vga'
  | 'sriov_totalvfs'
  | 'sriov_numvfs'
  | 'sriov_drivers_autoprobe'
  | 'physfn' // symlink -> ../<pf>
  | 'of_node/compatible' // NUL-separated strings
  | `virtfn${number}`; // symlink -> ../<vf>

export const layout = {
  busDevices: (bus: Bus) => `bus/${bus}/devices`,
  device(bus: Bus, name: string): string {
    checked(isDeviceName(bus, name), `${bus} device name`, name);
    return `bus/${bus}/devices/${name}`;
  },
  attr(bus: Bus, name: string, attr: DeviceAttr): string {
    return `${layout.device(bus, name)}/${attr}`;
  },
  busDrivers: (bus: Bus) => `bus/${bus}/drivers`,
  driverAttr(bus: Bus, driver: string, attr: 'bind' | 'unbind'): string {
    checked(isDriverName(driver), 'driver name', driver);
    return `bus/${bus}/drivers/${driver}/${attr}`;
  },
  driversProbe: (bus: Bus) => `bus/${bus}/drivers_probe`,
  iommuGroups: 'kernel/iommu_groups',
  groupDevices: (group: string) => `kernel/iommu_groups/${group}/devices`,
  loadedModules: 'module',
} as const;

/** Last path component of a symlink target: the driver, group or device it points at. */
export function linkName(target: string | null): string | null {
  if (target === null) return null;
  const parts = target.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1]! : null;
}
