// The kernel's own grammar for the names that end up in sysfs paths or writes. Everything from a
// state file, a saved plan or the command line passes through here before it touches a path, so
// no input can name `../`, a slash, a NUL or a newline.

import type { Bus, DeviceKey } from './types.js';

const PCI_ADDR = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;
const PCI_SHORT = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;

/** Canonical PCI address (`0000:01:00.0`) from a full or short (`01:00.0`) form, any case. */
export function parsePciAddress(text: string): string | null {
  const t = text.trim().toLowerCase();
  if (PCI_ADDR.test(t)) return t;
  const m = PCI_SHORT.exec(t);
  return m ? `0000:${t}` : null;
}

export function isPciAddress(text: string): boolean {
  return PCI_ADDR.test(text);
}

// Kernel device and driver names are printable, without '/', and short. Platform names carry
// dots, colons, dashes, underscores, '@' and '+' in practice (`12ce0000.i2c`, `AMDI0010:00`).
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+,-]{0,127}$/;
const DRIVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const MODULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,55}$/;

export function isDeviceName(bus: Bus, name: string): boolean {
  return bus === 'pci' ? isPciAddress(name) : DEVICE_NAME.test(name) && name !== '.' && name !== '..';
}

export function isDriverName(name: string): boolean {
  return DRIVER_NAME.test(name);
}

export function isModuleName(name: string): boolean {
  return MODULE_NAME.test(name);
}

/** Module names compare with `-` and `_` as one (`vfio-pci` is module `vfio_pci`). */
export function moduleNameOf(driverOrModule: string): string {
  return driverOrModule.replace(/-/g, '_');
}

export function deviceKey(bus: Bus, name: string): DeviceKey {
  return `${bus}/${name}`;
}

export function splitKey(key: DeviceKey): { bus: Bus; name: string } {
  const i = key.indexOf('/');
  return { bus: key.slice(0, i) as Bus, name: key.slice(i + 1) };
}

// Mediated devices: a UUID names each (the kernel accepts exactly 36 characters, kernel-abi.md 7),
// a type is `<parent driver>-<type>`, and attributes are file names in the mdev's directory.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MDEV_TYPE = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$/;
const MDEV_ATTR = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function isMdevUuid(text: string): boolean {
  return UUID.test(text);
}

export function isMdevType(text: string): boolean {
  return MDEV_TYPE.test(text);
}

export function isMdevAttr(text: string): boolean {
  return MDEV_ATTR.test(text) && !['remove', 'mdev_type', 'driver', 'iommu_group', 'subsystem', 'uevent', 'power'].includes(text);
}

/**
 * An mdev in the managed set, the journal and rollback, which key things by DeviceKey. `mdev` is no
 * Bus: code that splits keys into bus and name checks isMdevKey first.
 */
export function mdevKey(uuid: string): DeviceKey {
  return `mdev/${uuid}`;
}

/** The uuid of an `mdev/<uuid>` key, or null for a device key. */
export function mdevUuidOf(key: DeviceKey): string | null {
  return key.startsWith('mdev/') && UUID.test(key.slice(5)) ? key.slice(5) : null;
}

/** Drivers whose binding gives user space DMA ownership (kernel-abi.md section 4). */
export function isVfioDriver(driver: string | null): boolean {
  return driver !== null && (driver.startsWith('vfio') || driver.endsWith('-vfio-pci') || driver.endsWith('_vfio_pci'));
}

/**
 * Drivers that leave an IOMMU group viable for VFIO on 5.19+ (`driver_managed_dma`); sysfs does not
 * expose the flag, so this is the allowlist from the 6.12 tree.
 */
export function allowsVfioOwnership(driver: string | null): boolean {
  return driver === null || isVfioDriver(driver) || driver === 'pci-stub' || driver === 'pcieport';
}
