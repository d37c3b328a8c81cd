// apply end to end against the kernel model, injected through cli/context.ts: the real executor
// writes through the model's bind semantics, so exit codes and the host afterwards are the kernel's.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { runIn, tempDir } from './harness.js';

const tmp = tempDir('apply');
const stateFile = tmp.file;
const gpu = stateFile(
  'gpu.yaml',
  'version: 1\nhosts: ["pve-*"]\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n',
);
// The GPU alone: its audio function stays on snd_hda_intel in the same group, so strict refuses.
const split = stateFile('split.yaml', 'version: 1\ndevices:\n  - match: { address: "01:00.0" }\n    driver: vfio-pci\n');

const s = suite<{ model: KernelModel }>('cli apply (kernel model)', { model: undefined as unknown as KernelModel });

s.before.each((ctx) => {
  const model = gpuPassthrough();
  ctx.model = model;
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel }));
});
s.after.each(() => injectEnv(null));
s.after(tmp.cleanup);

const binding = (m: KernelModel, addr: string): [string | null, string | null] => [m.dev(addr).driver, m.dev(addr).override];

s('apply binds the GPU pair to vfio-pci and exits 0; a second apply says "No changes"', async ({ model }) => {
  const first = await runIn(Apply, [gpu]);
  assert.is(first.exitCode, 0, first.stderr);
  assert.match(first.stdout, 'Plan: 2 devices to change');
  assert.match(first.stdout, /Apply complete: 2 devices changed, \d+ steps done/);
  assert.equal(binding(model, '0000:01:00.0'), ['vfio-pci', 'vfio-pci']);
  assert.equal(binding(model, '0000:01:00.1'), ['vfio-pci', 'vfio-pci']);

  const writes = model.writes.length;
  const second = await runIn(Apply, [gpu]);
  assert.is(second.exitCode, 0);
  assert.match(second.stdout, 'No changes');
  assert.not.match(second.stdout, 'Apply complete');
  assert.is(model.writes.length, writes, 'second apply wrote nothing');
});

s('after apply, plan --detailed-exitcode exits 0; before, 2', async () => {
  assert.is((await runIn(Plan, [gpu, '--detailed-exitcode'])).exitCode, 2);
  await runIn(Apply, [gpu]);
  const after = await runIn(Plan, [gpu, '--detailed-exitcode']);
  assert.is(after.exitCode, 0);
  assert.match(after.stdout, 'No changes');
});

s('a failed probe rolls back: exit 3, the host is as before, the error names the step', async ({ model }) => {
  model.failProbe('vfio-pci', '0000:01:00.1', 'EIO');
  const r = await runIn(Apply, [gpu]);
  assert.is(r.exitCode, 3);
  assert.match(r.stderr, /apply failed at step \d+ \(probe pci\/0000:01:00.1\)/);
  assert.match(r.stderr, 'Rolled back');
  assert.equal(binding(model, '0000:01:00.0'), ['nouveau', null]);
  assert.equal(binding(model, '0000:01:00.1'), ['snd_hda_intel', null]);
});

s('--json on failure carries plan, result and error, and keeps exit 3', async ({ model }) => {
  model.failProbe('vfio-pci', '0000:01:00.1', 'EIO');
  const r = await runIn(Apply, [gpu, '--json']);
  assert.is(r.exitCode, 3);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.plan.format_version, '1.1');
  assert.is(doc.result.outcome, 'rolled-back');
  assert.is(doc.error.kind, 'rolled-back');
});

s('a blocked plan is refused before any write: exit 1', async ({ model }) => {
  const r = await runIn(Apply, [split]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'refusing to apply a blocked plan; nothing was written');
  assert.is(model.writes.length, 0);
  assert.equal(binding(model, '0000:01:00.0'), ['nouveau', null]);
});

s('--dry-run prints the plan and writes nothing', async ({ model }) => {
  const r = await runIn(Apply, [gpu, '--dry-run', '--json']);
  assert.is(r.exitCode, 0);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.result, null);
  assert.is(doc.plan.changes.length, 2);
  assert.is(model.writes.length, 0);
});

s('a file for other hosts does nothing here and exits 0', async ({ model }) => {
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'nas-1' }));
  const r = await runIn(Apply, [gpu]);
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, 'this host is nas-1: nothing to do here');
  assert.is(model.writes.length, 0);
});

s.run();
