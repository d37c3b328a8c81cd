// The guards end to end through the commands: the run env carries a HostEnv (here a fake host in a
// temp dir whose GPU drives the text console), plan and apply refuse the same way before any
// write, and --force lets both through with the change marked forced.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { runIn, tempDir } from '../cli/harness.js';
import { FakeHost } from './fake-host.js';

const tmp = tempDir('guards-cli');
const gpu = join(tmp.dir, 'gpu.yaml');
writeFileSync(gpu, 'version: 1\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n');
const stateDir = ['--state-dir', join(tmp.dir, 'state')];

interface Ctx {
  model: KernelModel;
  fh: FakeHost;
}
const s = suite<Ctx>('safety: plan and apply refuse a device in use');

s.before.each((ctx) => {
  ctx.model = gpuPassthrough();
  ctx.fh = new FakeHost(gpuPassthrough());
  ctx.fh.framebuffer('fb0', ctx.fh.pci('0000:01:00.0'), 'nouveaudrmfb');
  ctx.fh.vtconsole('vtcon1', 'frame buffer device', true);
  const { model, fh } = ctx;
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel, usage: fh.env() }));
});
s.after.each((ctx) => {
  injectEnv(null);
  ctx.fh.cleanup();
});
s.after(tmp.cleanup);

const FBCON = /0000:01:00\.0 is in use: framebuffer fb0 \(nouveaudrmfb\) carries the text console \(fbcon\) \(the plan unbinds it from nouveau\)/;

s('plan names what holds the device and how to override it; exit 1', async () => {
  const r = await runIn(Plan, [gpu]);
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, FBCON);
  assert.match(r.stdout, "or set force: true on rule 'rtx3090' (line 3), or pass --force");
});

s('apply refuses the same plan before anything is written', async ({ model }) => {
  const r = await runIn(Apply, [gpu, ...stateDir]);
  assert.is(r.exitCode, 1);
  assert.match(r.stdout + r.stderr, FBCON);
  assert.equal(model.writes, []);
  assert.equal(model.loads, []);
});

s('--force: plan exits 0 with the device marked forced and the overridden guard named', async () => {
  const r = await runIn(Plan, [gpu, '--force', '--json']);
  assert.is(r.exitCode, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.ok(doc.applyable);
  assert.equal(doc.changes.map((c: { address: string; forced: boolean }) => [c.address, c.forced]), [['0000:01:00.0', true], ['0000:01:00.1', false]]);
  assert.ok(doc.warnings.some((w: { message: string }) => w.message.startsWith('forced past the in-use guard (fbcon): 0000:01:00.0 is in use') && w.message.endsWith('; --force')));
});

s('--force: apply goes ahead and the GPU ends on vfio-pci', async ({ model }) => {
  const r = await runIn(Apply, [gpu, '--force', ...stateDir]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /\(spec, rule rtx3090 line 3, forced\)/);
  assert.is(model.dev('0000:01:00.0').driver, 'vfio-pci');
});

s.run();
