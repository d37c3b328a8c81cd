// One writer per host: a lock file in the state dir that names its holder. Node has no flock(2), so
// the lock is a file created with link(2), which fails with EEXIST when the lock exists and only
// ever exposes a complete holder record. A holder that is gone (its pid dead, or reused by a
// process with another start time) left a stale lock, which the next run takes over and reports.

import { linkSync, renameSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { VrError } from '../domain/errors.js';
import { readStateFile, syncDir, writeAtomic, type StateDir } from './dir.js';
import type { ProcessId, StateHost } from './host.js';

export interface LockHolder extends ProcessId {
  hostname: string;
  /** The command line that took it: `vfio-reconcile apply /etc/vfio-reconcile/state.yaml`. */
  command: string;
  /** ISO time it was taken. */
  since: string;
}

export interface Lock {
  readonly holder: LockHolder;
  /** The dead holder whose stale lock this one replaced, if any. */
  readonly recovered: LockHolder | null;
  /** Removes the lock if it is still this one's; safe to call twice. */
  release(): void;
}

export interface LockOptions {
  command: string;
  /** How long to wait for a live holder; 0 fails at once. */
  timeoutMs: number;
  pollMs?: number;
  /** Called once when the lock is held by someone else and this run starts waiting. */
  onWait?(holder: LockHolder): void;
}

export async function acquireLock(dir: StateDir, host: StateHost, opts: LockOptions): Promise<Lock> {
  const me: LockHolder = { ...host.self, hostname: host.hostname, command: opts.command, since: host.now().toISOString() };
  const started = performance.now();
  let recovered: LockHolder | null = null;
  let waiting = false;
  for (;;) {
    if (tryCreate(dir, me)) return held(dir, me, recovered);
    const holder = readHolder(dir.lockFile);
    if (holder === null) continue; // released between our attempt and the read
    if (isStale(holder, host)) {
      if (takeOver(dir, holder)) recovered = holder;
      continue;
    }
    const waited = performance.now() - started;
    if (waited >= opts.timeoutMs) throw lockHeld(dir, holder, opts.timeoutMs);
    if (!waiting) opts.onWait?.(holder);
    waiting = true;
    await sleep(Math.min(opts.pollMs ?? 100, opts.timeoutMs - waited));
  }
}

/** `pid 4242 (vfio-reconcile apply state.yaml) since 2025-01-01T00:00:00.000Z` */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid}${h.hostname ? ` on ${h.hostname}` : ''} (${h.command}) since ${h.since}`;
}

/** The holder named in the lock file, or null when there is none. */
export function readHolder(lockFile: string): LockHolder | null {
  const text = readStateFile(lockFile);
  if (text === null) return null;
  try {
    const h = JSON.parse(text) as LockHolder;
    if (Number.isInteger(h.pid) && typeof h.command === 'string' && typeof h.since === 'string') return h;
  } catch {
    // fall through: not a lock this tool wrote
  }
  throw new VrError('lock', `${lockFile} is not a lock vfio-reconcile wrote; it cannot tell who holds it`, [
    { message: `unreadable lock ${lockFile}`, hint: `if no vfio-reconcile is running, remove ${lockFile}` },
  ]);
}

function tryCreate(dir: StateDir, me: LockHolder): boolean {
  const tmp = `${dir.lockFile}.${me.pid}.new`;
  writeAtomic(tmp, JSON.stringify(me) + '\n');
  try {
    linkSync(tmp, dir.lockFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dir.path);
  return true;
}

const sameHolder = (a: LockHolder, b: LockHolder): boolean =>
  a.pid === b.pid && a.start === b.start && a.since === b.since && a.hostname === b.hostname;

/** A holder on another host (a shared state dir) cannot be checked, so it is never stale. */
function isStale(holder: LockHolder, host: StateHost): boolean {
  return holder.hostname === host.hostname && !host.alive(holder);
}

/**
 * Removes the stale lock of `dead`, unless someone got there first. The lock is moved aside
 * atomically and checked: if what was moved is not the dead holder's (another run recovered it and
 * took the lock in between), it is linked back into place.
 */
function takeOver(dir: StateDir, dead: LockHolder): boolean {
  const aside = `${dir.lockFile}.stale-${process.pid}`;
  try {
    renameSync(dir.lockFile, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  let moved: LockHolder | null = null;
  try {
    moved = readHolder(aside);
  } catch {
    // unreadable: not the dead holder's, so it goes back
  }
  if (moved !== null && sameHolder(moved, dead)) {
    unlinkSync(aside);
    syncDir(dir.path);
    return true;
  }
  try {
    linkSync(aside, dir.lockFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(aside);
  }
  return false;
}

function held(dir: StateDir, me: LockHolder, recovered: LockHolder | null): Lock {
  let released = false;
  return {
    holder: me,
    recovered,
    release() {
      if (released) return;
      released = true;
      let now: LockHolder | null = null;
      try {
        now = readHolder(dir.lockFile);
      } catch {
        return; // not ours any more
      }
      if (now !== null && sameHolder(now, me)) {
        unlinkSync(dir.lockFile);
        syncDir(dir.path);
      }
    },
  };
}

function lockHeld(dir: StateDir, holder: LockHolder, timeoutMs: number): VrError {
  const waited = timeoutMs > 0 ? `waited ${timeoutMs / 1000}s (--lock-timeout)` : 'not waiting (--lock-timeout 0)';
  const message = `another vfio-reconcile holds the lock on ${dir.path}: ${describeHolder(holder)}; ${waited}`;
  return new VrError('lock', message, [
    {
      message: `lock ${dir.lockFile} held by pid ${holder.pid}`,
      hint: `let it finish, or wait longer with --lock-timeout; pid ${holder.pid} is alive, so its lock is not stale`,
    },
  ]);
}
