// Runs the real vfio-reconcile CLI inside the lab guest, plainly or held at a chosen sysfs write.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WORK = '/tmp/vrlab';
const BIN = join(process.cwd(), 'bin/run.js');

export interface CliRun {
  exit: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** `vfio-reconcile ARGS`, bounded so that a hung write shows up as a failed scenario, not a hung lab. */
export function cli(args: string[], timeoutMs = 120_000): CliRun {
  const started = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' } });
  const stderr = (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '');
  return { exit: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr, seconds: (Date.now() - started) / 1000 };
}

/** Writes a state file under the guest's /tmp and returns its path. */
export function stateFile(name: string, yaml: string): string {
  mkdirSync(WORK, { recursive: true });
  const path = join(WORK, `${name}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

export interface Rule {
  match: Record<string, string>;
  driver: string;
  /** Further YAML for the rule, e.g. `vfs: { count: 2, driver: vfio-pci }`. */
  extra?: string;
}

/** A version-1 state file with `rules` and an optional `options:` line. */
export function stateYaml(rules: Rule[], options?: string): string {
  const lines = ['version: 1', 'devices:'];
  for (const r of rules) {
    const match = Object.entries(r.match).map(([k, v]) => `${k}: "${v}"`).join(', ');
    lines.push(`  - match: { ${match} }`, `    driver: ${r.driver}`);
    if (r.extra) lines.push(`    ${r.extra}`);
  }
  if (options) lines.push('options:', `  ${options}`);
  return lines.join('\n') + '\n';
}

export function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export interface HeldRun {
  child: ChildProcess;
  /** The CLI's own pid (strace's child), once it has started. */
  cliPid(): number | null;
  /** Whether the CLI is right now held in its write to the path. */
  holding(): boolean;
  done: Promise<CliRun>;
}

/** Gathers a child's output as it comes: `stdout()` so far, and the whole run once it has ended. */
function collect(child: ChildProcess): { stdout(): string; done: Promise<CliRun> } {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const started = Date.now();
  const done = new Promise<CliRun>((res) => child.once('close', (exit, signal) => res({ exit, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 })));
  return { stdout: () => stdout, done };
}

export interface BackgroundRun {
  child: ChildProcess;
  /** What it has printed on stdout so far. */
  stdout(): string;
  done: Promise<CliRun>;
}

/** `vfio-reconcile ARGS` left running (e.g. `watch`), for the scenario to act on while it runs. */
export function cliBackground(args: string[]): BackgroundRun {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, ...collect(child) };
}

/**
 * `vfio-reconcile ARGS` under strace, which holds the first write(2) to `path` (a sysfs attribute)
 * for `holdSeconds` before letting it through: a deterministic "middle of an apply" at which a
 * scenario can unplug a device or kill the CLI.
 */
export function cliHeldAt(path: string, holdSeconds: number, args: string[]): HeldRun {
  const child = spawn(
    'strace',
    ['-f', '-qq', '-o', '/dev/null', '--seccomp-bpf', '-P', path, '-e', 'trace=write,pwrite64', '-e', `inject=write,pwrite64:delay_enter=${holdSeconds * 1_000_000}:when=1`, process.execPath, BIN, ...args],
    { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { done } = collect(child);
  const tasks = (pid: number): string[] => {
    try {
      return readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  };
  const children = (pid: number): number[] =>
    tasks(pid).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  const cliPid = (): number | null => (child.pid === undefined ? null : (children(child.pid)[0] ?? null));
  // The CLI writes from a child process of its own (its write worker), so look at every descendant.
  const descendants = (pid: number): number[] => children(pid).flatMap((c) => [c, ...descendants(c)]);
  const target = realpathSync(path);
  const WRITE_SYSCALLS = new Set(['1', '18']); // write, pwrite64 on x86-64
  const writingTarget = (pid: number, tid: string): boolean => {
    try {
      const [nr, fd] = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ');
      return WRITE_SYSCALLS.has(nr!) && readlinkSync(`/proc/${pid}/fd/${Number(fd)}`) === target;
    } catch {
      return false;
    }
  };
  const holding = (): boolean => child.pid !== undefined && descendants(child.pid).some((pid) => tasks(pid).some((tid) => writingTarget(pid, tid)));
  return { child, cliPid, holding, done };
}

/** Polls `test` every 50 ms until it holds or `seconds` pass; returns whether it held. */
export async function waitFor(test: () => boolean, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (test()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return test();
}
