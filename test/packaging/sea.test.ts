// The single executable (npm run build:sea), run from a directory that holds only the binary and
// its inputs, with no PATH to node and no NODE_PATH: everything, schemas and validator included,
// must come from inside the binary. Its answers must be the npm package's answers.

import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { packageRoot } from '../../src/cli/paths.js';
import { writeSysfsTree } from '../../src/kernel/tree.js';
import { buildSea } from '../../scripts/build-sea.js';
import { copyExample, run, runFromCheckout, show, tempDir } from './support.js';

const s = suite<{ dir: string; bin: string; cleanup: () => void }>('single executable');

s.before(async (ctx) => {
  const t = tempDir('sea');
  ctx.dir = t.dir;
  ctx.cleanup = t.cleanup;
  ctx.bin = join(t.dir, 'vfio-reconcile');
  await buildSea(ctx.bin);
  copyExample('gpu-passthrough', t.dir);
});
s.after((ctx) => ctx.cleanup());

const sea = (ctx: { dir: string; bin: string }, args: string[]) => run(ctx.bin, args, { cwd: ctx.dir });

s('--version names the package version, like the npm package', (ctx) => {
  const r = sea(ctx, ['--version']);
  const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  assert.is(r.status, 0, show(r));
  assert.match(r.stdout, new RegExp(`^vfio-reconcile/${version.replace(/\./g, '\\.')} linux-\\w+ node-v\\d+`));
  assert.is(r.stderr, '', 'the runtime prints no warnings');
});

s('validate checks with the embedded schema: ok for the example, file:line:col for a broken file', (ctx) => {
  const ok = sea(ctx, ['validate', 'gpu-passthrough/state.yaml']);
  assert.is(ok.status, 0, show(ok));
  assert.is(ok.stdout, 'gpu-passthrough/state.yaml: ok\n');
  assert.is(ok.stderr, '');
  writeFileSync(join(ctx.dir, 'broken.yaml'), 'version: 1\ndevices:\n  - match: { vendor: "10de" }\n    drvier: vfio-pci\n');
  const bad = sea(ctx, ['validate', 'broken.yaml']);
  assert.is(bad.status, 1, show(bad));
  assert.equal(bad, runFromCheckout(['validate', 'broken.yaml'], ctx.dir), 'the same diagnostics as the npm package');
  assert.match(bad.stdout + bad.stderr, /broken\.yaml:4:5: /);
});

s('plan against the example tree: the same plan as the npm package, human and --json', (ctx) => {
  for (const extra of [[], ['--json']]) {
    const args = ['plan', 'gpu-passthrough/state.yaml', '--sysfs-root', 'gpu-passthrough/sysfs', ...extra];
    const r = sea(ctx, args);
    assert.is(r.status, 0, show(r));
    assert.equal(r, runFromCheckout(args, ctx.dir));
  }
  assert.match(sea(ctx, ['plan', 'gpu-passthrough/state.yaml', '--sysfs-root', 'gpu-passthrough/sysfs']).stdout, 'Plan: 3 devices to change');
});

s('snapshot the example host, then plan --snapshot from it: the same plan as the npm package', (ctx) => {
  const snap = sea(ctx, ['snapshot', '--sysfs-root', 'gpu-passthrough/sysfs', '--hostname', 'pve-lab', '-o', 'pve-lab.json']);
  assert.is(snap.status, 0, show(snap));
  assert.match(snap.stdout, 'Wrote a snapshot of pve-lab');
  for (const extra of [[], ['--json']]) {
    const args = ['plan', 'gpu-passthrough/state.yaml', '--snapshot', 'pve-lab.json', '--detailed-exitcode', ...extra];
    const r = sea(ctx, args);
    assert.is(r.status, 2, show(r));
    assert.equal(r, runFromCheckout(args, ctx.dir));
  }
});

s('status and schema answer as the npm package does', (ctx) => {
  const status = sea(ctx, ['status', '--groups', '--sysfs-root', 'gpu-passthrough/sysfs']);
  assert.is(status.status, 0, show(status));
  assert.match(status.stdout, 'IOMMU group 1: not viable for VFIO');
  assert.equal(status, runFromCheckout(['status', '--groups', '--sysfs-root', 'gpu-passthrough/sysfs'], ctx.dir));
  const schema = sea(ctx, ['schema']);
  assert.is(schema.status, 0, show(schema));
  assert.is(schema.stdout, readFileSync(join(packageRoot, 'schemas/state.schema.json'), 'utf8').trimEnd() + '\n');
});

s('apply writes through the write worker, which the binary runs as its own child', async (ctx) => {
  // A tree whose drivers do not react (plain files): the overrides are written, the unbind does not
  // take, so the apply must roll the written overrides back: two writes and two restores, all
  // made by child processes of the binary.
  const model = gpuPassthrough();
  await model.load('vfio_pci');
  const results = ['sea', 'checkout'].map((who) => {
    const t = tempDir(`sea-apply-${who}`);
    writeSysfsTree(model, join(t.dir, 'sysfs'));
    copyFileSync(join(packageRoot, 'examples/gpu-passthrough/state.yaml'), join(t.dir, 'state.yaml'));
    const args = ['apply', 'state.yaml', '--sysfs-root', 'sysfs', '--state-dir', 'state', '--hostname', 'pve-lab'];
    try {
      return who === 'sea' ? run(ctx.bin, args, { cwd: t.dir }) : runFromCheckout(args, t.dir);
    } finally {
      t.cleanup();
    }
  });
  const [fromSea, fromCheckout] = results as [ReturnType<typeof run>, ReturnType<typeof run>];
  assert.is(fromSea.status, 3, show(fromSea));
  assert.match(fromSea.stderr, 'is still bound to nouveau after the kernel accepted the unbind');
  assert.match(fromSea.stderr, 'Rolled back: the host is as it was before (restored pci/0000:01:00.1, pci/0000:01:00.0)');
  assert.equal(fromSea, fromCheckout);
});

s.run();
