// What a terminal gets and what a pipe gets, from real processes: the plan is colored on a
// terminal (a pseudo-terminal from util-linux `script`) or with FORCE_COLOR, plain through a pipe or
// under NO_COLOR; a long apply shows its live progress line on a terminal and nothing of it in a
// pipe; --quiet on a terminal leaves the outcome alone.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { copyExample, tempDir } from './support.js';

const RUN = join(packageRoot, 'bin/run.js');
const MODEL_HOST = join(packageRoot, 'dist/test/packaging/model-host.js');
const ESC = '\x1b[';

const s = suite<{ dir: string; cleanup: () => void }>('terminal output');
s.before((ctx) => {
  const t = tempDir('terminal');
  Object.assign(ctx, { dir: t.dir, cleanup: t.cleanup });
  copyExample('gpu-passthrough', t.dir);
});
s.after((ctx) => ctx.cleanup());

const baseEnv = (extra: Record<string, string>): Record<string, string> => ({ PATH: process.env.PATH ?? '', HOME: '/tmp', TERM: 'xterm', VFIO_RECONCILE_PCI_IDS: '', ...extra });

/** Through pipes: stdout and stderr apart. */
function piped(argv: string[], cwd: string, env: Record<string, string> = {}): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, argv, { cwd, encoding: 'utf8', env: baseEnv(env) });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** On a pseudo-terminal (both streams on it), as `script` records it. */
function onTerminal(argv: string[], cwd: string, env: Record<string, string> = {}): { out: string; status: number | null } {
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const r = spawnSync('script', ['-qec', [process.execPath, ...argv].map(quote).join(' '), '/dev/null'], { cwd, encoding: 'utf8', env: baseEnv(env) });
  return { out: r.stdout.replace(/\r\n/g, '\n'), status: r.status };
}

const plan = ['plan', 'gpu-passthrough/state.yaml', '--sysfs-root', 'gpu-passthrough/sysfs'];

s('the plan is plain through a pipe, colored with FORCE_COLOR', ({ dir }) => {
  const pipe = piped([RUN, ...plan], dir);
  assert.is(pipe.status, 0, pipe.stderr);
  assert.not.match(pipe.stdout, ESC);
  const forced = piped([RUN, ...plan], dir, { FORCE_COLOR: '1' });
  assert.match(forced.stdout, `${ESC}33m~${ESC}39m`);
});

s('on a terminal the plan is colored, unless NO_COLOR or --no-color', ({ dir }) => {
  const tty = onTerminal([RUN, ...plan], dir);
  assert.is(tty.status, 0, tty.out);
  assert.match(tty.out, `${ESC}33m~${ESC}39m`);
  assert.match(tty.out, `${ESC}1m0000:01:00.0${ESC}22m`);
  for (const [env, args] of [[{ NO_COLOR: '1' }, []], [{}, ['--no-color']]] as const) {
    const plain = onTerminal([RUN, ...plan, ...args], dir, env);
    assert.is(plain.status, 0, plain.out);
    assert.not.match(plain.out, ESC, JSON.stringify({ env, args }));
    assert.match(plain.out, 'Plan: 3 devices to change');
  }
});

s('apply on a terminal draws one live progress line and clears it before the outcome', ({ dir }) => {
  const log = join(dir, 'tty-host.log');
  const r = onTerminal([MODEL_HOST, log, 'apply', 'gpu-passthrough/state.yaml', '--state-dir', join(dir, 'tty-state')], dir);
  assert.is(r.status, 0, r.out);
  const steps = Number(/Plan: 3 devices to change, (\d+) steps/.exec(r.out)?.[1]);
  assert.ok(steps > 0, r.out);
  for (let n = 1; n <= steps; n++) assert.match(r.out, `\r${ESC}2K[${n}/${steps}] `, `step ${n} of ${steps} is drawn`);
  // The last step's line is cleared, so the outcome starts a line of its own.
  assert.match(r.out, new RegExp(`\\r\\x1b\\[2KApply complete: 3 devices changed, ${steps} steps done`));
});

s('apply through a pipe: no progress line, no cursor movement, just the plan and the outcome', ({ dir }) => {
  const log = join(dir, 'pipe-host.log');
  const r = piped([MODEL_HOST, log, 'apply', 'gpu-passthrough/state.yaml', '--state-dir', join(dir, 'pipe-state')], dir);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.not.match(r.stdout, '\r');
  assert.not.match(r.stdout, /\[\d+\/\d+\]/);
  assert.match(r.stdout, /\nApply complete: 3 devices changed/);
});

s('apply --quiet on a terminal: the outcome line and nothing else', ({ dir }) => {
  const log = join(dir, 'quiet-host.log');
  const r = onTerminal([MODEL_HOST, log, 'apply', 'gpu-passthrough/state.yaml', '--state-dir', join(dir, 'quiet-state'), '--quiet'], dir);
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /^Apply complete: 3 devices changed, \d+ steps done, each verified\. Loaded vfio_pci\.\n$/);
});

s.run();
