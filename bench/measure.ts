// Whole-process timing: wall time from this process's clock around the child; CPU time (user +
// system) and peak RSS from GNU time (`%U %S %M`, the child's rusage). Each command gets one warm-up
// run whose output is checked; then the commands compared with each other take turns, one run each
// per round with output to /dev/null, so a load spike on a shared machine hits all of them alike.

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
  /** CPU milliseconds (user + system) of each timed run; empty without GNU time. */
  cpuMs: number[];
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

interface Run {
  ms: number;
  cpuMs: number | null;
  kib: number | null;
  stdout: string;
  stderr: string;
  status: number | null;
}

function once(cmd: Command, output: 'capture' | 'discard', scratch: string): Run {
  const timed = existsSync(GNU_TIME);
  const usage = join(scratch, 'usage');
  const argv = timed ? [GNU_TIME, '-f', '%U %S %M', '-o', usage, ...cmd.argv] : cmd.argv;
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...cmd.env },
    stdio: ['ignore', output === 'capture' ? 'pipe' : 'ignore', 'pipe'],
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw r.error;
  // GNU time writes "Command exited with non-zero status N" before the numbers when the child fails.
  const [user, system, kib] = timed ? readFileSync(usage, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) : [];
  const cpuMs = user !== undefined && system !== undefined && Number.isFinite(user + system) ? (user + system) * 1000 : null;
  return { ms, cpuMs, kib: kib !== undefined && Number.isFinite(kib) ? kib : null, stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
}

/** Warm-up and check each command, then `runs` rounds in which every command that passed runs once. */
export function measureTogether(cmds: Command[], runs: number, log: (line: string) => void = () => undefined): Measurement[] {
  const scratch = mkdtempSync(join(tmpdir(), 'vr-bench-'));
  try {
    const out: Measurement[] = [];
    const warmStatus = new Map<Measurement, number | null>();
    for (const cmd of cmds) {
      log(`  warm-up: ${cmd.label}`);
      const warm = once(cmd, 'capture', scratch);
      const wrong = cmd.check ? cmd.check(warm.stdout, warm.status) : warm.status === 0 ? null : `exit ${warm.status}`;
      const m: Measurement = { label: cmd.label, ms: [], cpuMs: [], peakKiB: warm.kib };
      if (wrong !== null) {
        const detail = warm.stderr.trim().split('\n').slice(-2).join(' / ');
        m.error = detail ? `${wrong}: ${detail}` : wrong;
      }
      warmStatus.set(m, warm.status);
      out.push(m);
    }
    for (let round = 0; round < runs; round++) {
      log(`  round ${round + 1}/${runs}`);
      cmds.forEach((cmd, i) => {
        const m = out[i]!;
        if (m.error) return;
        const r = once(cmd, 'discard', scratch);
        if (r.status !== warmStatus.get(m)) {
          m.error = `exit ${r.status} in a timed run, ${warmStatus.get(m)} in the warm-up`;
          return;
        }
        m.ms.push(r.ms);
        if (r.cpuMs !== null) m.cpuMs.push(r.cpuMs);
        if (r.kib !== null) m.peakKiB = Math.max(m.peakKiB ?? 0, r.kib);
      });
    }
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
