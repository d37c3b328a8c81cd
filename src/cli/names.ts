// Device names from pci.ids for human output, when the database is installed.

import { loadPciIds, PCI_IDS_PATHS } from '../observe/pci-ids.js';

/** `(vendor, device) -> "NVIDIA Corporation GA102 [GeForce RTX 3090]"`, or undefined. */
export type Names = (vendor: string, device?: string) => string | undefined;

/**
 * Where to look for pci.ids: VFIO_RECONCILE_PCI_IDS names one file, or turns names off when empty;
 * otherwise the distributions' usual places.
 */
export function pciIdsPaths(env: Record<string, string | undefined>): string[] {
  const chosen = env.VFIO_RECONCILE_PCI_IDS;
  if (chosen === undefined) return PCI_IDS_PATHS;
  return chosen === '' ? [] : [chosen];
}

export function pciNames(paths: string[]): Names | undefined {
  const db = loadPciIds(paths);
  return db ? (vendor, device) => db.name(vendor, device) ?? undefined : undefined;
}

/**
 * renderPlan asks for the vendor and the device separately and joins them, while pci.ids' device
 * name already starts with the vendor's: answer only the device question.
 */
export function planNames(names: Names | undefined): Names | undefined {
  return names && ((vendor, device) => (device === undefined ? undefined : names(vendor, device)));
}
