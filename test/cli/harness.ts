// Runs CLI commands the two ways a user meets them: in-process through the command class (fast,
// and lets a test inject a kernel model through cli/context.ts), and as a real `node bin/run.js`
// subprocess (oclif wiring, exit codes, stdout/stderr separation).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/cli/paths.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { writeSysfsTree } from '../../src/kernel/tree.js';

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

interface Runnable {
  run(argv: string[], opts: string): Promise<unknown>;
}

/** `Cmd.run(argv)` with stdout/stderr captured and the exit code it set (then cleared). */
export async function runIn(cmd: Runnable, argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  const sink = (into: string[]) =>
    ((chunk: string | Uint8Array) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    }) as typeof process.stdout.write;
  process.exitCode = undefined;
  process.stdout.write = sink(out);
  process.stderr.write = sink(err);
  try {
    // --no-color: the test runner may sit on a terminal; output under test is always plain.
    await cmd.run([...argv, '--no-color'], packageRoot);
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout: out.join(''), stderr: err.join(''), exitCode };
}

/**
 * `node bin/run.js argv` as a child process, without a terminal, color or the machine's pci.ids
 * (tests that want names pass VFIO_RECONCILE_PCI_IDS); an undefined env value unsets it.
 */
export function runOut(argv: string[], env: Record<string, string | undefined> = {}): CliResult {
  const merged: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, VFIO_RECONCILE_PCI_IDS: '', VFIO_RECONCILE_SYSFS_ROOT: undefined, ...env };
  const childEnv = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
  const r = spawnSync(process.execPath, [join(packageRoot, 'bin/run.js'), ...argv], {
    cwd: packageRoot,
    encoding: 'utf8',
    env: childEnv,
  });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.status ?? -1 };
}

/** A temp dir holding the model's sysfs tree, for commands run with --sysfs-root. */
export function sysfsTree(model: KernelModel): { dir: string; cleanup: () => void } {
  const t = tempDir('sysfs');
  writeSysfsTree(model, t.dir);
  return t;
}

/** A small pci.ids in the database's format (NVIDIA, ASMedia, Intel). */
export const PCI_IDS_FIXTURE = join(packageRoot, 'test/cli/fixtures/pci.ids');

/** A temp dir for one test file; `file` writes a state file (or anything) into it and returns its path. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void; file: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), `vr-${prefix}-`));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }), file };
}
