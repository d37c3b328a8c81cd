// What the state dir needs to know about the machine outside /sys: this process, the boot it runs
// in, the time, and whether another process is still alive. Read from one proc root (`/proc`, or a
// fake tree in tests) plus an injectable clock, so no test depends on the real machine's boot.

import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';

/** A process as the lock and the journal record it: a pid alone is reused, pid + start time is not. */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); null when unreadable. */
  start: string | null;
}

export interface StateHost {
  /** This process. */
  readonly self: ProcessId;
  /** The real machine's name (not `--hostname`, which only picks a state file's hosts). */
  readonly hostname: string;
  /** `/proc/sys/kernel/random/boot_id`: changes on every boot; null where unreadable. */
  bootId(): string | null;
  now(): Date;
  /** Whether `p` still runs: the pid exists, is no zombie, and (when recorded) started at the same tick. */
  alive(p: ProcessId): boolean;
}

export interface StateHostOptions {
  procRoot?: string;
  hostname?: string;
  clock?: () => Date;
  /** The process to present as this one (tests); default the running process. */
  pid?: number;
}

export function systemStateHost(opts: StateHostOptions = {}): StateHost {
  const proc = opts.procRoot ?? '/proc';
  const pid = opts.pid ?? process.pid;
  return {
    self: { pid, start: procStat(proc, pid)?.start ?? null },
    hostname: opts.hostname ?? osHostname(),
    bootId: () => readText(join(proc, 'sys/kernel/random/boot_id')),
    now: opts.clock ?? (() => new Date()),
    alive(p) {
      const stat = procStat(proc, p.pid);
      if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
      return p.start === null || stat.start === p.start;
    },
  };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** State and start time from /proc/<pid>/stat; the command name in field 2 may hold spaces and parens. */
function procStat(proc: string, pid: number): { state: string; start: string } | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const text = readText(join(proc, String(pid), 'stat'));
  const close = text?.lastIndexOf(')') ?? -1;
  if (!text || close < 0) return null;
  // After the command: field 3 (state) is index 0, field 22 (starttime) index 19.
  const fields = text.slice(close + 2).split(' ');
  return fields.length > 19 ? { state: fields[0]!, start: fields[19]! } : null;
}
