// How plan and apply use the state dir. Plan (and status, and apply --dry-run) only peek: the
// managed set and a warning about an unfinished journal; nothing is created or locked. Apply takes
// the host's lock before it observes anything, refuses to run after an interrupted apply, and runs
// the executor inside a journal whose begin record is on disk before the first write.

import { deviceExists } from '../apply/io.js';
import { mdevUuidOf } from '../domain/names.js';
import { capture } from '../apply/restore.js';
import type { ApplyHooks, ApplyResult } from '../apply/result.js';
import { stepDevice } from '../apply/steps.js';
import { VrError } from '../domain/errors.js';
import type { DeviceKey, Plan, Target } from '../domain/types.js';
import type { SysfsPort } from '../sysfs/port.js';
import { openStateDir, stateDirPath, type StateDir } from './dir.js';
import { systemStateHost, type StateHost } from './host.js';
import { describeOpen, JournalWriter, journalStatus, lastJournalId, readJournal, writerNow } from './journal.js';
import { acquireLock, describeHolder } from './lock.js';
import { afterApply, readManaged, writeManaged, type ManagedSet } from './managed.js';
import { JOURNAL_FORMAT, toSnapshot, type DeviceSnapshot } from './records.js';

/** The part of a command's run environment the state dir needs (cli/context.ts RunEnv has it). */
export interface StateEnv {
  sysfs: SysfsPort;
  /** Boot id, clock and process table; the live machine's when absent. */
  stateHost?: StateHost;
}

export type Say = (line: string) => void;

const hostOf = (env: StateEnv): StateHost => env.stateHost ?? systemStateHost();

/**
 * For plan, status and apply --dry-run: the managed devices (for prune and drift), telling `say`
 * about an unfinished journal. A state dir this user cannot read (plan as non-root) is reported,
 * and the plan goes on without the managed set.
 */
export function peekState(env: StateEnv, dirFlag: string | undefined, say: Say): DeviceKey[] {
  return Object.keys(peekManaged(env, dirFlag, say));
}

/** peekState with what the last apply set each device to (for telling spec from drift). */
export function peekManaged(env: StateEnv, dirFlag: string | undefined, say: Say): ManagedSet {
  const path = stateDirPath(dirFlag, env.sysfs.root);
  if (path === null) return {};
  const dir = openStateDir(path, { create: false });
  if (!dir) return {};
  try {
    const note = unfinished(dir, hostOf(env));
    if (note) say(`Warning: ${note.message}`);
    return readManaged(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    say(`Warning: cannot read state dir ${path} (${(err as Error).message}): devices an earlier apply changed are not checked for drift or prune; run as root.`);
    return {};
  }
}

/** What the planner takes from the managed set: PlanOptions.managed and PlanOptions.applied. */
export function planInputs(set: ManagedSet): { managed: DeviceKey[]; applied: Record<DeviceKey, Target> } {
  return { managed: Object.keys(set), applied: Object.fromEntries(Object.entries(set).map(([key, entry]) => [key, entry.target])) };
}

/** The last journal's unfinished section, described; null when it is settled or there is none. */
function unfinished(dir: StateDir, host: StateHost): { message: string; interrupted: boolean } | null {
  const id = lastJournalId(dir);
  if (id === null) return null;
  const view = readJournal(dir, id);
  const status = journalStatus(view, host);
  if (status.kind === 'settled') return null;
  return { message: describeOpen(view, status), interrupted: status.kind === 'interrupted' };
}

export interface ApplyStateRequest {
  /** `--state-dir` as given (undefined: the default for the live /sys, none elsewhere). */
  dir: string | undefined;
  lockTimeoutMs: number;
  /** The command line, for the lock and the journal. */
  command: string;
  /** `vfio-reconcile 0.1.0`, for the journal. */
  tool: string;
  say: Say;
}

export interface ApplyState {
  managed: DeviceKey[];
  /** What the last applies set each managed device to (PlanOptions.applied). */
  applied: Record<DeviceKey, Target>;
  journal: ApplyJournal;
  release(): void;
}

/** Null when the run keeps no state (another --sysfs-root without --state-dir). */
export async function openApplyState(env: StateEnv, req: ApplyStateRequest): Promise<ApplyState | null> {
  const path = stateDirPath(req.dir, env.sysfs.root);
  if (path === null) return null;
  const dir = openStateDir(path, { create: true })!;
  const host = hostOf(env);
  const lock = await acquireLock(dir, host, {
    command: req.command,
    timeoutMs: req.lockTimeoutMs,
    onWait: (h) => req.say(`Waiting up to ${req.lockTimeoutMs / 1000}s for the lock on ${dir.path}, held by ${describeHolder(h)} ...`),
  });
  try {
    if (lock.recovered) req.say(`Recovered a stale lock on ${dir.path} left by ${describeHolder(lock.recovered)}: that process is gone.`);
    const open = unfinished(dir, host);
    if (open) {
      throw new VrError(open.interrupted ? 'safety' : 'lock', `refusing to apply; nothing was written.\n${open.message}`, [
        { message: 'the last apply did not finish', hint: 'vfio-reconcile rollback --recover' },
      ]);
    }
    const managed = readManaged(dir);
    return { ...planInputs(managed), journal: applyJournal(dir, env.sysfs, host, managed, req), release: () => lock.release() };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** What cli/run-apply.ts wraps around the executor. */
export interface ApplyJournal {
  /** Runs `go` (the executor, given the hooks to pass it) inside the journal. */
  run(plan: Plan, progress: ApplyHooks | undefined, go: (hooks: ApplyHooks) => Promise<ApplyResult>): Promise<ApplyResult>;
  /** Records a SIGINT/SIGTERM the moment it arrives. */
  signal(name: string): void;
}

/** Devices the plan writes to, in the order it first writes them: the order rollback undoes in reverse. */
export function planDevices(plan: Plan, indexes?: number[]): DeviceKey[] {
  const order = indexes ?? plan.steps.map((_, i) => i);
  const keys: DeviceKey[] = [];
  for (const i of order) {
    const step = plan.steps[i];
    const key = step && step.kind !== 'verify' ? stepDevice(step) : undefined;
    if (key !== undefined && !keys.includes(key)) keys.push(key);
  }
  return keys;
}

export function snapshots(sysfs: SysfsPort, keys: DeviceKey[]): DeviceSnapshot[] {
  return keys.map((k) => toSnapshot(capture(sysfs, k)));
}

function applyJournal(dir: StateDir, sysfs: SysfsPort, host: StateHost, managed: ManagedSet, req: ApplyStateRequest): ApplyJournal {
  let journal: JournalWriter | null = null;
  const time = () => host.now().toISOString();
  return {
    async run(plan, progress, go) {
      // No write, no journal: a no-op or a blocked plan leaves nothing to undo.
      if (plan.steps.length === 0 || !plan.applyable) return go(progress ?? {});
      const devices = planDevices(plan);
      const pre = snapshots(sysfs, devices);
      const w = JournalWriter.create(dir, {
        type: 'begin', format: JOURNAL_FORMAT, tool: req.tool, writer: writerNow(host, req.command), sysfsRoot: sysfs.root, plan, pre, managed,
      });
      journal = w;
      let started = false;
      const record: ApplyHooks = {
        onStepStart(step, index) {
          started = true;
          w.append({ type: 'step-start', index, step, time: time() });
        },
        onStepDone(_step, index, _total, ms) {
          w.append({ type: 'step-done', index, time: time(), ms: Math.round(ms) });
        },
        onStepFailed(step, error) {
          w.append({ type: 'step-failed', index: plan.steps.indexOf(step), time: time(), message: error.message });
        },
        onRollbackStep(device, what) {
          // A rollback write goes ahead even when the journal cannot record it.
          try {
            w.append({ type: 'restore-write', device, what, time: time() });
          } catch {
            // the outcome record says where each device ended up
          }
        },
      };
      let result: ApplyResult;
      try {
        result = await go(chain(record, progress));
      } catch (err) {
        // Thrown before the first step (a refusal): nothing was written. Later, the journal stays
        // open, so the next run treats the apply as interrupted and offers to finish the rollback.
        if (!started) w.append({ type: 'outcome', outcome: 'refused', time: time(), post: pre, message: (err as Error).message });
        w.close();
        throw err;
      }
      w.append({
        type: 'outcome',
        outcome: result.outcome,
        time: time(),
        ...(result.failure ? { failure: result.failure } : {}),
        ...(result.rollback ? { rollback: result.rollback } : {}),
        post: snapshots(sysfs, devices.filter((k) => deviceExists(sysfs, k) || mdevUuidOf(k) !== null)),
      });
      w.close();
      if (result.outcome === 'applied') writeManaged(dir, afterApply(managed, plan, pre, w.id));
      return result;
    },
    signal(name) {
      journal?.append({ type: 'signal', signal: name, time: time() });
    },
  };
}

/** `first`'s hook, then `second`'s, for every hook either has. */
function chain(first: ApplyHooks, second: ApplyHooks | undefined): ApplyHooks {
  if (!second) return first;
  const both = <K extends keyof ApplyHooks>(k: K) =>
    (async (...args: unknown[]) => {
      await (first[k] as ((...a: unknown[]) => unknown) | undefined)?.(...args);
      await (second[k] as ((...a: unknown[]) => unknown) | undefined)?.(...args);
    }) as NonNullable<ApplyHooks[K]>;
  return { onStepStart: both('onStepStart'), onStepDone: both('onStepDone'), onStepFailed: both('onStepFailed'), onRollbackStep: both('onRollbackStep') };
}
