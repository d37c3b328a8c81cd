// Does a device fit a rule's match block? Selectors are compiled once into a list of predicates
// (globs into RegExps), so resolving N rules against M devices does no string parsing per pair.
// Tolerant of selectors built by hand (any case, 0x prefixes, short addresses); load.ts already
// canonicalises the ones from state files.

import { splitKey } from '../domain/names.js';
import type { Device, DeviceKey, Host, Selector } from '../domain/types.js';

export type DeviceMatcher = (device: Device, host: Host) => boolean;

// Normal forms of selector values, shared with load.ts, which stores selectors in them.

/** `0x10DE` -> `10de`: ids and class codes as observe records them. */
export const hexId = (s: string): string => s.toLowerCase().replace(/^0x/, '');

/** Full lowercase form of an address glob: `01:00.*` -> `0000:01:00.*`. */
export function canonicalAddress(glob: string): string {
  const g = glob.toLowerCase();
  return g.split(':').length === 2 ? `0000:${g}` : g;
}

/** `0-3,6` -> [[0, 3], [6, 6]]; null when a range runs backwards. The schema checked the grammar. */
export function vfRanges(text: string): [number, number][] | null {
  const out: [number, number][] = [];
  for (const part of text.split(',')) {
    const [lo, hi = lo] = part.split('-').map(Number) as [number, number?];
    if (hi! < lo) return null;
    out.push([lo, hi!]);
  }
  return out;
}

/** `012` -> `12`, as the kernel names groups. */
export const canonicalGroup = (s: string): string => String(Number(s));

/** `*` and `?` as glob wildcards over `charClass`; everything else literal. */
function globToRegExp(glob: string, charClass: string, flags = ''): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? `${charClass}*` : c === '?' ? charClass : `\\${c}`));
  return new RegExp(`^${body}$`, flags);
}

/** PCI address glob, per field: `0000:01:00.*`, `01:00.*` (domain 0000), `*:01:*.*`. */
export function addressRegExp(glob: string): RegExp {
  // A `*` stands for a whole field, so it must not run across the `:` and `.` separators.
  return globToRegExp(canonicalAddress(glob), '[0-9a-f]');
}

/** Device-name or hostname glob: `*` any run, `?` one character. */
export function nameRegExp(glob: string, flags = ''): RegExp {
  return globToRegExp(glob, '.', flags);
}

// Which devices a host has, by key, for `pf` (a VF whose PF was not observed matches nothing), and
// each VF's index under its PF, for `vf`.
const keysByHost = new WeakMap<Host, Set<DeviceKey>>();
function hostKeys(host: Host): Set<DeviceKey> {
  let keys = keysByHost.get(host);
  if (!keys) keysByHost.set(host, (keys = new Set(host.devices.map((d) => d.key))));
  return keys;
}
const vfIndexByHost = new WeakMap<Host, Map<DeviceKey, number>>();
function vfIndex(host: Host, vf: DeviceKey): number | undefined {
  let index = vfIndexByHost.get(host);
  if (!index) {
    index = new Map();
    for (const d of host.devices) (d.virtfns ?? []).forEach((k, i) => index!.set(k, i));
    vfIndexByHost.set(host, index);
  }
  return index.get(vf);
}

export function compileSelector(s: Selector): DeviceMatcher {
  const checks: DeviceMatcher[] = [];
  if (s.bus !== undefined) {
    const bus = s.bus;
    checks.push((d) => d.bus === bus);
  }
  if (s.address !== undefined) {
    const re = addressRegExp(s.address);
    checks.push((d) => d.bus === 'pci' && re.test(d.name));
  }
  for (const field of ['vendor', 'device', 'subsystemVendor', 'subsystemDevice'] as const) {
    const want = s[field];
    if (want !== undefined) {
      const id = hexId(want);
      checks.push((d) => d[field] === id);
    }
  }
  if (s.class !== undefined) {
    const prefix = hexId(s.class);
    checks.push((d) => d.class !== undefined && d.class.startsWith(prefix));
  }
  if (s.iommuGroup !== undefined) {
    const group = canonicalGroup(s.iommuGroup);
    checks.push((d) => d.iommuGroup === group);
  }
  if (s.name !== undefined) {
    const re = nameRegExp(s.name);
    checks.push((d) => re.test(d.name));
  }
  if (s.compatible !== undefined) {
    const compatible = s.compatible;
    checks.push((d) => d.bus === 'platform' && (d.compatible ?? []).includes(compatible));
  }
  if (s.pf !== undefined) {
    const re = addressRegExp(s.pf);
    checks.push((d, host) => d.physfn !== undefined && re.test(splitKey(d.physfn).name) && hostKeys(host).has(d.physfn));
  }
  if (s.vf !== undefined) {
    const ranges = vfRanges(s.vf) ?? [];
    checks.push((d, host) => {
      const i = d.physfn === undefined ? undefined : vfIndex(host, d.key);
      return i !== undefined && ranges.some(([lo, hi]) => i >= lo && i <= hi);
    });
  }
  return (device, host) => checks.every((check) => check(device, host));
}

/** One-off match; compile the selector with compileSelector when testing many devices. */
export function matches(selector: Selector, device: Device, host: Host): boolean {
  return compileSelector(selector)(device, host);
}
