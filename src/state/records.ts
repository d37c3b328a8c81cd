// What a journal holds: one JSON object per line, appended and flushed as things happen, so that a
// journal cut off at any point (SIGKILL, power loss) still says what was about to be written and
// what is known to be done. A journal covers one apply and, later, at most one undo of it.

import type { BindingState, DeviceKey, Plan, Step } from '../domain/types.js';
import type { ApplyFailure, ApplyResult, RollbackReport } from '../apply/result.js';
import type { Touched } from '../apply/restore.js';
import type { ManagedSet } from './managed.js';
import type { ProcessId } from './host.js';

export const JOURNAL_FORMAT = 1;

/** A device's state as capture() records it, in JSON form (restore.ts Touched without its run-time fields). */
export interface DeviceSnapshot {
  key: DeviceKey;
  binding: BindingState;
  physfn?: DeviceKey;
  sriov?: { numVfs: number; vfs: { key: DeviceKey; binding: BindingState }[]; autoprobe?: boolean };
  /** An mdev (`mdev/<uuid>`): where it was, or null when it did not exist. */
  mdev?: { parent: string; type: string } | null;
}

/** Who wrote a section of the journal, and in which boot: enough to tell a dead writer from a live one. */
export interface Writer extends ProcessId {
  hostname: string;
  bootId: string | null;
  command: string;
  time: string;
}

export type JournalRecord =
  | {
      type: 'begin';
      format: typeof JOURNAL_FORMAT;
      tool: string;
      writer: Writer;
      sysfsRoot: string;
      plan: Plan;
      /** Every device the plan writes to, captured before the first write. */
      pre: DeviceSnapshot[];
      /** managed.json before this apply: what an undo puts back. */
      managed: ManagedSet;
    }
  | { type: 'step-start'; index: number; step: Step; time: string }
  | { type: 'step-done'; index: number; time: string; ms: number }
  | { type: 'step-failed'; index: number; time: string; message: string }
  | { type: 'signal'; signal: string; time: string }
  | { type: 'restore-write'; device: DeviceKey; what: string; time: string }
  | {
      type: 'outcome';
      /** `refused`: the executor refused the plan before any write (blocked, bad names). */
      outcome: ApplyResult['outcome'] | 'refused';
      time: string;
      message?: string;
      failure?: ApplyFailure;
      rollback?: RollbackReport;
      /** The plan's devices right after the apply (and its rollback, if any). */
      post: DeviceSnapshot[];
    }
  | { type: 'undo-begin'; writer: Writer; reason: 'rollback' | 'recover'; forced: boolean }
  | {
      type: 'undo-end';
      time: string;
      /** `closed`: nothing was written, the journal is settled (a reboot already undid the apply). */
      result: 'restored' | 'incomplete' | 'closed';
      rollback?: RollbackReport;
      note?: string;
    };

export function toSnapshot(t: Touched): DeviceSnapshot {
  const snap: DeviceSnapshot = { key: t.key, binding: t.pre };
  if (t.physfn !== undefined) snap.physfn = t.physfn;
  if (t.sriov) {
    snap.sriov = { numVfs: t.sriov.numVfs, vfs: [...t.sriov.vfs].map(([key, binding]) => ({ key, binding })) };
    if (t.sriov.autoprobe !== undefined) snap.sriov.autoprobe = t.sriov.autoprobe;
  }
  if (t.mdev !== undefined) snap.mdev = t.mdev;
  return snap;
}

/** The Touched record restore.ts rolls back from, rebuilt from the journal. */
export function fromSnapshot(s: DeviceSnapshot): Touched {
  const t: Touched = { key: s.key, pre: s.binding, hung: false, override: s.binding.override };
  if (s.physfn !== undefined) t.physfn = s.physfn;
  if (s.sriov) {
    t.sriov = { numVfs: s.sriov.numVfs, vfs: new Map(s.sriov.vfs.map((v) => [v.key, v.binding])) };
    if (s.sriov.autoprobe !== undefined) t.sriov.autoprobe = s.sriov.autoprobe;
  }
  if (s.mdev !== undefined) t.mdev = s.mdev;
  return t;
}
