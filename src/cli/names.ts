// Device names from pci.ids for human output, when the database is installed.

import { loadPciIds } from '../observe/pci-ids.js';

/** `(vendor, device) -> "NVIDIA Corporation GA102 [GeForce RTX 3090]"`, or undefined. */
export type Names = (vendor: string, device?: string) => string | undefined;

export function pciNames(paths?: string[]): Names | undefined {
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
