// The state dir's files are input too: rollback writes the pre-state a journal recorded, and the
// managed set (managed.json, or a journal's copy of it) names devices later plans prune. A disk
// error, a hand edit or another version's format must not reach sysfs, so every name and value in
// them is held to the grammar the executor holds a saved plan to (apply/check-steps.ts) as they
// are read, before anything is written.

import { boolProblem, countProblem, deviceProblem, driverProblem, mdevProblems, overrideProblem, stepsProblems } from '../apply/check-steps.js';
import { stepDevice } from '../apply/steps.js';
import { mdevUuidOf } from '../domain/names.js';
import type { Step } from '../domain/types.js';
import { JOURNAL_FORMAT } from './records.js';

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** `where: problem` for each problem found. */
const at = (where: string, problems: (string | null)[]): string[] => problems.filter((p) => p !== null).map((p) => `${where}: ${p}`);

/** A device key, or an mdev's `mdev/<uuid>` (names.ts mdevKey). */
const keyProblem = (key: unknown): string | null => (typeof key === 'string' && mdevUuidOf(key) !== null ? null : deviceProblem(key));

function bindingProblems(b: unknown, where: string): string[] {
  if (!isObject(b)) return [`${where}: not a binding`];
  return at(where, [b.driver === null ? null : driverProblem(b.driver), overrideProblem(b.override)]);
}

/** An mdev's placement: where it was (or, in a snapshot, null when it did not exist). */
function placementProblems(key: unknown, mdev: unknown, where: string): string[] {
  const uuid = typeof key === 'string' ? mdevUuidOf(key) : null;
  if (uuid === null) return [`${where}: an mdev placement on ${JSON.stringify(key)}, which is no mdev`];
  if (!isObject(mdev)) return [`${where}: not an mdev placement`];
  return at(where, mdevProblems({ uuid, parent: mdev.parent, type: mdev.type }));
}

/** A device's state as records.ts DeviceSnapshot holds it. */
function snapshotProblems(s: unknown, where: string): string[] {
  if (!isObject(s)) return [`${where}: not a device snapshot`];
  const out = [...at(`${where}.key`, [keyProblem(s.key)]), ...bindingProblems(s.binding, `${where}.binding`)];
  if ('physfn' in s) out.push(...at(`${where}.physfn`, [deviceProblem(s.physfn)]));
  if ('sriov' in s) {
    const sriov = s.sriov;
    if (!isObject(sriov) || !Array.isArray(sriov.vfs)) return [...out, `${where}.sriov: not an SR-IOV state`];
    out.push(...at(`${where}.sriov.numVfs`, [countProblem(sriov.numVfs)]));
    if ('autoprobe' in sriov) out.push(...at(`${where}.sriov.autoprobe`, [boolProblem(sriov.autoprobe)]));
    sriov.vfs.forEach((vf: unknown, i) => {
      const w = `${where}.sriov.vfs[${i}]`;
      if (!isObject(vf)) out.push(`${w}: not a VF`);
      else out.push(...at(`${w}.key`, [deviceProblem(vf.key)]), ...bindingProblems(vf.binding, `${w}.binding`));
    });
  }
  if ('mdev' in s) {
    if (s.mdev !== null) out.push(...placementProblems(s.key, s.mdev, `${where}.mdev`));
  } else if (typeof s.key === 'string' && mdevUuidOf(s.key) !== null) {
    out.push(`${where}.mdev: missing: an mdev's snapshot says where it was`);
  }
  return out;
}

function snapshotsProblems(list: unknown, where: string): string[] {
  if (!Array.isArray(list)) return [`${where}: not a list of device snapshots`];
  return list.flatMap((s, i) => snapshotProblems(s, `${where}[${i}]`));
}

function targetProblems(t: unknown, where: string): string[] {
  if (!isObject(t)) return [`${where}: not a target`];
  if (t.kind === 'default' || t.kind === 'none') return [];
  if (t.kind !== 'driver') return [`${where}: unknown target kind ${JSON.stringify(t.kind)}`];
  return at(where, [driverProblem(t.driver), 'chosen' in t ? driverProblem(t.chosen) : null]);
}

/** Every problem in a managed set (managed.ts ManagedSet), as `<device>: problem`; empty when sound. */
export function managedProblems(set: unknown): string[] {
  if (!isObject(set)) return ['devices: not a set of managed devices'];
  return Object.entries(set).flatMap(([key, e]) => {
    const where = JSON.stringify(key);
    if (!isObject(e)) return [`${where}: not a managed device`];
    const out = [
      ...at(where, [keyProblem(key)]),
      ...targetProblems(e.target, `${where}.target`),
      ...bindingProblems(e.original, `${where}.original`),
      ...at(where, [typeof e.since === 'string' && typeof e.journal === 'string' ? null : 'since and journal must name journals']),
    ];
    if (isObject(e.original) && 'numVfs' in e.original) out.push(...at(`${where}.original.numVfs`, [countProblem(e.original.numVfs)]));
    if ('rule' in e && !(isObject(e.rule) && isIndex(e.rule.index) && isIndex(e.rule.line))) out.push(`${where}.rule: not a rule reference`);
    if ('mdev' in e) out.push(...placementProblems(key, e.mdev, `${where}.mdev`));
    return out;
  });
}

/** The begin record: the plan, the pre-state rollback writes back, and the managed set it restores. */
function beginProblems(r: Fields): string[] {
  if (r.format !== JOURNAL_FORMAT) return [`format ${JSON.stringify(r.format)} is not journal format ${JOURNAL_FORMAT}`];
  return [
    ...(typeof r.sysfsRoot === 'string' ? [] : ['sysfsRoot: not a path']),
    ...snapshotsProblems(r.pre, 'pre'),
    ...planProblems(r.plan, r.pre),
    ...managedProblems(r.managed).map((p) => `managed ${p}`),
  ];
}

/** The plan's steps, checked as the executor checks a saved plan, each with a device's pre-state. */
function planProblems(plan: unknown, pre: unknown): string[] {
  const steps = isObject(plan) && Array.isArray(plan.steps) && plan.steps.every(isObject) ? (plan.steps as unknown as Step[]) : null;
  const bad = steps && wellFormed(() => stepsProblems(steps));
  if (!steps || !bad) return ['plan: not a plan with steps'];
  if (bad.length || !Array.isArray(pre)) return at('plan', bad);
  // Rollback restores the devices the started steps wrote to from their pre-state: one missing
  // (or renamed) would be left as the apply made it, with "Rolled back" printed.
  const captured = new Set(pre.map((s: unknown) => (isObject(s) ? s.key : undefined)));
  const missing = new Map<string, number>();
  steps.forEach((step, i) => {
    const key = step.kind === 'verify' ? undefined : stepDevice(step);
    if (key !== undefined && !captured.has(key) && !missing.has(key)) missing.set(key, i + 1);
  });
  return [...missing].map(([key, step]) => `pre: no pre-state for ${key}, which step ${step} writes to`);
}

/** `check`'s result, or null when the value is too misshapen to check (a field of the wrong type). */
function wellFormed(check: () => string[]): string[] | null {
  try {
    return check();
  } catch {
    return null;
  }
}

/** One record's problems; `steps`: how many steps the begin record's plan has. */
function recordProblems(r: unknown, steps: number): string[] {
  if (!isObject(r)) return ['not a record'];
  switch (r.type) {
    case 'begin':
      return beginProblems(r);
    case 'step-start':
    case 'step-done':
      return isIndex(r.index) && r.index < steps ? [] : [`index ${JSON.stringify(r.index)} is no step of the plan`];
    case 'outcome':
      return snapshotsProblems(r.post, 'post');
    default:
      return [];
  }
}

/**
 * Every problem in a journal's records (records.ts JournalRecord, one per line, the begin record
 * first), as `line <n> (<type>): <where>: <problem>`; empty when the journal is sound.
 */
export function journalProblems(records: unknown[]): string[] {
  const begin = records[0];
  const plan = isObject(begin) ? begin.plan : undefined;
  const steps = isObject(plan) && Array.isArray(plan.steps) ? plan.steps.length : 0;
  return records.flatMap((r, i) => {
    const type = isObject(r) && typeof r.type === 'string' ? r.type : 'record';
    return recordProblems(r, steps).map((p) => `line ${i + 1} (${type}): ${p}`);
  });
}
