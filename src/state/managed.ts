// The devices the tool manages (managed.json): every device a successful apply changed, with the
// rule and target behind it and the host's own binding from before the tool first touched it. The
// planner gets their keys (PlanOptions.managed) to tell drift from spec and to prune devices no
// rule covers any more; a prune that put a device back to `default` hands it back to the host.

import { VrError } from '../domain/errors.js';
import { mdevKey } from '../domain/names.js';
import { managedProblems } from './check-records.js';
import type { BindingState, DeviceKey, Plan, Target } from '../domain/types.js';
import { readStateFile, writeAtomic, type StateDir } from './dir.js';
import type { DeviceSnapshot } from './records.js';

export interface ManagedEntry {
  /** The rule that last set it (absent when the change came from no rule). */
  rule?: { index: number; name?: string; line: number };
  target: Target;
  /** The host's own binding before the tool first changed the device; kept across later applies. */
  original: BindingState & { numVfs?: number };
  /** Journal of the apply that first changed it, and of the latest one. */
  since: string;
  journal: string;
  /**
   * Set for an mdev the tool created (key `mdev/<uuid>`, names.ts mdevKey): where it created it. An
   * mdev has no binding, so its `target` reads `none` and its `original` unbound; an mdev the tool
   * created and no entry declares any more is pruned, that is removed.
   */
  mdev?: { parent: string; type: string };
}

export type ManagedSet = Record<DeviceKey, ManagedEntry>;

export function readManaged(dir: StateDir): ManagedSet {
  const text = readStateFile(dir.managedFile);
  if (text === null) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${dir.managedFile} is not valid JSON (${(err as Error).message}); restore it from the last journal's begin record`);
  }
  // Plans prune and rollback restores the devices it names: checked like a journal before any use.
  const devices = typeof parsed === 'object' && parsed !== null && 'devices' in parsed ? parsed.devices : {};
  const bad = managedProblems(devices);
  if (bad.length) {
    throw new VrError('input', `${dir.managedFile} records what no kernel could have (damaged, or edited); nothing was written:\n  ${bad.join('\n  ')}`, [
      { message: 'the managed set cannot be trusted', hint: "restore it from the last journal's begin record (its `managed` member)" },
    ]);
  }
  return devices as ManagedSet;
}

export function writeManaged(dir: StateDir, set: ManagedSet): void {
  const devices = Object.fromEntries(Object.entries(set).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeAtomic(dir.managedFile, JSON.stringify({ format: 1, devices }, null, 2) + '\n');
}

/** The managed set after `plan` was applied in full (journal `journal`, pre-states `pre`). Pure. */
export function afterApply(set: ManagedSet, plan: Plan, pre: DeviceSnapshot[], journal: string): ManagedSet {
  const next: ManagedSet = { ...set };
  const before = new Map(pre.map((s) => [s.key, s]));
  for (const change of plan.changes) {
    if (change.reason === 'prune') {
      delete next[change.device];
      continue;
    }
    const known = next[change.device];
    const snap = before.get(change.device);
    const original = known?.original ?? {
      driver: change.before.driver,
      override: change.before.override,
      ...(snap?.sriov ? { numVfs: snap.sriov.numVfs } : {}),
    };
    next[change.device] = {
      ...(change.rule ? { rule: change.rule } : {}),
      target: change.target,
      original,
      since: known?.since ?? journal,
      journal,
    };
  }
  for (const m of plan.mdevs ?? []) {
    const key = mdevKey(m.uuid);
    if (!m.after) {
      delete next[key];
      continue;
    }
    next[key] = {
      ...(m.spec ? { rule: { index: m.spec.index, line: m.spec.line } } : {}),
      target: { kind: 'none' },
      original: { driver: null, override: null },
      since: next[key]?.since ?? journal,
      journal,
      mdev: { parent: m.after.parent, type: m.after.type },
    };
  }
  return next;
}
