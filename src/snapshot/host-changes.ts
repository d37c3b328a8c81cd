// What moved on a host between two observations, one line per difference in what the fingerprint
// covers (domain/fingerprint.ts), worded for the message that refuses a stale saved plan:
// `0000:01:00.0: driver nouveau → vfio-pci`.

import { isDeepStrictEqual } from 'node:util';
import { BUSES, type Device, type Host } from '../domain/types.js';

const show = (v: string | null | undefined, unset: string): string => v ?? unset;

function sriovText(d: Device): string {
  return d.sriov ? `${d.sriov.numVfs}/${d.sriov.totalVfs} VFs${d.sriov.driversAutoprobe ? '' : ', autoprobe off'}` : 'none';
}

function deviceChanges(was: Device, is: Device): string[] {
  const out: string[] = [];
  const at = `${was.name}:`;
  if (was.driver !== is.driver) out.push(`${at} driver ${show(was.driver, '(unbound)')} → ${show(is.driver, '(unbound)')}`);
  if (was.override !== is.override) out.push(`${at} driver_override ${show(was.override, '(unset)')} → ${show(is.override, '(unset)')}`);
  if (was.iommuGroup !== is.iommuGroup) out.push(`${at} IOMMU group ${show(was.iommuGroup, 'none')} → ${show(is.iommuGroup, 'none')}`);
  const ids = (d: Device): string => `${d.vendor ?? '?'}:${d.device ?? '?'} class ${d.class ?? '?'}`;
  if (ids(was) !== ids(is)) out.push(`${at} ${ids(was)} → ${ids(is)}`);
  const sriov = (d: Device) => d.sriov && [d.sriov.numVfs, d.sriov.totalVfs, d.sriov.driversAutoprobe];
  if (!isDeepStrictEqual(sriov(was), sriov(is))) out.push(`${at} SR-IOV ${sriovText(was)} → ${sriovText(is)}`);
  return out;
}

export function hostChanges(then: Host, now: Host): string[] {
  const before = new Map(then.devices.map((d) => [d.key, d]));
  const after = new Map(now.devices.map((d) => [d.key, d]));
  const out: string[] = [];
  for (const [key, was] of before) {
    const is = after.get(key);
    out.push(...(is ? deviceChanges(was, is) : [`${was.name}: gone`]));
  }
  for (const [key, is] of after) if (!before.has(key)) out.push(`${is.name}: new device`);
  for (const bus of BUSES) {
    for (const d of now.drivers[bus]) if (!then.drivers[bus].includes(d)) out.push(`driver ${d} registered on ${bus}`);
    for (const d of then.drivers[bus]) if (!now.drivers[bus].includes(d)) out.push(`driver ${d} no longer registered on ${bus}`);
  }
  const mdevs = (h: Host) => new Map((h.mdevs?.devices ?? []).map((m) => [m.uuid, m]));
  const [mThen, mNow] = [mdevs(then), mdevs(now)];
  for (const [uuid, m] of mThen) if (!mNow.has(uuid)) out.push(`mdev ${uuid} (${m.type} on ${m.parent}): gone`);
  for (const [uuid, m] of mNow) if (!mThen.has(uuid)) out.push(`mdev ${uuid} (${m.type} on ${m.parent}): new`);
  const types = (h: Host) => new Map((h.mdevs?.parents ?? []).flatMap((p) => p.types.map((t) => [`${p.name} ${t.id}`, t.availableInstances] as const)));
  const [tThen, tNow] = [types(then), types(now)];
  for (const [key, n] of tNow) {
    const was = tThen.get(key);
    if (was !== undefined && was !== n) out.push(`mdev type ${key}: available instances ${was} → ${n}`);
  }
  return out;
}
