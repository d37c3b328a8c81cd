// Who may bind what: the bus match() functions, the probe refusals the model knows about, and
// IOMMU group viability (kernel-abi.md sections 3, 4 and 5).

import { allowsVfioOwnership } from '../domain/names.js';
import { isBridgeClass, type KDevice, type KDriver, type KernelState, type PciIdEntry } from './state.js';

/** A probe that would hit the pre-5.19 `BUG_ON` in vfio_iommu_group_notifier. */
export const KERNEL_BUG = 'KERNEL_BUG';

/** Bus match(): may `drv` be tried on `dev` at all. */
export function matches(drv: KDriver, dev: KDevice): boolean {
  if (drv.bus !== dev.bus) return false;
  if (dev.override !== null) {
    // Another name (including "" and "none") matches nothing. The driver's own name matches on
    // PCI through the dummy "any" ID (the override bypasses the table) and on platform by name.
    return dev.override === drv.name;
  }
  if (dev.bus === 'pci' && pciTableMatches(drv.dynamicIds, dev)) return true;
  // VFIO drivers have no static table usable without an override: override_only entries on
  // 5.15+, none at all before.
  if (drv.vfio) return false;
  return dev.bus === 'pci' ? pciTableMatches(drv.ids, dev) : platformMatches(drv, dev);
}

function pciTableMatches(ids: PciIdEntry[], dev: KDevice): boolean {
  return ids.some(
    (id) =>
      (id.vendor === undefined || id.vendor === dev.vendor) &&
      (id.device === undefined || id.device === dev.device) &&
      (id.subsystemVendor === undefined || id.subsystemVendor === dev.subsystemVendor) &&
      (id.subsystemDevice === undefined || id.subsystemDevice === dev.subsystemDevice) &&
      (id.class === undefined || (dev.class ?? '').startsWith(id.class)),
  );
}

/** `alarmtimer.0.auto` was registered as `alarmtimer` with id 0: the name part is what matches. */
export function platformBaseName(name: string): string {
  return name.replace(/\.\d+(\.auto)?$/, '');
}

function platformMatches(drv: KDriver, dev: KDevice): boolean {
  if (dev.compatible?.some((c) => drv.compatible.includes(c))) return true;
  return drv.names.includes(platformBaseName(dev.name));
}

/**
 * Whether a member bound to `drv` leaves its group usable by VFIO. 5.19+: drivers with
 * `driver_managed_dma`. Before: vfio drivers, pci-stub, and bridges on any driver.
 */
export function leavesGroupViable(s: KernelState, drv: KDriver | undefined, dev: KDevice): boolean {
  if (dev.driver === null || drv === undefined) return true;
  if (drv.vfio) return true;
  if (s.version.atLeast(5, 19)) return allowsVfioOwnership(drv.name);
  return drv.name === 'pci-stub' || isBridgeClass(dev.class);
}

export function groupViable(s: KernelState, group: string): boolean {
  return s.members(group).every((m) => leavesGroupViable(s, m.driver === null ? undefined : s.driver(m.bus, m.driver), m));
}

/** The errno probing `drv` on `dev` fails with, null when it binds, or KERNEL_BUG. */
export function probeError(s: KernelState, drv: KDriver, dev: KDevice): string | null {
  const injected = s.probeFailure(drv.name, dev.name);
  if (injected !== undefined) return injected;
  if (dev.physfn) {
    // pci_device_can_probe: a VF probes only with its PF's autoprobe on or an override.
    const pf = s.device('pci', dev.physfn.pf);
    if (pf?.sriov && !pf.sriov.autoprobe && dev.override === null) return 'ENODEV';
  }
  if (drv.vfio) {
    // Without an IOMMU group (and noiommu off) VFIO has nothing to attach the device to.
    if (dev.group === null || isBridgeClass(dev.class)) return 'EINVAL';
    if (dev.sriov && dev.sriov.numVfs > 0) return 'EBUSY';
  }
  if (dev.group !== null && s.held.has(dev.group) && !leavesGroupViable(s, drv, { ...dev, driver: drv.name })) {
    return s.version.atLeast(5, 19) ? 'EBUSY' : KERNEL_BUG;
  }
  return null;
}
