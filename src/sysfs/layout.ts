// Where things live under a sysfs root. Observe, the executor and the kernel model all build paths
// here, so the three agree with each other and with the kernel. Every builder checks its names
// against the kernel's grammar: a path can never climb out of the root.

import { posix } from 'node:path';
import { isDeviceName, isDriverName, isMdevAttr, isMdevType, isMdevUuid } from '../domain/names.js';
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
  | 'sriov_offset'
  | 'sriov_stride'
  | 'sriov_vf_device'
  | 'physfn' // symlink -> ../<pf>
  | 'of_node/compatible' // NUL-separated strings
  | 'vfio-dev' // directory of the device's VFIO cdev (`vfio3` for /dev/vfio/devices/vfio3)
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

  // Mediated devices (kernel-abi.md section 7). Parents are reached through /sys/class/mdev_bus, as
  // mdevctl does, because a parent need not be on the pci or platform bus (mtty, vfio-ap's matrix).
  mdevParents: 'class/mdev_bus',
  mdevTypes(parent: string): string {
    checked(isDeviceName('platform', parent), 'mdev parent name', parent);
    return `class/mdev_bus/${parent}/mdev_supported_types`;
  },
  mdevTypeAttr(parent: string, type: string, attr: MdevTypeAttr): string {
    checked(isMdevType(type), 'mdev type', type);
    return `${layout.mdevTypes(parent)}/${type}/${attr}`;
  },
  mdevDevices: 'bus/mdev/devices',
  mdevDevice(uuid: string): string {
    checked(isMdevUuid(uuid), 'mdev uuid', uuid);
    return `bus/mdev/devices/${uuid}`;
  },
  mdevAttr(uuid: string, attr: MdevDeviceAttr): string {
    return `${layout.mdevDevice(uuid)}/${attr}`;
  },
  /** A vendor attribute of an mdev (mdevctl's `attrs`). */
  mdevUserAttr(uuid: string, attr: string): string {
    checked(isMdevAttr(attr), 'mdev attribute', attr);
    return `${layout.mdevDevice(uuid)}/${attr}`;
  },

  // Where in-use facts come from (observe/usage.ts). Entry names come from listing sysfs itself, but
  // are checked all the same: block and interface names are only kernel-printable strings.
  classDir: (cls: SysClass) => `class/${cls}`,
  classEntry(cls: SysClass, name: string, attr?: ClassAttr): string {
    checked(isEntryName(name), `${cls} entry name`, name);
    return `class/${cls}/${name}${attr ? `/${attr}` : ''}`;
  },
  virtioDevices: 'bus/virtio/devices',
  virtioAttr(name: string, attr: 'mount_tag' | 'driver'): string {
    checked(isEntryName(name), 'virtio device name', name);
    return `bus/virtio/devices/${name}/${attr}`;
  },
  /** virtio-fs instances (Linux 6.10+): each has a `tag` and a `device` link to its virtio device. */
  virtiofsDir: 'fs/virtiofs',
  virtiofsAttr(instance: string, attr: 'tag' | 'device'): string {
    checked(isEntryName(instance), 'virtiofs instance', instance);
    return `fs/virtiofs/${instance}/${attr}`;
  },
} as const;

export type MdevTypeAttr = 'create' | 'available_instances' | 'name' | 'device_api' | 'description';
/** `mdev_type` (link to the parent's type directory), `remove`, `driver` and `iommu_group` links. */
export type MdevDeviceAttr = 'mdev_type' | 'remove' | 'driver' | 'iommu_group';

export type SysClass = 'block' | 'net' | 'graphics' | 'vtconsole';
/** `dev` (major:minor), `holders/` (dm/md devices stacked on it), `dm/name`, `flags` (IFF_* hex), vtconsole `name`/`bind`. */
export type ClassAttr = 'dev' | 'holders' | 'dm/name' | 'flags' | 'name' | 'bind';

function isEntryName(name: string): boolean {
  return /^[^/\0\n]{1,255}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * Where a symlink at root-relative `path` with a relative `target` leads, root-relative, or null when
 * it leaves the root. sysfs links sit in real directories (`class/block/vda`, `bus/pci/devices/X`) and
 * point straight into `devices/`, so this is their realpath without following anything twice.
 */
export function linkPath(path: string, target: string | null): string | null {
  if (target === null || target.startsWith('/')) return null;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  return resolved === '..' || resolved.startsWith('../') ? null : resolved;
}

/** Last path component of a symlink target: the driver, group or device it points at. */
export function linkName(target: string | null): string | null {
  if (target === null) return null;
  const parts = target.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1]! : null;
}
