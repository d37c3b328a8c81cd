// Running vfio-reconcile the way it ships (an installed npm package, the single executable) from a
// directory of its own, with an environment that holds nothing of this repository.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config, Flags, Parser, type Command } from '@oclif/core';
import { packageRoot } from '../../src/cli/paths.js';

export interface Ran {
  stdout: string;
  stderr: string;
  status: number | null;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vr-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** examples/<name> (state file and sysfs tree) copied to `into`/<name>. */
export function copyExample(name: string, into: string): string {
  const to = join(into, name);
  cpSync(join(packageRoot, 'examples', name), to, { recursive: true, verbatimSymlinks: true });
  return to;
}

/**
 * `cmd args` in `cwd` with only the variables given (plus HOME), no color and no pci.ids: NODE_PATH,
 * the caller's PATH and anything else that could lead back to this checkout are gone.
 */
export function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Ran {
  const env = { HOME: opts.cwd, PATH: '/nonexistent', NO_COLOR: '1', VFIO_RECONCILE_PCI_IDS: '', ...opts.env };
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** The same command through the repository's own `node bin/run.js`, for comparison. */
export function runFromCheckout(args: string[], cwd: string): Ran {
  return run(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd });
}

export const show = (r: Ran): string => `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/**
 * Parses `argv` (without the program name) as the CLI would: finds the command it names and runs
 * that command's own parser (base flags, --json where taken). Returns the command id; throws the
 * parser's error for a flag or argument the command does not take.
 */
export async function parseCommandLine(argv: string[]): Promise<string> {
  const config = await Config.load(packageRoot);
  const words = (id: string): string[] => id.split(':');
  const target = config.commands.find((c) => argv.slice(0, words(c.id).length).join(' ') === words(c.id).join(' '));
  if (!target) throw new Error(`no command in: ${argv.join(' ')}`);
  const cls = (await target.load()) as Command.Class & { baseFlags?: Record<string, unknown> };
  const flags = { ...cls.baseFlags, ...cls.flags, ...(cls.enableJsonFlag ? { json: Flags.boolean() } : {}) };
  await Parser.parse(argv.slice(words(target.id).length), { flags, args: cls.args, strict: cls.strict } as Parameters<typeof Parser.parse>[1]);
  return target.id;
}
