// Saved plans: `plan --out` then `apply FILE` performs exactly the reviewed steps, and refuses (exit
// 1, nothing written) a plan the host has moved away from, a plan the in-use guards now block, and
// a file someone edited, each with a message that says which.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv, type RunEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { openStateDir } from '../../src/state/dir.js';
import { writeManaged } from '../../src/state/managed.js';
import { runIn, tempDir } from '../cli/harness.js';
import { FakeHost } from '../safety/fake-host.js';
import Snapshot from '../../src/commands/snapshot.js';
import { STATES, writeStates } from './support.js';

const tmp = tempDir('saved-plan');
const states = writeStates(tmp.dir);
let n = 0;
const out = (): string => join(tmp.dir, `plan-${++n}.json`);

interface Ctx {
  model: KernelModel;
  env: RunEnv;
}
const s = suite<Ctx>('saved plans');
s.before.each((ctx) => {
  ctx.model = gpuPassthrough();
  ctx.env = { sysfs: ctx.model, modules: ctx.model, hostname: 'pve-lab', kernelRelease: ctx.model.kernel };
  injectEnv(() => ctx.env);
});
s.after.each(() => injectEnv(null));
s.after(tmp.cleanup);

async function save(argv: string[]): Promise<string> {
  const file = out();
  const r = await runIn(Plan, [...argv, '--out', file]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, `Saved the plan to ${file}. Apply exactly this plan with: vfio-reconcile apply ${file}`);
  return file;
}

const edit = (file: string, change: (doc: Record<string, any>) => void): string => {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  change(doc);
  const path = out();
  writeFileSync(path, JSON.stringify(doc, null, 2));
  return path;
};

s('apply FILE performs exactly the saved steps; the file holds the plan document and the steps', async ({ model }) => {
  const file = await save([states.gpu!]);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  assert.is(doc.kind, 'vfio-reconcile-saved-plan');
  assert.is(doc.plan.summary.devices, 2);
  assert.is(doc.state.text, STATES.gpu);
  assert.equal(model.writes, [], 'plan --out writes nothing to the host');

  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, 'Apply complete: 2 devices changed');
  assert.equal([model.dev('0000:01:00.0').driver, model.dev('0000:01:00.1').driver], ['vfio-pci', 'vfio-pci']);
  const json = JSON.parse((await runIn(Plan, [states.gpu!, '--json'])).stdout);
  assert.equal(json.changes, [], 'the host now matches');
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).steps.length, doc.plan.steps.length);
});

s('the host moved since: "Saved plan is stale", naming what changed; exit 1, nothing written', async ({ model }) => {
  const file = await save([states.gpu!]);
  await model.write('bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  await model.write('bus/pci/drivers/nouveau/unbind', '0000:01:00.0');
  const writes = model.writes.length;
  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 1);
  assert.match(
    r.stderr,
    'Error: Saved plan is stale: the host changed since it was made (0000:01:00.0: driver nouveau → (unbound); 0000:01:00.0: driver_override (unset) → vfio-pci) — run plan again',
  );
  assert.is(model.writes.length, writes, 'nothing written');
  assert.is((await runIn(Apply, [file, '--dry-run'])).exitCode, 1, '--dry-run refuses it too');
});

s('a driver registered since (a module load) makes the plan stale too', async ({ model }) => {
  const file = await save([states.gpu!]);
  await model.load('vfio_pci');
  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'Saved plan is stale: the host changed since it was made (driver vfio-pci registered on pci)');
});

s('applied on another host: refused, naming both', async ({ env }) => {
  const file = await save([states.gpu!]);
  env.hostname = 'pve-other';
  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, 'Saved plan is stale: it was made for host pve-lab, and this host is pve-other');
});

s('the in-use guards run again at apply time: a device that became busy blocks the saved plan', async ({ model, env }) => {
  const file = await save([states.gpu!]);
  const fh = new FakeHost(gpuPassthrough());
  try {
    fh.framebuffer('fb0', fh.pci('0000:01:00.0'), 'nouveaudrmfb');
    fh.vtconsole('vtcon1', 'frame buffer device', true);
    env.usage = fh.env();
    const r = await runIn(Apply, [file]);
    assert.is(r.exitCode, 1);
    assert.match(r.stderr, 'refusing to apply a blocked plan; nothing was written');
    assert.match(r.stderr, '0000:01:00.0 is in use: framebuffer fb0 (nouveaudrmfb) carries the text console (fbcon)');
    assert.equal(model.writes, []);
  } finally {
    fh.cleanup();
  }
});

s('the state file changing on disk afterwards does not change the saved plan', async ({ model }) => {
  const path = join(tmp.dir, 'moving.yaml');
  writeFileSync(path, STATES.gpu!);
  const file = await save([path]);
  writeFileSync(path, STATES.usb!);
  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(model.dev('0000:01:00.0').driver, 'vfio-pci');
  assert.is(model.dev('0000:05:00.0').driver, 'xhci_hcd', 'the new file was not applied');
});

s('a changed managed set (prune and drift labels depend on it) makes the plan stale', async ({ model }) => {
  const stateDir = join(tmp.dir, `state-${n}`);
  const file = await save([states.gpu!, '--state-dir', stateDir]);
  const dir = openStateDir(stateDir, { create: true })!;
  writeManaged(dir, {
    'pci/0000:01:00.0': { target: { kind: 'driver', driver: 'vfio-pci' }, original: { driver: 'nouveau', override: null }, since: 'j1', journal: 'j1' },
  });
  const r = await runIn(Apply, [file, '--state-dir', stateDir]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, "Saved plan is stale: planning again gives a different plan (the state dir's managed devices changed: none → pci/0000:01:00.0 vfio-pci)");
  assert.equal(model.writes, []);
});

s('an edited file is refused as edited, before anything else', async ({ model }) => {
  const file = await save([states.gpu!]);
  const cases: [string, (d: Record<string, any>) => void, string][] = [
    ['state text', (d) => (d.state.text = STATES.usb), 'was edited after plan wrote it; refusing it'],
    ['planned host', (d) => (d.host.devices[1].override = 'vfio-pci'), 'was edited after plan wrote it; refusing it'],
    ['inconsistent host', (d) => (d.host.devices[1].driver = 'x'), 'is not a consistent saved plan'],
    ['hostile step', (d) => d.steps.push({ kind: 'set-override', device: 'pci/../../../etc', from: null, to: 'vfio-pci', group: null }), 'invalid device "pci/../../../etc"'],
    ['unknown step', (d) => d.steps.push({ kind: 'rm-rf', group: null }), 'unknown step kind "rm-rf"'],
    ['schema', (d) => delete d.host, 'is not a valid saved plan'],
    ['schema inside the host', (d) => (d.host.devices[0].mac = 'x'), 'host.devices[0]: must NOT have additional properties (mac)'],
    [
      'one more step',
      (d) => d.steps.push({ kind: 'set-override', device: 'pci/0000:00:1f.6', from: null, to: 'vfio-pci', group: '11' }),
      'planning again gives a different plan (the same host and state file now give different steps)',
    ],
  ];
  for (const [what, change, message] of cases) {
    const r = await runIn(Apply, [edit(file, change)]);
    assert.is(r.exitCode, 1, what);
    assert.match(r.stderr, message, `${what}: ${r.stderr}`);
  }
  assert.equal(model.writes, []);
});

s('a plan made in CI from a snapshot applies on the host it was taken from', async ({ model }) => {
  const snap = join(tmp.dir, `snap-${n}.json`);
  await runIn(Snapshot, ['-o', snap]);
  injectEnv(null);
  const file = out();
  const planned = await runIn(Plan, [states.gpu!, '--snapshot', snap, '--out', file]);
  assert.is(planned.exitCode, 0, planned.stderr);
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel }));
  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(model.dev('0000:01:00.1').driver, 'vfio-pci');
});

s('an mdev removed since is named in the stale message', async ({ env }) => {
  const uuid = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001';
  const model = gpuPassthrough()
    .mdevParent('0000:00:02.0', { types: [{ id: 'i915-GVTg_V5_4', instances: 2 }] })
    .mdev(uuid, { parent: '0000:00:02.0', type: 'i915-GVTg_V5_4' });
  Object.assign(env, { sysfs: model, modules: model });
  const file = await save([states.gpu!]);
  await model.write(`bus/mdev/devices/${uuid}/remove`, '1');
  const r = await runIn(Apply, [file]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, `Saved plan is stale: the host changed since it was made (mdev ${uuid} (i915-GVTg_V5_4 on 0000:00:02.0): gone; mdev type 0000:00:02.0 i915-GVTg_V5_4: available instances 1 → 2)`);
});

s('a snapshot or a saved plan given where a state file belongs is named for what it is', async () => {
  const snap = join(tmp.dir, `snap-${n}.json`);
  await runIn(Snapshot, ['-o', snap]);
  const saved = await save([states.gpu!]);
  const cases: [typeof Plan | typeof Apply, string, string][] = [
    [Plan, snap, `${snap} is a host snapshot, not a state file`],
    [Apply, snap, `hint: plan against it with: vfio-reconcile apply STATE --simulate --snapshot ${snap}`],
    [Plan, saved, `hint: vfio-reconcile apply ${saved} --dry-run shows the saved plan against this host`],
  ];
  for (const [cmd, file, message] of cases) {
    const r = await runIn(cmd, [file]);
    assert.is(r.exitCode, 1);
    assert.match(r.stderr, message);
  }
});

s('what is not saved: a blocked plan, a directory of state files; --force cannot widen a saved plan', async () => {
  const file = out();
  const blocked = await runIn(Plan, [states.split!, '--out', file]);
  assert.is(blocked.exitCode, 1);
  assert.match(blocked.stdout, `Not saved to ${file}: the plan is blocked`);

  const dir = await runIn(Plan, [tmp.dir, '--out', out()]);
  assert.is(dir.exitCode, 1);
  assert.match(dir.stderr, 'plan --out saves the plan of one state file');

  const saved = await save([states.gpu!]);
  const forced = await runIn(Apply, [saved, '--force']);
  assert.is(forced.exitCode, 1);
  assert.match(forced.stderr, 'was planned without --force; --force cannot widen a reviewed plan');
});

s.run();
