// Whether an IOMMU group can be handed to VFIO follows the kernel's own rule, which changed in 5.19
// (kernel-abi.md section 4): before, vfio let bridges pass with any driver; since, every member must
// be unbound or on a driver that leaves DMA ownership to user space, bridges included.

import { allowsVfioOwnership, isVfioDriver } from '../domain/names.js';
import type { Device, DeviceKey, Host } from '../domain/types.js';

/** Linux 5.19+ decides viability by DMA ownership. An unknown release is assumed modern: the stricter rule. */
export function usesDmaOwnership(kernelRelease: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease ?? '');
  if (!m) return true;
  const major = Number(m[1]);
  return major > 5 || (major === 5 && Number(m[2]) >= 19);
}

/**
 * Why a member bound to `driver` keeps its group from VFIO, or null when it does not.
 * `undefined` is a driver the kernel will choose after the plan: assume a host driver.
 */
export function whyBlocks(device: Device, driver: string | null | undefined, modern: boolean): string | null {
  if (driver === undefined) return 'goes back to the driver the kernel chooses, a host driver';
  if (allowsVfioOwnership(driver)) return null;
  if (device.isBridge) {
    return modern ? `bridge on ${driver}, which keeps DMA ownership since Linux 5.19 (only pcieport allows VFIO)` : null;
  }
  return `on ${driver}, a host driver that uses the kernel DMA API`;
}

// Members of every group, indexed once per observed device list: callers ask group by group, and a
// scan per group is quadratic on hosts with thousands of single-device groups (SR-IOV VFs).
const membersIndex = new WeakMap<Device[], Map<string, Device[]>>();

export function groupMembers(host: Host, group: string): Device[] {
  let index = membersIndex.get(host.devices);
  if (!index) {
    index = new Map();
    for (const d of host.devices) {
      if (d.iommuGroup === null) continue;
      const members = index.get(d.iommuGroup);
      if (members) members.push(d);
      else index.set(d.iommuGroup, [d]);
    }
    for (const members of index.values()) members.sort((a, b) => compareKeys(a.key, b.key));
    membersIndex.set(host.devices, index);
  }
  return [...(index.get(group) ?? [])];
}

/** Whether the group, as the host has it now, could be claimed by a VFIO user; and who is in the way. */
export function groupVerdict(
  host: Host,
  group: string,
): { viable: boolean; blockers: { device: DeviceKey; driver: string; why: string }[] } {
  const modern = usesDmaOwnership(host.kernelRelease);
  const blockers: { device: DeviceKey; driver: string; why: string }[] = [];
  for (const d of groupMembers(host, group)) {
    const why = whyBlocks(d, d.driver, modern);
    if (why !== null && d.driver !== null) blockers.push({ device: d.key, driver: d.driver, why });
  }
  return { viable: blockers.length === 0, blockers };
}

/** Groups in numeric order ("2" before "10"); null (no IOMMU) last. */
export function compareGroups(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const na = Number(a);
  const nb = Number(b);
  if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
  return a < b ? -1 : 1;
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The driver VFIO siblings are brought along to: variant drivers (mlx5_vfio_pci) fit one device only. */
export function siblingVfioDriver(bus: Device['bus'], driver: string): string {
  if (isVfioDriver(driver) && driver.startsWith('vfio-')) return driver;
  return bus === 'pci' ? 'vfio-pci' : 'vfio-platform';
}
