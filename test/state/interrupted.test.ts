// An apply that died half-way (its journal has no outcome, its process is gone): the next plan,
// status and apply say so, apply refuses, and `rollback --recover` finishes the job, or after a
// reboot only closes the journal. The dead apply here is a real one, frozen for good inside a step
// (as SIGKILL would leave it) by a hook that never returns, then declared dead on the fake machine.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { execute } from '../../src/apply/executor.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import Rollback from '../../src/commands/rollback.js';
import Status from '../../src/commands/status.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import type { Host } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { plan } from '../../src/plan/planner.js';
import { openApplyState } from '../../src/state/session.js';
import { runIn } from '../cli/harness.js';
import { AUDIO, FakeMachine, GPU, GPU_STATE, hostOf, journalRecords, useModel, workspace } from './support.js';

interface Ctx {
  model: KernelModel;
  machine: FakeMachine;
  w: ReturnType<typeof workspace>;
  gpu: string;
  before: Host;
}

const s = suite<Ctx>('interrupted apply');

/** Index of the step the dead apply was in: unbind of the audio function (GPU already unbound). */
const FROZEN_AT = 4;

s.before.each(async (ctx) => {
  ctx.model = gpuPassthrough();
  ctx.machine = new FakeMachine();
  ctx.w = workspace();
  ctx.gpu = ctx.w.file('gpu.yaml', GPU_STATE);
  ctx.before = hostOf(ctx.model);
  const dead = ctx.machine.process(500);
  const state = await openApplyState(
    { sysfs: ctx.model, stateHost: dead },
    { dir: ctx.w.stateDir, lockTimeoutMs: 0, command: `vfio-reconcile apply ${ctx.gpu}`, tool: 'vfio-reconcile test', say: () => undefined },
  );
  const host = hostOf(ctx.model);
  const p = plan(host, resolve(loadStateFile(ctx.gpu), host));
  assert.is(p.steps[FROZEN_AT]!.kind, 'unbind');
  const never = new Promise<void>(() => undefined);
  void state!.journal.run(p, undefined, (hooks) =>
    execute(p, { sysfs: ctx.model, modules: ctx.model }, {
      hooks: {
        ...hooks,
        async onStepStart(step, index, total) {
          await hooks.onStepStart!(step, index, total);
          if (index === FROZEN_AT) await never;
        },
      },
    }),
  );
  // Let the apply run up to the frozen step, then its process dies.
  while (!journalRecords(ctx.w.stateDir).some((r) => r.type === 'step-start' && r.index === FROZEN_AT)) {
    await new Promise((r) => setImmediate(r));
  }
  ctx.machine.kill(500);
  useModel(ctx.model, ctx.machine.process(600));
});
s.after.each((ctx) => {
  injectEnv(null);
  ctx.w.cleanup();
});

const inState = (ctx: Ctx, argv: string[]) => [...argv, '--state-dir', ctx.w.stateDir];

s('the dead apply left the host half-way', ({ model }) => {
  assert.equal([model.dev(GPU).driver, model.dev(GPU).override], [null, 'vfio-pci']);
  assert.equal([model.dev(AUDIO).driver, model.dev(AUDIO).override], ['snd_hda_intel', 'vfio-pci']);
});

s('plan and status warn about it, name the journal and say what to do', async (ctx) => {
  for (const [cmd, argv] of [
    [Plan, [ctx.gpu]],
    [Status, []],
  ] as const) {
    const r = await runIn(cmd, inState(ctx, [...argv]));
    assert.match(r.stderr, 'Warning: The last apply was interrupted after 4 of 9 steps: pid 500');
    assert.match(r.stderr, 'that process is gone');
    assert.match(r.stderr, `Journal: ${ctx.w.stateDir}/journal/`);
    assert.match(r.stderr, 'vfio-reconcile rollback --recover');
  }
});

s('apply takes over the stale lock, then refuses with exit 1 and writes nothing', async (ctx) => {
  const writes = ctx.model.writes.length;
  const r = await runIn(Apply, inState(ctx, [ctx.gpu]));
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /Recovered a stale lock .* left by pid 500 .*: that process is gone/);
  assert.match(r.stderr, 'refusing to apply; nothing was written.');
  assert.match(r.stderr, 'rollback --recover');
  assert.is(ctx.model.writes.length, writes);
});

s('plain rollback refuses and points at --recover', async (ctx) => {
  const r = await runIn(Rollback, inState(ctx, []));
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'Plain rollback acts only on a finished apply.');
});

s('rollback --recover restores the host as it was before the apply; apply then works again', async (ctx) => {
  const r = await runIn(Rollback, inState(ctx, ['--recover']));
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, 'Rolled back the interrupted apply of');
  assert.equal(hostOf(ctx.model).devices, ctx.before.devices);
  const last = journalRecords(ctx.w.stateDir).at(-1)!;
  assert.ok(last.type === 'undo-end' && last.result === 'restored');
  assert.not.match((await runIn(Plan, inState(ctx, [ctx.gpu]))).stderr, 'interrupted');
  const again = await runIn(Apply, inState(ctx, [ctx.gpu]));
  assert.is(again.exitCode, 0, again.stderr);
  assert.is(ctx.model.dev(GPU).driver, 'vfio-pci');
});

s('after a reboot, --recover only closes the journal: nothing is written', async (ctx) => {
  ctx.machine.reboot();
  useModel(ctx.model, ctx.machine.process(700));
  const plan = await runIn(Plan, inState(ctx, [ctx.gpu]));
  assert.match(plan.stderr, 'the host has rebooted since');
  const writes = ctx.model.writes.length;
  const r = await runIn(Rollback, inState(ctx, ['--recover', '--json']));
  assert.is(r.exitCode, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.action, 'closed');
  assert.match(doc.message, 'the overrides it set went with the boot');
  assert.is(ctx.model.writes.length, writes);
  assert.is((await runIn(Apply, inState(ctx, [ctx.gpu]))).exitCode, 0);
});

s('--recover with nothing interrupted says so and exits 0', async (ctx) => {
  await runIn(Rollback, inState(ctx, ['--recover']));
  const r = await runIn(Rollback, inState(ctx, ['--recover']));
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, 'Nothing to recover');
});

s.run();
