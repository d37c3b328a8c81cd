// --quiet and --verbose as a user meets them, in-process against the kernel model: --quiet leaves
// the final summary and errors, --verbose adds every step and every write (path, value, time) on
// stderr while stdout stays what it was.

import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import Validate from '../../src/commands/validate.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { runIn, tempDir } from './harness.js';

const tmp = tempDir('verbosity');
const file = tmp.file;
const gpu = file('gpu.yaml', 'version: 1\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n');
const broken = file('broken.yaml', 'version: 1\ndevices:\n  - match: { vendor: "10de" }\n    drvier: vfio-pci\n');
const stateDir = (name: string): string[] => ['--state-dir', join(tmp.dir, name)];

const s = suite<{ model: KernelModel }>('cli --quiet and --verbose', { model: undefined as unknown as KernelModel });
s.before.each((ctx) => {
  const model = gpuPassthrough();
  ctx.model = model;
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel }));
});
s.after.each(() => injectEnv(null));
s.after(tmp.cleanup);

s('plan --quiet prints the summary line only', async () => {
  const r = await runIn(Plan, [gpu, '--quiet']);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^Plan: 2 devices to change, \d+ steps\.\n$/);
});

s('apply --quiet prints the outcome only; again, the plan\'s "No changes"', async () => {
  const first = await runIn(Apply, [gpu, '-q', ...stateDir('q1')]);
  assert.is(first.exitCode, 0, first.stderr);
  assert.match(first.stdout, /^Apply complete: 2 devices changed, \d+ steps done, each verified\. Loaded vfio_pci\.\n$/);
  assert.is(first.stderr, '');
  const again = await runIn(Apply, [gpu, '-q', ...stateDir('q1')]);
  assert.is(again.stdout, 'No changes. The host matches the state file.\n');
});

s('apply --quiet still reports an error', async ({ model }) => {
  model.failProbe('vfio-pci', '0000:01:00.0', 'EIO');
  const r = await runIn(Apply, [gpu, '--quiet', ...stateDir('q2')]);
  assert.is(r.exitCode, 3);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^Error: apply failed at step \d+ \(probe pci\/0000:01:00\.0\)/);
});

s('apply --verbose: stdout unchanged, stderr has each step, each write with path and value, and timings', async () => {
  const normal = await runIn(Apply, [gpu, '--dry-run']);
  const r = await runIn(Apply, [gpu, '--verbose', ...stateDir('v1')]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.ok(r.stdout.startsWith(normal.stdout), 'the plan as without --verbose');
  const lines = r.stderr.split('\n');
  assert.match(lines[0]!, /^\[1\/\d+\] load module vfio_pci \(driver vfio-pci\)$/);
  assert.match(lines[1]!, /^ {2}modprobe vfio_pci \(\d+\.\d ms\)$/);
  assert.match(lines[2]!, /^ {2}ok \(\d+(\.\d)? ms\)$/);
  assert.ok(lines.some((l) => /^\[\d+\/\d+\] set driver_override of pci\/0000:01:00\.0 \(null\) -> "vfio-pci"$/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /^ {2}write kernel-model\/bus\/pci\/devices\/0000:01:00\.0\/driver_override "vfio-pci" \(\d+\.\d ms\)$/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /^ {2}write kernel-model\/bus\/pci\/drivers\/nouveau\/unbind "0000:01:00\.0" \(/.test(l)), r.stderr);
});

s('validate --quiet prints only the files with problems', async () => {
  const ok = await runIn(Validate, [gpu, '--quiet']);
  assert.is(ok.exitCode, 0);
  assert.is(ok.stdout, '');
  const bad = await runIn(Validate, [gpu, broken, '-q']);
  assert.is(bad.exitCode, 1);
  assert.not.match(bad.stdout, 'gpu.yaml');
  assert.match(bad.stdout, /broken\.yaml:4:5: /);
});

s('--quiet and --verbose together are refused', async () => {
  const r = await runIn(Plan, [gpu, '--quiet', '--verbose']);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'cannot also be provided');
});

s.run();
