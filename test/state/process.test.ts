// The CLI as separate processes, the way a timer, an agent and an operator's shell meet it: a second
// apply waits for the lock and gives up naming the holder; an apply killed with SIGKILL half-way is
// found by the next run and recovered; SIGTERM finishes the step in flight, rolls back and exits 3.
// The "kernel" is the model, run inside the CLI process by model-cli.ts, which logs each write it
// completes; replaying that log gives the machine as the process left it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Rollback from '../../src/commands/rollback.js';
import type { Host } from '../../src/domain/types.js';
import { runIn } from '../cli/harness.js';
import { GPU_STATE, hostOf, journalRecords, replay, workspace, type Completed } from './support.js';

const MODEL_CLI = fileURLToPath(new URL('./model-cli.js', import.meta.url));
/** The write the apply is held at: unbind of the GPU's audio function, step 5 of 9 (index 4). */
const HANG = 'bus/pci/drivers/snd_hda_intel/unbind';

interface Run {
  child: ChildProcess;
  /** What it has written to stderr so far. */
  stderr(): string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Children still running when a test ends (it failed half-way) are killed, not left behind. */
const running = new Set<ChildProcess>();

function modelCli(log: string, hang: string, argv: string[]): Run {
  const child = spawn(process.execPath, [MODEL_CLI, log, hang, ...argv, '--no-color'], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, stderr: () => stderr, done };
}

/** Polls until `ok()`; fails the test (instead of hanging it) after 20 s. */
async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const until = Date.now() + 20_000;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const heldAtHang = (stateDir: string) => (): boolean =>
  existsSync(join(stateDir, 'journal', 'last')) && journalRecords(stateDir).some((r) => r.type === 'step-start' && r.index === 4);

const s = suite<{ w: ReturnType<typeof workspace>; gpu: string; before: Host }>('apply as a process');

s.before.each((ctx) => {
  ctx.w = workspace();
  ctx.gpu = ctx.w.file('gpu.yaml', GPU_STATE);
  ctx.before = hostOf(gpuPassthrough());
});
s.after.each((ctx) => {
  for (const child of running) child.kill('SIGKILL');
  injectEnv(null);
  ctx.w.cleanup();
});

s('a second apply waits for the lock, then exits 1 naming the holder; one that waits long enough gets it', async (ctx) => {
  const applyArgs = (timeout: string) => ['apply', ctx.gpu, '--state-dir', ctx.w.stateDir, '--write-timeout', '60', '--lock-timeout', timeout];
  const holder = modelCli(join(ctx.w.dir, 'a.json'), HANG, applyArgs('0'));
  await waitFor('the first apply to reach the held write', heldAtHang(ctx.w.stateDir));

  const second = await modelCli(join(ctx.w.dir, 'b.json'), '-', applyArgs('1')).done;
  assert.is(second.code, 1, second.stderr);
  assert.match(second.stderr, `Waiting up to 1s for the lock on ${ctx.w.stateDir}, held by pid ${holder.child.pid}`);
  assert.match(second.stderr, `another vfio-reconcile holds the lock on ${ctx.w.stateDir}: pid ${holder.child.pid}`);
  assert.match(second.stderr, `(vfio-reconcile apply ${ctx.gpu}`);
  assert.match(second.stderr, 'waited 1s (--lock-timeout)');

  const third = modelCli(join(ctx.w.dir, 'c.json'), '-', applyArgs('60'));
  await waitFor('the third apply to start waiting', () => third.stderr().includes('Waiting up to 60s'));
  holder.child.kill('SIGTERM');
  assert.is((await holder.done).code, 3);
  const got = await third.done;
  assert.is(got.code, 0, got.stderr);
  assert.match(got.stdout, 'Apply complete');
});

s('SIGKILL half-way: the next apply refuses (taking over the stale lock), rollback --recover restores the host', async (ctx) => {
  const saved = join(ctx.w.dir, 'log.json');
  const run = modelCli(saved, HANG, ['apply', ctx.gpu, '--state-dir', ctx.w.stateDir, '--write-timeout', '60']);
  await waitFor('the apply to reach the held write', heldAtHang(ctx.w.stateDir));
  run.child.kill('SIGKILL');
  assert.is((await run.done).signal, 'SIGKILL');

  // The machine as the killed apply left it: overrides set, the GPU unbound.
  const model = await replay(JSON.parse(readFileSync(saved, 'utf8')) as Completed[]);
  assert.equal([model.dev('0000:01:00.0').driver, model.dev('0000:01:00.0').override], [null, 'vfio-pci']);
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel }));

  const refused = await runIn(Apply, [ctx.gpu, '--state-dir', ctx.w.stateDir]);
  assert.is(refused.exitCode, 1);
  assert.match(refused.stderr, `Recovered a stale lock on ${ctx.w.stateDir} left by pid ${run.child.pid}`);
  assert.match(refused.stderr, `The last apply was interrupted after 4 of 9 steps: pid ${run.child.pid}`);

  const recovered = await runIn(Rollback, ['--recover', '--state-dir', ctx.w.stateDir]);
  assert.is(recovered.exitCode, 0, recovered.stderr);
  assert.equal(hostOf(model).devices, ctx.before.devices);
});

s('SIGTERM during apply: the step in flight finishes, everything is rolled back, exit 3', async (ctx) => {
  const saved = join(ctx.w.dir, 'log.json');
  const run = modelCli(saved, HANG, ['apply', ctx.gpu, '--state-dir', ctx.w.stateDir, '--write-timeout', '60']);
  await waitFor('the apply to reach the held write', heldAtHang(ctx.w.stateDir));
  run.child.kill('SIGTERM');
  const end = await run.done;
  assert.is(end.code, 3, end.stderr);
  assert.match(end.stderr, 'interrupted by SIGTERM');
  assert.match(end.stderr, 'Rolled back: the host is as it was before');
  const after = await replay(JSON.parse(readFileSync(saved, 'utf8')) as Completed[]);
  assert.equal(hostOf(after).devices, ctx.before.devices);
  const records = journalRecords(ctx.w.stateDir);
  assert.ok(records.some((r) => r.type === 'signal' && r.signal === 'SIGTERM'));
  assert.ok(records.some((r) => r.type === 'step-done' && r.index === 4), 'the step in flight finished');
  const outcome = records.at(-1)!;
  assert.ok(outcome.type === 'outcome' && outcome.outcome === 'rolled-back');
  assert.not.ok(existsSync(join(ctx.w.stateDir, 'lock')), 'the lock is released');
});

s.run();
