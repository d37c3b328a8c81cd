// `rollback`: the last apply undone through the executor's restore, the host observed exactly as
// before it, and refusals when the journal no longer describes the host (a reboot, devices changed
// by something else) unless --force.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Rollback from '../../src/commands/rollback.js';
import type { Host } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { runIn } from '../cli/harness.js';
import { AUDIO, FakeMachine, GPU, GPU_STATE, hostOf, journalRecords, managedFile, useModel, workspace } from './support.js';

interface Ctx {
  model: KernelModel;
  machine: FakeMachine;
  w: ReturnType<typeof workspace>;
  before: Host;
}

const s = suite<Ctx>('rollback');

s.before.each(async (ctx) => {
  ctx.model = gpuPassthrough();
  ctx.machine = new FakeMachine();
  ctx.w = workspace();
  ctx.before = hostOf(ctx.model);
  useModel(ctx.model, ctx.machine.process(500));
  const r = await runIn(Apply, [ctx.w.file('gpu.yaml', GPU_STATE), '--state-dir', ctx.w.stateDir]);
  assert.is(r.exitCode, 0, r.stderr);
  // Every later command is another process of the same machine; the apply's has ended.
  ctx.machine.kill(500);
  useModel(ctx.model, ctx.machine.process(600));
});
s.after.each((ctx) => {
  injectEnv(null);
  ctx.w.cleanup();
});

const rollback = (ctx: Ctx, ...argv: string[]) => runIn(Rollback, [...argv, '--state-dir', ctx.w.stateDir]);

/** Devices as observe sees them; drivers and modules the apply loaded stay loaded by design. */
const devices = (h: Host) => h.devices;

s('rollback restores the pre-state of every device the apply changed, and the managed set', async (ctx) => {
  const r = await rollback(ctx);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /Rolled back the apply of 2025-03-01T.*: pci\/0000:01:00.0, pci\/0000:01:00.1 are as before it/);
  assert.match(r.stdout, `pci/${GPU}: on vfio-pci, override vfio-pci -> on nouveau, no override`);
  assert.equal(devices(hostOf(ctx.model)), devices(ctx.before));
  assert.equal(managedFile(ctx.w.stateDir).devices, {});
  const records = journalRecords(ctx.w.stateDir);
  assert.equal(records.slice(-1).map((x) => (x.type === 'undo-end' ? x.result : x.type)), ['restored']);
});

s('a second rollback has nothing to do', async (ctx) => {
  await rollback(ctx);
  const writes = ctx.model.writes.length;
  const r = await rollback(ctx);
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, 'was already rolled back');
  assert.is(ctx.model.writes.length, writes);
});

s('--dry-run lists what would change and writes nothing', async (ctx) => {
  const writes = ctx.model.writes.length;
  const r = await rollback(ctx, '--dry-run', '--json');
  assert.is(r.exitCode, 0);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.action, 'would-restore');
  assert.equal(doc.devices.map((d: { device: string }) => d.device), [`pci/${GPU}`, `pci/${AUDIO}`]);
  assert.equal(doc.devices[0].to, { driver: 'nouveau', override: null });
  assert.is(ctx.model.writes.length, writes);
});

s('after a reboot rollback refuses and writes nothing; --force restores anyway', async (ctx) => {
  ctx.machine.reboot();
  useModel(ctx.model, ctx.machine.process(700));
  const writes = ctx.model.writes.length;
  const r = await rollback(ctx);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'refusing to roll back; nothing was written');
  assert.match(r.stderr, 'The host has rebooted since the apply (boot id boot-1 then, boot-2 now)');
  assert.is(ctx.model.writes.length, writes);
  const forced = await rollback(ctx, '--force');
  assert.is(forced.exitCode, 0, forced.stderr);
  assert.equal(devices(hostOf(ctx.model)), devices(ctx.before));
});

s('devices changed underneath since the apply: refused, naming them; --force restores', async (ctx) => {
  // Someone hands the audio function to another driver by hand.
  await ctx.model.write(`bus/pci/devices/${AUDIO}/driver_override`, 'none');
  await ctx.model.write('bus/pci/drivers/vfio-pci/unbind', AUDIO);
  const r = await rollback(ctx, '--json');
  assert.is(r.exitCode, 1);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.error.kind, 'safety');
  assert.match(doc.error.message, `pci/${AUDIO}: now unbound, override none; after the apply on vfio-pci, override vfio-pci; before it on snd_hda_intel, no override`);
  assert.not.match(doc.error.message, `pci/${GPU}:`);
  assert.is((await rollback(ctx, '--force')).exitCode, 0);
  assert.equal(devices(hostOf(ctx.model)), devices(ctx.before));
});

s('a device the user already put back by hand is fine: rollback restores the rest', async (ctx) => {
  await ctx.model.write(`bus/pci/devices/${AUDIO}/driver_override`, '\n');
  await ctx.model.write('bus/pci/drivers/vfio-pci/unbind', AUDIO);
  await ctx.model.write('bus/pci/drivers_probe', AUDIO);
  assert.is(ctx.model.dev(AUDIO).driver, 'snd_hda_intel');
  const r = await rollback(ctx);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, `${GPU} is as before it`);
  assert.equal(devices(hostOf(ctx.model)), devices(ctx.before));
});

s('a restore the kernel refuses ends with exit 4, naming the device left behind; running rollback again finishes it', async (ctx) => {
  ctx.model.inject({ path: 'bus/pci/drivers/nouveau/bind', value: GPU, errno: 'EIO' });
  const r = await rollback(ctx);
  assert.is(r.exitCode, 4);
  assert.match(r.stderr, 'did not complete. Left behind:');
  assert.match(r.stderr, `pci/${GPU}:`);
  const last = journalRecords(ctx.w.stateDir).at(-1)!;
  assert.ok(last.type === 'undo-end' && last.result === 'incomplete');
  assert.ok(Object.keys(managedFile(ctx.w.stateDir).devices).length > 0, 'the managed set stays while devices are left behind');
  const again = await rollback(ctx);
  assert.is(again.exitCode, 0, again.stderr);
  assert.equal(devices(hostOf(ctx.model)), devices(ctx.before));
  assert.equal(managedFile(ctx.w.stateDir).devices, {});
});

s('a failed (rolled back) last apply leaves nothing to roll back', async (ctx) => {
  const stub = ctx.w.file('stub.yaml', GPU_STATE.replace('vfio-pci', 'pci-stub'));
  ctx.model.driver('pci', 'pci-stub', {});
  ctx.model.failProbe('pci-stub', GPU, 'EIO');
  assert.is((await runIn(Apply, [stub, '--state-dir', ctx.w.stateDir])).exitCode, 3);
  const r = await rollback(ctx);
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, 'failed and was rolled back then');
});

s('a journal of another sysfs root is not rolled back onto this one', async (ctx) => {
  const elsewhere = Object.create(ctx.model, { root: { value: '/mnt/other-sysfs' } }) as KernelModel;
  injectEnv(() => ({ sysfs: elsewhere, modules: ctx.model, hostname: 'pve-lab', stateHost: ctx.machine.process(600) }));
  const r = await rollback(ctx);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'wrote to sysfs root kernel-model; this run would write to /mnt/other-sysfs');
});

s('no journal: nothing to roll back, exit 1', async (ctx) => {
  const r = await runIn(Rollback, ['--state-dir', `${ctx.w.stateDir}-none`]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'nothing to roll back: no apply has been journaled in');
});

s.run();
