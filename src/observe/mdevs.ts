// Mediated devices as sysfs shows them (kernel-abi.md section 7): the parents listed in
// /sys/class/mdev_bus with the types each offers, and the mdevs under /sys/bus/mdev/devices with
// their type and parent. Lenient like observe: an entry that vanishes or reads oddly is skipped.

import { isDeviceName, isMdevType, isMdevUuid } from '../domain/names.js';
import type { Device, Host, Mdev, MdevParent, MdevType } from '../domain/types.js';
import { layout, linkName } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';

export function observeMdevs(sysfs: SysfsPort, devices: Device[]): Host['mdevs'] {
  const parents = sysfs
    .list(layout.mdevParents)
    .filter((name) => isDeviceName('platform', name))
    .map((name) => readParent(sysfs, name, devices));
  const mdevs = sysfs
    .list(layout.mdevDevices)
    .filter(isMdevUuid)
    .map((uuid) => readMdev(sysfs, uuid))
    .filter((m): m is Mdev => m !== null);
  return parents.length === 0 && mdevs.length === 0 ? undefined : { parents, devices: mdevs };
}

function readParent(sysfs: SysfsPort, name: string, devices: Device[]): MdevParent {
  const types: MdevType[] = [];
  for (const id of sysfs.list(layout.mdevTypes(name))) {
    if (!isMdevType(id)) continue;
    const read = (attr: 'available_instances' | 'name' | 'device_api' | 'description') => sysfs.read(layout.mdevTypeAttr(name, id, attr));
    const available = Number.parseInt(read('available_instances') ?? '', 10);
    const type: MdevType = { id, availableInstances: Number.isInteger(available) && available >= 0 ? available : 0 };
    const [pretty, api, description] = [read('name'), read('device_api'), read('description')];
    if (pretty) type.name = pretty;
    if (api) type.deviceApi = api;
    if (description) type.description = description;
    types.push(type);
  }
  // The parent is the pci or platform device of that name, when there is one: PCI names are
  // unique, and a platform device and a virtual parent never share a class/mdev_bus entry.
  const device = devices.find((d) => d.name === name);
  return device ? { name, device: device.key, types } : { name, types };
}

function readMdev(sysfs: SysfsPort, uuid: string): Mdev | null {
  // bus/mdev/devices/<uuid> -> ../../../devices/.../<parent>/<uuid>: the parent is the directory above.
  const target = sysfs.readLink(layout.mdevDevice(uuid));
  const parts = (target ?? '').split('/').filter(Boolean);
  const parent = parts.length >= 2 ? parts[parts.length - 2]! : null;
  const type = linkName(sysfs.readLink(layout.mdevAttr(uuid, 'mdev_type')));
  if (parent === null || type === null) return null;
  return {
    uuid,
    parent,
    type,
    driver: linkName(sysfs.readLink(layout.mdevAttr(uuid, 'driver'))),
    iommuGroup: linkName(sysfs.readLink(layout.mdevAttr(uuid, 'iommu_group'))),
  };
}
