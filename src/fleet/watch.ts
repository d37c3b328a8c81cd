// `watch`: keep the host converged, the way a Kubernetes controller does. Level-triggered: every
// pass re-plans from the whole state and the whole host, never from what changed, so a missed or
// coalesced event costs nothing but a pass. Passes run at start, every interval, and as soon as
// the device list changes (hotplug, VFs appearing); a failed pass is retried with backoff and never
// ends the loop. The stop signal ends it: an apply in flight finishes its step, rolls back, and the
// loop returns.
//
// Why the device list is polled: sysfs does not emit inotify events for devices that appear or go
// (its directories are built on demand by kernfs; fs.watch on bus/pci/devices sees nothing), and a
// udev/netlink listener would need a native module. Listing two directories every couple of
// seconds costs microseconds and catches every change that lasts longer than one poll.

import { applyError } from '../apply/result.js';
import { reportFor, type ErrorReport } from '../cli/report.js';
import { formatDiagnostic } from '../domain/errors.js';
import { splitKey } from '../domain/names.js';
import { BUSES } from '../domain/types.js';
import { layout } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import type { PassResult } from './reconcile.js';

export type WatchEventName = 'plan' | 'apply' | 'drift' | 'device-added' | 'device-removed' | 'error';

/** One line of `watch` output. */
export interface WatchEvent {
  time: string;
  event: WatchEventName;
  /** Devices the plan changes (plan, drift, apply). */
  changes?: number;
  [field: string]: unknown;
}

export interface WatchClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface WatchOptions {
  /** Full re-plan period. */
  intervalMs: number;
  /** Device-list poll period between passes. */
  pollMs: number;
  /** Longest wait after repeated failures. */
  maxBackoffMs: number;
}

export interface WatchDeps {
  sysfs: SysfsPort;
  /** One reconcile pass (fleet/reconcile.ts); `signal` stops an apply in flight. */
  pass(signal: AbortSignal): Promise<PassResult>;
  clock: WatchClock;
  emit(event: WatchEvent): void;
}

export interface WatchOutcome {
  /** 0 on a clean stop; 4 when the apply the stop interrupted could not be rolled back. */
  exitCode: number;
  passes: number;
}

type Trigger = 'start' | 'interval' | 'devices' | 'retry';

/** Device keys (`pci/0000:01:00.0`) under bus/<bus>/devices, for every bus the tool rebinds. */
export function listDevices(sysfs: SysfsPort): Set<string> {
  return new Set(BUSES.flatMap((bus) => sysfs.list(layout.busDevices(bus)).map((name) => `${bus}/${name}`)));
}

/** 1 s, 2 s, 4 s ... up to `max`: a failing pass neither spins nor goes quiet for long. */
export function backoffMs(failures: number, max: number): number {
  return Math.min(max, 1000 * 2 ** Math.max(0, failures - 1));
}

export async function watch(opts: WatchOptions, deps: WatchDeps, stop: AbortSignal): Promise<WatchOutcome> {
  const emit = (event: WatchEventName, fields: Record<string, unknown> = {}): void =>
    deps.emit({ time: new Date(deps.clock.now()).toISOString(), event, ...fields });
  let trigger: Trigger = 'start';
  let failures = 0;
  let passes = 0;
  let exitCode = 0;

  while (!stop.aborted) {
    // Taken before the pass: devices the pass itself creates (VFs) show up as added, and the next
    // pass binds them, which a VF rule needs (its VFs exist only after the first apply).
    let known = listDevices(deps.sysfs);
    passes++;
    const outcome = await runPass(deps, stop, trigger, emit);
    if (stop.aborted) {
      if (outcome.rollbackFailed) exitCode = 4;
      break;
    }
    failures = outcome.error ? failures + 1 : 0;
    const delay = failures ? backoffMs(failures, opts.maxBackoffMs) : opts.intervalMs;
    if (outcome.error) emit('error', { ...outcome.error, retryInMs: delay });

    trigger = failures ? 'retry' : 'interval';
    const deadline = deps.clock.now() + delay;
    for (let left = delay; left > 0 && !stop.aborted; left = deadline - deps.clock.now()) {
      await deps.clock.sleep(Math.min(opts.pollMs, left), stop);
      if (stop.aborted) break;
      const now = listDevices(deps.sysfs);
      const added = [...now].filter((k) => !known.has(k)).sort();
      const removed = [...known].filter((k) => !now.has(k)).sort();
      for (const key of added) emit('device-added', deviceFields(key));
      for (const key of removed) emit('device-removed', deviceFields(key));
      known = now;
      if (added.length || removed.length) {
        trigger = 'devices';
        break;
      }
    }
  }
  return { exitCode, passes };
}

interface PassOutcome {
  /** Why the pass failed (the loop backs off); absent when it succeeded. */
  error?: { kind: string; message: string; exitCode: number; diagnostics?: string[] };
  rollbackFailed?: boolean;
}

/** One pass and its events: plan (always), drift (when the host moved), apply (when it wrote). */
async function runPass(deps: WatchDeps, stop: AbortSignal, trigger: Trigger, emit: (e: WatchEventName, f?: Record<string, unknown>) => void): Promise<PassOutcome> {
  let r: PassResult;
  try {
    r = await deps.pass(stop);
  } catch (err) {
    return { error: errorFields(reportFor(err)) };
  }
  if (r.run.kind === 'elsewhere') {
    emit('plan', { trigger, changes: 0, skipped: true, message: r.run.message });
    return {};
  }
  const doc = r.run.doc;
  emit('plan', { trigger, changes: doc.summary.devices, steps: doc.summary.steps, reasons: doc.summary.by_reason, blocked: doc.blocked.length });
  const drifted = doc.changes.filter((c) => c.reason === 'drift');
  if (drifted.length) emit('drift', { changes: drifted.length, devices: drifted.map((c) => c.address) });
  if (!r.result) return {};
  const failed = applyError(r.result);
  emit('apply', {
    changes: doc.summary.devices,
    devices: doc.changes.map((c) => c.address),
    outcome: r.result.outcome,
    steps: r.result.completed.length,
    ...(r.result.failure ? { failure: r.result.failure.message } : {}),
  });
  if (!failed) return {};
  return { error: errorFields(reportFor(failed)), rollbackFailed: r.result.outcome === 'rollback-failed' };
}

/** The error as one event's fields: located problems as `file:line:col: message` lines. */
function errorFields(r: ErrorReport): NonNullable<PassOutcome['error']> {
  const located = r.diagnostics.filter((d) => d.file).map(formatDiagnostic);
  return { kind: r.kind, message: r.message, exitCode: r.exitCode, ...(located.length ? { diagnostics: located } : {}) };
}

function deviceFields(key: string): { device: string; bus: string } {
  const { bus, name } = splitKey(key);
  return { device: name, bus };
}

/** Wall-clock time and an abortable sleep that resolves (never rejects) when stopped. */
export const systemClock: WatchClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((done) => {
      if (signal.aborted) return done();
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        done();
      }
      signal.addEventListener('abort', finish);
    }),
};
