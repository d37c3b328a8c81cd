// What apply leaves in the state dir: a journal whose begin record (plan, pre-state, boot id) comes
// first and whose steps and outcome follow, the managed set that later plans prune and drift
// against, and nothing at all for a run that writes nothing.

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { KEEP_JOURNALS } from '../../src/state/journal.js';
import { runIn } from '../cli/harness.js';
import { AUDIO, FakeMachine, GPU, GPU_STATE, journalRecords, managedFile, useModel, workspace } from './support.js';

interface Ctx {
  model: KernelModel;
  machine: FakeMachine;
  w: ReturnType<typeof workspace>;
  gpu: string;
}

const s = suite<Ctx>('apply journal and managed set');

s.before.each((ctx) => {
  ctx.model = gpuPassthrough();
  ctx.machine = new FakeMachine();
  ctx.w = workspace();
  ctx.gpu = ctx.w.file('gpu.yaml', GPU_STATE);
  useModel(ctx.model, ctx.machine.process(500));
});
s.after.each((ctx) => {
  injectEnv(null);
  ctx.w.cleanup();
});

const apply = (ctx: Ctx, ...argv: string[]) => runIn(Apply, [...argv, '--state-dir', ctx.w.stateDir]);

s('a successful apply journals plan, pre-state and boot id first, then every step, then the outcome', async (ctx) => {
  const r = await apply(ctx, ctx.gpu);
  assert.is(r.exitCode, 0, r.stderr);
  const records = journalRecords(ctx.w.stateDir);
  const begin = records[0]!;
  assert.is(begin.type, 'begin');
  if (begin.type !== 'begin') return;
  assert.is(begin.writer.bootId, 'boot-1');
  assert.is(begin.writer.pid, 500);
  assert.match(begin.writer.command, /^vfio-reconcile apply .*gpu\.yaml/);
  assert.match(begin.tool, /^vfio-reconcile \d/);
  const steps = begin.plan.steps.length;
  assert.equal(
    begin.pre.map((p) => [p.key, p.binding]),
    [
      [`pci/${GPU}`, { driver: 'nouveau', override: null }],
      [`pci/${AUDIO}`, { driver: 'snd_hda_intel', override: null }],
    ],
  );
  assert.equal(
    records.filter((r) => r.type === 'step-start').map((r) => (r.type === 'step-start' ? r.index : -1)),
    [...Array(steps).keys()],
  );
  assert.is(records.filter((r) => r.type === 'step-done').length, steps);
  const outcome = records.at(-1)!;
  assert.is(outcome.type, 'outcome');
  if (outcome.type !== 'outcome') return;
  assert.is(outcome.outcome, 'applied');
  assert.equal(outcome.post.map((p) => p.binding), [
    { driver: 'vfio-pci', override: 'vfio-pci' },
    { driver: 'vfio-pci', override: 'vfio-pci' },
  ]);
});

s('each step is journaled as started before its write reaches the kernel', async (ctx) => {
  const journalDir = join(ctx.w.stateDir, 'journal');
  const seen: number[] = [];
  const write = ctx.model.write.bind(ctx.model);
  ctx.model.write = (path, value) => {
    const records = journalRecords(ctx.w.stateDir);
    const last = records.at(-1)!;
    seen.push(last.type === 'step-start' ? 1 : 0);
    return write(path, value);
  };
  await apply(ctx, ctx.gpu);
  assert.ok(existsSync(journalDir));
  assert.ok(seen.length > 0);
  assert.ok(seen.every((x) => x === 1), 'every write came right after its step-start record');
});

s('a failed apply journals the failed step, the restore writes and outcome rolled-back; managed stays empty', async (ctx) => {
  ctx.model.failProbe('vfio-pci', AUDIO, 'EIO');
  const r = await apply(ctx, ctx.gpu);
  assert.is(r.exitCode, 3);
  const records = journalRecords(ctx.w.stateDir);
  const failed = records.find((x) => x.type === 'step-failed');
  assert.ok(failed && failed.type === 'step-failed' && failed.message.length > 0);
  assert.ok(records.some((x) => x.type === 'restore-write'));
  const outcome = records.at(-1)!;
  assert.ok(outcome.type === 'outcome' && outcome.outcome === 'rolled-back');
  assert.not.ok(existsSync(join(ctx.w.stateDir, 'managed.json')));
});

s('after a successful apply the managed set names each changed device with its rule, target and original binding', async (ctx) => {
  await apply(ctx, ctx.gpu);
  const { devices } = managedFile(ctx.w.stateDir);
  assert.equal(Object.keys(devices), [`pci/${GPU}`, `pci/${AUDIO}`]);
  const gpu = devices[`pci/${GPU}`]!;
  assert.equal(gpu.target, { kind: 'driver', driver: 'vfio-pci' });
  assert.equal(gpu.original, { driver: 'nouveau', override: null });
  assert.is(gpu.since, gpu.journal);
});

s('a later apply keeps the original binding from the first time the tool touched the device', async (ctx) => {
  await apply(ctx, ctx.gpu);
  const first = managedFile(ctx.w.stateDir).devices[`pci/${GPU}`]!;
  const stub = ctx.w.file('stub.yaml', GPU_STATE.replace('vfio-pci', 'none'));
  assert.is((await apply(ctx, stub)).exitCode, 0);
  const later = managedFile(ctx.w.stateDir).devices[`pci/${GPU}`]!;
  assert.equal(later.target, { kind: 'none' });
  assert.equal(later.original, { driver: 'nouveau', override: null });
  assert.is(later.since, first.since);
  assert.is.not(later.journal, first.journal);
});

s('plan and apply get the managed set: a rule removed prunes its devices back to default', async (ctx) => {
  await apply(ctx, ctx.gpu);
  const empty = ctx.w.file('empty.yaml', 'version: 1\nhosts: ["pve-*"]\ndevices: []\n');
  const planned = await runIn(Plan, [empty, '--json', '--state-dir', ctx.w.stateDir]);
  const doc = JSON.parse(planned.stdout);
  assert.equal(
    doc.changes.map((c: { address: string; reason: string }) => [c.address, c.reason]),
    [
      [GPU, 'prune'],
      [AUDIO, 'prune'],
    ],
  );
  assert.is((await apply(ctx, empty)).exitCode, 0);
  assert.is(ctx.model.dev(GPU).driver, 'nouveau');
  assert.is(ctx.model.dev(GPU).override, null);
  assert.equal(managedFile(ctx.w.stateDir).devices, {}, 'pruned devices are handed back to the host');
});

s('a device moved away from what the last apply set is planned as drift', async (ctx) => {
  await apply(ctx, ctx.gpu);
  await ctx.model.write(`bus/pci/drivers/vfio-pci/unbind`, GPU);
  const planned = await runIn(Plan, [ctx.gpu, '--json', '--state-dir', ctx.w.stateDir]);
  const doc = JSON.parse(planned.stdout);
  assert.equal(doc.changes.map((c: { address: string; reason: string }) => [c.address, c.reason]), [[GPU, 'drift']]);
});

s('a no-op apply and a dry run leave no journal', async (ctx) => {
  await apply(ctx, ctx.gpu);
  const before = readdirSync(join(ctx.w.stateDir, 'journal'));
  assert.is((await apply(ctx, ctx.gpu)).exitCode, 0);
  assert.is((await apply(ctx, ctx.gpu, '--dry-run')).exitCode, 0);
  assert.equal(readdirSync(join(ctx.w.stateDir, 'journal')), before);
});

s('without --state-dir, a run against a tree that is not /sys keeps no state', async (ctx) => {
  const r = await runIn(Apply, [ctx.gpu]);
  assert.is(r.exitCode, 0);
  assert.not.ok(existsSync(ctx.w.stateDir));
});

s(`only the last ${KEEP_JOURNALS} journals are kept, and last points at the newest`, async (ctx) => {
  const journalDir = join(ctx.w.stateDir, 'journal');
  await apply(ctx, ctx.gpu);
  // Old journals from earlier runs, named as the tool names them (time first).
  for (let i = 0; i < KEEP_JOURNALS + 3; i++) {
    writeFileSync(join(journalDir, `2020-01-01T00-00-${String(i).padStart(2, '0')}.000Z-1.jsonl`), '{"type":"begin"}\n');
  }
  const stub = ctx.w.file('stub.yaml', GPU_STATE.replace('vfio-pci', 'none'));
  await apply(ctx, stub);
  const kept = readdirSync(journalDir).filter((n) => n.endsWith('.jsonl'));
  assert.is(kept.length, KEEP_JOURNALS);
  const last = journalRecords(ctx.w.stateDir)[0]!;
  assert.ok(last.type === 'begin' && last.plan.changes.every((c) => c.target.kind === 'none'));
});

s.run();
