// Whole-process timing: wall time from this process's clock around the child, peak RSS from GNU
// time's `%M` (the child's ru_maxrss), one warm-up run whose output is checked, then timed runs with
// output to /dev/null.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface Command {
  /** Row label in the table. */
  label: string;
  argv: string[];
  env?: Record<string, string>;
  /** Checks the warm-up run's output; returns why it is wrong, or null. */
  check?: (stdout: string, status: number | null) => string | null;
}

export interface Measurement {
  label: string;
  /** Wall-clock milliseconds of each timed run. */
  ms: number[];
  /** Peak resident set of the largest run, KiB; null without GNU time. */
  peakKiB: number | null;
  /** Set when the command could not be measured (it failed, or a tool is missing). */
  error?: string;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(values: number[]): Stats {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]! };
}

function once(cmd: Command, output: 'capture' | 'discard', scratch: string): { ms: number; kib: number | null; stdout: string; stderr: string; status: number | null } {
  const timed = existsSync(GNU_TIME);
  const rss = join(scratch, 'rss');
  const argv = timed ? [GNU_TIME, '-f', '%M', '-o', rss, ...cmd.argv] : cmd.argv;
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...cmd.env },
    stdio: ['ignore', output === 'capture' ? 'pipe' : 'ignore', 'pipe'],
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw r.error;
  // GNU time writes "Command exited with non-zero status N" before the number when the child fails.
  const kib = timed ? Number(readFileSync(rss, 'utf8').trim().split('\n').pop()) : null;
  return { ms, kib: Number.isFinite(kib) ? kib : null, stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
}

export function measure(cmd: Command, runs: number): Measurement {
  const scratch = mkdtempSync(join(tmpdir(), 'vr-bench-'));
  try {
    const warm = once(cmd, 'capture', scratch);
    const wrong = cmd.check ? cmd.check(warm.stdout, warm.status) : warm.status === 0 ? null : `exit ${warm.status}`;
    if (wrong !== null) {
      const detail = warm.stderr.trim().split('\n').slice(-2).join(' / ');
      return { label: cmd.label, ms: [], peakKiB: null, error: detail ? `${wrong}: ${detail}` : wrong };
    }
    const ms: number[] = [];
    let peak = warm.kib;
    for (let i = 0; i < runs; i++) {
      const r = once(cmd, 'discard', scratch);
      if (r.status !== warm.status) return { label: cmd.label, ms: [], peakKiB: null, error: `exit ${r.status} in a timed run, ${warm.status} in the warm-up` };
      ms.push(r.ms);
      if (r.kib !== null) peak = Math.max(peak ?? 0, r.kib);
    }
    return { label: cmd.label, ms, peakKiB: peak };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
