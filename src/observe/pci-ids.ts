// Vendor and device names from the pci.ids database, for plans a human reads. The file is ~1.3 MB
// and a plan names a handful of vendors, so it is read once and each vendor's block is parsed only
// when first asked for.

import { readFileSync } from 'node:fs';

export const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids', '/usr/share/pci.ids'];

export interface PciIds {
  /** `NVIDIA Corporation GA102 [GeForce RTX 3090]`, `NVIDIA Corporation Device 2205` for an unknown device, or null for an unknown vendor. */
  name(vendor: string, device?: string): string | null;
}

interface VendorEntry {
  name: string;
  devices: Map<string, string>;
}

/** The first readable database among `paths`, or null when there is none. */
export function loadPciIds(paths: string[] = PCI_IDS_PATHS): PciIds | null {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    return parsePciIds(text);
  }
  return null;
}

export function parsePciIds(text: string): PciIds {
  const vendors = new Map<string, VendorEntry | null>();
  const vendor = (id: string): VendorEntry | null => {
    if (!vendors.has(id)) vendors.set(id, parseVendor(text, id));
    return vendors.get(id)!;
  };
  return {
    name(vendorId, deviceId) {
      const v = vendor(vendorId.toLowerCase().replace(/^0x/, ''));
      if (!v) return null;
      if (deviceId === undefined) return v.name;
      const d = deviceId.toLowerCase().replace(/^0x/, '');
      return `${v.name} ${v.devices.get(d) ?? `Device ${d}`}`;
    },
  };
}

/** Vendor lines are `vvvv  Name` at column 0; their devices follow as `\tdddd  Name`. */
function parseVendor(text: string, id: string): VendorEntry | null {
  if (!/^[0-9a-f]{4}$/.test(id)) return null;
  const start = text.startsWith(`${id}  `) ? 0 : text.indexOf(`\n${id}  `) + 1;
  if (start === 0 && !text.startsWith(`${id}  `)) return null;
  let end = text.indexOf('\n', start);
  if (end === -1) end = text.length;
  const entry: VendorEntry = { name: text.slice(start + 6, end).trim(), devices: new Map() };
  let pos = end + 1;
  while (pos < text.length && (text[pos] === '\t' || text[pos] === '#')) {
    let next = text.indexOf('\n', pos);
    if (next === -1) next = text.length;
    const line = text.slice(pos, next);
    const m = /^\t([0-9a-f]{4})  (.*)$/.exec(line);
    if (m) entry.devices.set(m[1]!, m[2]!.trim());
    pos = next + 1;
  }
  return entry;
}
