// Reading a snapshot back: the file must be a snapshot (not a state file or a saved plan), of a
// format this version reads, valid against schemas/snapshot.schema.json, and consistent with
// itself, since everything below (planner, kernel model) trusts a Host to be what observe builds.

import { VrError } from '../domain/errors.js';
import { deviceKey, isDeviceName } from '../domain/names.js';
import { capturedFromDocument, type CapturedHost, type SnapshotDocument } from './document.js';
import { KINDS, parseDoc, readText, validateDoc } from './json-doc.js';
import { snapshotValidator } from './schemas.js';

export interface LoadedSnapshot extends CapturedHost {
  path: string;
  doc: SnapshotDocument;
}

const WHAT = 'host snapshot';

/** `text` skips the read (tests). Throws VrError `input` naming every problem. */
export function loadSnapshot(path: string, text?: string): LoadedSnapshot {
  const raw = parseDoc(path, text ?? readText(path, WHAT), KINDS.snapshot, WHAT);
  validateDoc(snapshotValidator(), raw, path, WHAT);
  const doc = raw as unknown as SnapshotDocument;
  return { path, doc, ...checkedCapture(doc, path, WHAT) };
}

/** A schema-valid snapshot document as a CapturedHost, once it is consistent (else VrError `input`). */
export function checkedCapture(doc: SnapshotDocument, path: string, what: string): CapturedHost {
  const problems = inconsistencies(doc);
  if (problems.length > 0) {
    throw new VrError('input', `${path} is not a consistent ${what}`, problems.map((message) => ({ file: path, message })));
  }
  return capturedFromDocument(doc);
}

/** What the schema cannot say: names the kernel could have, unique devices, links that agree. */
function inconsistencies(doc: SnapshotDocument): string[] {
  const out: string[] = [];
  const byKey = new Map<string, SnapshotDocument['devices'][number]>();
  doc.devices.forEach((d, i) => {
    const key = deviceKey(d.bus, d.address);
    if (!isDeviceName(d.bus, d.address)) out.push(`devices[${i}].address: ${JSON.stringify(d.address)} is not a ${d.bus} device name`);
    if (byKey.has(key)) out.push(`devices[${i}]: ${key} is listed twice`);
    byKey.set(key, d);
  });
  for (const d of doc.devices) {
    if (d.driver !== null && !doc.drivers[d.bus].includes(d.driver)) out.push(`${d.address} is bound to ${d.driver}, which drivers.${d.bus} does not list`);
    if (d.virtfns.length > 0 && d.sriov === null) out.push(`${d.address} lists VFs but has no sriov state`);
    for (const vf of d.virtfns) {
      if (byKey.get(`pci/${vf}`)?.physfn !== d.address) out.push(`${d.address} lists VF ${vf}, which does not name it as its physfn`);
    }
    if (d.physfn !== null && !byKey.get(`pci/${d.physfn}`)?.virtfns.includes(d.address)) {
      out.push(`${d.address} names physfn ${d.physfn}, which does not list it among its VFs`);
    }
  }
  const groups: Record<string, string[]> = {};
  for (const d of doc.devices) if (d.iommu_group !== null) (groups[d.iommu_group] ??= []).push(deviceKey(d.bus, d.address));
  for (const group of new Set([...Object.keys(groups), ...Object.keys(doc.iommu_groups)])) {
    const derived = [...(groups[group] ?? [])].sort().join(', ');
    const listed = [...(doc.iommu_groups[group] ?? [])].sort().join(', ');
    if (derived !== listed) out.push(`iommu_groups.${group} lists ${listed || 'nothing'}, but the devices in group ${group} are ${derived || 'none'}`);
  }
  return out;
}
