// Read a sysfs tree into a Host: every pci and platform device with the facts binding depends on,
// the registered drivers, the IOMMU groups and the modules. Reads only the attributes the Host
// holds (hosts have thousands of devices), and is lenient: a device that vanishes or an attribute
// that cannot be read mid-way leaves a gap, never an exception.

import { deviceKey, isDeviceName, moduleNameOf } from '../domain/names.js';
import { BUSES, type Bus, type Device, type Host } from '../domain/types.js';
import { layout, linkName, type DeviceAttr } from '../sysfs/layout.js';
import type { ModulePort, SysfsPort } from '../sysfs/port.js';
import { observeMdevs } from './mdevs.js';

export interface ObserveOptions {
  modules?: ModulePort;
  hostname?: string;
  kernelRelease?: string;
}

export function observe(sysfs: SysfsPort, opts: ObserveOptions = {}): Host {
  const devices: Device[] = [];
  for (const bus of BUSES) {
    for (const name of sysfs.list(layout.busDevices(bus))) {
      if (!isDeviceName(bus, name)) continue; // a name no path may be built from: not addressable
      const dev = readDevice(sysfs, bus, name);
      if (dev) devices.push(dev);
    }
  }
  devices.sort((a, b) => compare(a.key, b.key));

  const groups: Record<string, string[]> = {};
  for (const d of devices) {
    if (d.iommuGroup !== null) (groups[d.iommuGroup] ??= []).push(d.key);
  }
  for (const members of Object.values(groups)) members.sort(compare);

  const available = opts.modules?.available() ?? null;
  const host: Host = {
    devices,
    drivers: { pci: sysfs.list(layout.busDrivers('pci')), platform: sysfs.list(layout.busDrivers('platform')) },
    groups,
    modules: {
      known: available !== null,
      available: available ? [...new Set(available.map(moduleNameOf))].sort() : [],
      loaded: sysfs.list(layout.loadedModules).map(moduleNameOf).sort(),
    },
  };
  const aliases = opts.modules?.vfioAliases?.() ?? null;
  if (aliases !== null) host.modules.vfioAliases = aliases;
  const mdevs = observeMdevs(sysfs, devices);
  if (mdevs) host.mdevs = mdevs;
  if (opts.hostname !== undefined) host.hostname = opts.hostname;
  if (opts.kernelRelease !== undefined) host.kernelRelease = opts.kernelRelease;
  return host;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `0x10DE` -> `10de`; null for anything that is not hex. */
export function canonicalHex(text: string | null, width: number): string | null {
  if (text === null) return null;
  const t = text.trim().toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]+$/.test(t) ? t.padStart(width, '0') : null;
}

function readDevice(sysfs: SysfsPort, bus: Bus, name: string): Device | null {
  // One listing of the device directory says which attributes exist: most are absent on most
  // devices (boot_vga but on VGA, sriov_* but on PFs, physfn but on VFs, driver when unbound), and
  // a failed open costs as much as a read. An entry that vanishes after the listing reads as null.
  const dir = layout.device(bus, name);
  const present = new Set(sysfs.list(dir));
  const has = (attr: DeviceAttr): boolean => present.has(attr.split('/', 1)[0]!);
  const read = (attr: DeviceAttr): string | null => (has(attr) ? sysfs.read(`${dir}/${attr}`) : null);
  const link = (attr: DeviceAttr): string | null => (has(attr) ? linkName(sysfs.readLink(`${dir}/${attr}`)) : null);

  // driver_override exists on every pci and platform device: without it the device is gone.
  const override = read('driver_override');
  if (override === null) return null;
  const dev: Device = {
    key: deviceKey(bus, name),
    bus,
    name,
    driver: link('driver'),
    override: override === '(null)' || override === '' ? null : override,
    iommuGroup: link('iommu_group'),
    isBridge: false,
  };
  const modalias = read('modalias');
  if (modalias !== null) dev.modalias = modalias;

  if (bus === 'platform') {
    const compatible = read('of_node/compatible');
    if (compatible !== null) dev.compatible = compatible.split('\0').filter(Boolean);
    return dev;
  }

  const ids = [
    ['vendor', 'vendor', 4],
    ['device', 'device', 4],
    ['subsystem_vendor', 'subsystemVendor', 4],
    ['subsystem_device', 'subsystemDevice', 4],
    ['class', 'class', 6],
  ] as const;
  for (const [attr, field, width] of ids) {
    const value = canonicalHex(read(attr), width);
    if (value !== null) dev[field] = value;
  }
  const numa = Number.parseInt(read('numa_node') ?? '', 10);
  if (Number.isInteger(numa) && numa >= 0) dev.numaNode = numa;
  if (read('boot_vga') === '1') dev.bootVga = true;
  dev.isBridge = (dev.class ?? '').startsWith('0604') || dev.driver === 'pcieport';

  const totalVfs = Number.parseInt(read('sriov_totalvfs') ?? '', 10);
  if (Number.isInteger(totalVfs)) {
    const numVfs = Number.parseInt(read('sriov_numvfs') ?? '', 10);
    dev.sriov = {
      totalVfs,
      numVfs: Number.isInteger(numVfs) ? numVfs : 0,
      driversAutoprobe: read('sriov_drivers_autoprobe') !== '0',
    };
    const offset = Number.parseInt(read('sriov_offset') ?? '', 10);
    const stride = Number.parseInt(read('sriov_stride') ?? '', 10);
    const vfDevice = canonicalHex(read('sriov_vf_device'), 4);
    if (Number.isInteger(offset) && Number.isInteger(stride)) Object.assign(dev.sriov, { offset, stride });
    if (vfDevice !== null) dev.sriov.vfDevice = vfDevice;
    const virtfns: string[] = [];
    for (let i = 0; i < dev.sriov.numVfs; i++) {
      const vf = link(`virtfn${i}`);
      if (vf !== null) virtfns.push(deviceKey('pci', vf));
    }
    if (virtfns.length) dev.virtfns = virtfns;
  }
  const physfn = link('physfn');
  if (physfn !== null) dev.physfn = deviceKey('pci', physfn);
  return dev;
}
