// Runs the real vfio-reconcile CLI inside the lab guest, plainly or held at a chosen sysfs write.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WORK = '/tmp/vrlab';
const BIN = join(process.cwd(), 'bin/run.js');

export interface CliRun {
  exit: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** `vfio-reconcile ARGS`, bounded so that a hung write shows up as a failed scenario, not a hung lab. */
export function cli(args: string[], timeoutMs = 120_000): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' } });
  return { exit: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
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
  done: Promise<CliRun>;
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
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<CliRun>((res) => child.once('close', (exit, signal) => res({ exit, signal, stdout, stderr })));
  const cliPid = (): number | null => {
    try {
      const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      return kids.length ? Number(kids[0]) : null;
    } catch {
      return null;
    }
  };
  return { child, cliPid, done };
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
