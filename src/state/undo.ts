// `rollback`: put the devices the last apply wrote to back to the pre-state its journal recorded,
// through the executor's own restore (apply/restore.ts), and managed.json back to what it was
// before that apply. It refuses when the pre-state no longer means anything: the host rebooted
// (overrides are gone, drivers were probed afresh), or the devices are in a state that is neither
// the apply's result nor the pre-state (someone else changed them since). --recover finishes an
// apply (or rollback) that was interrupted half-way.

import { deviceExists, makeIo } from '../apply/io.js';
import { mdevUuidOf } from '../domain/names.js';
import { rollBack } from '../apply/restore.js';
import { describeBinding, type ApplyHooks, type RollbackReport } from '../apply/result.js';
import { VrError } from '../domain/errors.js';
import type { BindingState, DeviceKey } from '../domain/types.js';
import { openStateDir, stateDirPath, type StateDir } from './dir.js';
import { systemStateHost, type StateHost } from './host.js';
import { describeOpen, JournalWriter, journalStatus, lastJournalId, readJournal, writerNow, type JournalView } from './journal.js';
import { acquireLock, describeHolder } from './lock.js';
import { writeManaged } from './managed.js';
import { fromSnapshot, type DeviceSnapshot } from './records.js';
import { planDevices, snapshots, type Say, type StateEnv } from './session.js';
import type { ModulePort } from '../sysfs/port.js';

export interface UndoRequest {
  dir: string | undefined;
  /** Restore even after a reboot or with devices changed underneath. */
  force: boolean;
  dryRun: boolean;
  /** Finish an interrupted apply or rollback. */
  recover: boolean;
  lockTimeoutMs: number;
  writeTimeoutMs: number;
  command: string;
  say: Say;
  /** Progress of the restore writes (a terminal is watching). */
  progress?: ApplyHooks;
}

export interface UndoDevice {
  device: DeviceKey;
  /** null: the device is gone. */
  now: BindingState | null;
  to: BindingState;
}

export interface UndoResult {
  journal: string;
  /** `nothing`: there was nothing to do; `closed`: the journal was settled without writing. */
  action: 'restored' | 'would-restore' | 'closed' | 'nothing';
  message: string;
  devices: UndoDevice[];
  rollback?: RollbackReport;
  /** Set when the restore did not complete (exit 4); the result is still worth printing. */
  error?: VrError;
}

export async function rollbackLast(env: StateEnv & { modules: ModulePort }, req: UndoRequest): Promise<UndoResult> {
  const dir = existingStateDir(req.dir, env.sysfs.root);
  const host = env.stateHost ?? systemStateHost();
  const lock = req.dryRun
    ? null
    : await acquireLock(dir, host, {
        command: req.command,
        timeoutMs: req.lockTimeoutMs,
        onWait: (h) => req.say(`Waiting up to ${req.lockTimeoutMs / 1000}s for the lock on ${dir.path}, held by ${describeHolder(h)} ...`),
      });
  try {
    if (lock?.recovered) req.say(`Recovered a stale lock on ${dir.path} left by ${describeHolder(lock.recovered)}: that process is gone.`);
    return await undo(dir, env, host, req);
  } finally {
    lock?.release();
  }
}

function existingStateDir(flag: string | undefined, sysfsRoot: string): StateDir {
  const path = stateDirPath(flag, sysfsRoot);
  if (path === null) {
    throw new VrError('input', `rollback needs the journal of an apply, and a run on --sysfs-root ${sysfsRoot} keeps one only with --state-dir`, [
      { message: 'no state dir', hint: 'pass the --state-dir the apply used' },
    ]);
  }
  const dir = openStateDir(path, { create: false });
  const id = dir ? lastJournalId(dir) : null;
  if (!dir || id === null) throw new VrError('input', `nothing to roll back: no apply has been journaled in ${path}`);
  return dir;
}

async function undo(dir: StateDir, env: StateEnv & { modules: ModulePort }, host: StateHost, req: UndoRequest): Promise<UndoResult> {
  const view = readJournal(dir, lastJournalId(dir)!);
  const status = journalStatus(view, host);
  const result = (action: UndoResult['action'], message: string, devices: UndoDevice[] = []): UndoResult => ({ journal: view.path, action, message, devices });
  const applied = `the apply of ${view.begin.writer.time} (${view.begin.writer.command})`;

  if (status.kind === 'running') throw new VrError('lock', describeOpen(view, status));
  if (view.begin.sysfsRoot !== env.sysfs.root) {
    throw new VrError('input', `${applied} wrote to sysfs root ${view.begin.sysfsRoot}; this run would write to ${env.sysfs.root}`, [
      { message: 'the journal belongs to another sysfs root', hint: `run rollback with --sysfs-root ${view.begin.sysfsRoot}` },
    ]);
  }
  if (status.kind === 'interrupted') {
    if (!req.recover) {
      throw new VrError('safety', `${describeOpen(view, status)}\nPlain rollback acts only on a finished apply.`, [
        { message: 'the last apply did not finish', hint: 'vfio-reconcile rollback --recover' },
      ]);
    }
    if (status.rebooted) {
      const note = `${applied} was interrupted, and the host has rebooted since: the overrides it set went with the boot, so there is nothing to restore.`;
      if (req.dryRun) return result('nothing', `${note} Without --dry-run its journal would be closed.`);
      close(dir, view, host, req, note);
      return result('closed', `${note} Its journal is closed; run plan to see where the host stands.`);
    }
    return restore(dir, env, host, req, view, 'recover');
  }

  const done = view.undo?.end;
  if (done?.result === 'incomplete') {
    // The last rollback left devices half-way: trying again only needs the same boot.
    refuseStale(env, host, view, req.force, false);
    return restore(dir, env, host, req, view, view.undo!.begin.reason);
  }
  if (req.recover) return result('nothing', `Nothing to recover: ${applied} finished (${view.outcome?.outcome}).`);
  if (done?.result === 'restored') return result('nothing', `Nothing to roll back: ${applied} was already rolled back.`);
  if (done?.result === 'closed') return result('nothing', `Nothing to roll back: ${applied} was interrupted and a reboot undid it; its journal is closed.`);
  if (view.outcome?.outcome === 'rolled-back' || view.outcome?.outcome === 'refused') {
    return result('nothing', `Nothing to roll back: ${applied} ${view.outcome.outcome === 'refused' ? 'was refused before any write' : 'failed and was rolled back then'}.`);
  }
  refuseStale(env, host, view, req.force, true);
  return restore(dir, env, host, req, view, 'rollback');
}

/**
 * Refuses (unless forced) when the journal's pre-state is no longer a safe place to go back to: a
 * reboot, or (`devices`) a device neither as the apply left it nor as it was before.
 */
function refuseStale(env: StateEnv, host: StateHost, view: JournalView, force: boolean, devices: boolean): void {
  const then = view.begin.writer.bootId;
  const now = host.bootId();
  const problems: string[] = [];
  if (then !== null && now !== null && then !== now) {
    problems.push(
      `The host has rebooted since the apply (boot id ${then} then, ${now} now): the overrides it set are gone and every device was probed afresh, so its pre-state says nothing about the host now.`,
    );
  }
  const post = new Map((view.outcome?.post ?? []).map((s) => [s.key, s]));
  const changed: string[] = [];
  for (const pre of devices ? touchedSnapshots(view) : []) {
    const cur = current(env, pre.key);
    const after = post.get(pre.key);
    if (cur && (same(cur, pre) || (after && same(cur, after)))) continue;
    changed.push(
      cur
        ? `  ${pre.key}: now ${describeSnap(cur)}; after the apply ${after ? describeSnap(after) : 'unknown'}; before it ${describeSnap(pre)}`
        : `  ${pre.key}: gone`,
    );
  }
  if (changed.length) problems.push(`Devices changed since the apply, by something else:\n${changed.join('\n')}`);
  if (!problems.length || force) return;
  throw new VrError('safety', `refusing to roll back; nothing was written.\n${problems.join('\n')}`, [
    { message: 'the journal no longer describes this host', hint: 'review with `vfio-reconcile status`, then use --force to restore the pre-state anyway' },
  ]);
}

async function restore(
  dir: StateDir,
  env: StateEnv & { modules: ModulePort },
  host: StateHost,
  req: UndoRequest,
  view: JournalView,
  reason: 'rollback' | 'recover',
): Promise<UndoResult> {
  const pres = touchedSnapshots(view);
  const devices: UndoDevice[] = [];
  for (const pre of pres) {
    const cur = current(env, pre.key);
    if (!cur || !same(cur, pre)) devices.push({ device: pre.key, now: cur?.binding ?? null, to: pre.binding });
  }
  const subject = reason === 'recover' ? `the interrupted ${view.undo ? 'rollback' : 'apply'} of ${view.begin.writer.time}` : `the apply of ${view.begin.writer.time}`;
  if (req.dryRun) {
    const message = devices.length ? `Would restore ${devices.length} device(s) to their state before ${subject}.` : `Nothing to restore: the devices of ${subject} are as they were before it.`;
    return { journal: view.path, action: 'would-restore', message, devices };
  }
  const w = JournalWriter.reopen(dir, view.id);
  try {
    w.append({ type: 'undo-begin', writer: writerNow(host, req.command), reason, forced: req.force });
    const record: ApplyHooks = {
      async onRollbackStep(device, what) {
        try {
          w.append({ type: 'restore-write', device, what, time: host.now().toISOString() });
        } catch {
          // the restore goes ahead; undo-end says where each device ended up
        }
        await req.progress?.onRollbackStep?.(device, what);
      },
    };
    const report = await rollBack(pres.map(fromSnapshot), makeIo(env.sysfs, env.modules, req.writeTimeoutMs), record);
    const ok = report.failed.length === 0;
    w.append({ type: 'undo-end', time: host.now().toISOString(), result: ok ? 'restored' : 'incomplete', rollback: report });
    if (ok) writeManaged(dir, view.begin.managed);
    const restored = devices.map((d) => d.device).filter((k) => report.restored.includes(k));
    const message = ok
      ? restored.length
        ? `Rolled back ${subject}: ${restored.join(', ')} ${restored.length === 1 ? 'is' : 'are'} as before it.`
        : `Rolled back ${subject}: nothing had changed.`
      : `The rollback of ${subject} did not complete.`;
    const out: UndoResult = { journal: view.path, action: 'restored', message, devices, rollback: report };
    if (!ok) out.error = incomplete(subject, report);
    return out;
  } finally {
    w.close();
  }
}

/** Closes an interrupted journal without writing to sysfs. */
function close(dir: StateDir, view: JournalView, host: StateHost, req: UndoRequest, note: string): void {
  const w = JournalWriter.reopen(dir, view.id);
  try {
    w.append({ type: 'undo-begin', writer: writerNow(host, req.command), reason: 'recover', forced: req.force });
    w.append({ type: 'undo-end', time: host.now().toISOString(), result: 'closed', note });
  } finally {
    w.close();
  }
}

/** Pre-states of the devices the apply started writing to, in the order it first wrote them. */
function touchedSnapshots(view: JournalView): DeviceSnapshot[] {
  const keys = planDevices(view.begin.plan, view.started);
  const byKey = new Map(view.begin.pre.map((s) => [s.key, s]));
  return keys.map((k) => byKey.get(k)).filter((s): s is DeviceSnapshot => s !== undefined);
}

/** The device as it is now, or null when it is gone. */
function current(env: StateEnv, key: DeviceKey): DeviceSnapshot | null {
  // An mdev's snapshot says itself whether it exists (`mdev: null`): removed is a state, not gone.
  return deviceExists(env.sysfs, key) || mdevUuidOf(key) !== null ? snapshots(env.sysfs, [key])[0]! : null;
}

const same = (a: DeviceSnapshot, b: DeviceSnapshot): boolean =>
  a.binding.driver === b.binding.driver &&
  a.binding.override === b.binding.override &&
  a.sriov?.numVfs === b.sriov?.numVfs &&
  JSON.stringify(a.mdev) === JSON.stringify(b.mdev);

function describeSnap(s: DeviceSnapshot): string {
  return `${describeBinding(s.binding)}${s.sriov ? `, ${s.sriov.numVfs} VFs` : ''}`;
}

function incomplete(subject: string, report: RollbackReport): VrError {
  const lines = [`The rollback of ${subject} did not complete. Left behind:`];
  for (const f of report.failed) {
    lines.push(`  ${f.device}: ${describeBinding(f.state)}; before the apply: ${describeBinding(f.wanted)}`, `    ${f.message}`);
  }
  if (report.restored.length) lines.push(`Restored: ${report.restored.join(', ')}.`);
  return new VrError(
    'rollback-failed',
    lines.join('\n'),
    report.failed.map((f) => ({ message: `${f.device} is ${describeBinding(f.state)}, was ${describeBinding(f.wanted)}: ${f.message}`, hint: 'fix what holds it, then run `vfio-reconcile rollback` again' })),
  );
}
