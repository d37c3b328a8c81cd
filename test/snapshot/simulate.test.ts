// `apply --simulate`: the whole apply on a kernel model of the planned host. It predicts where each
// device ends (a `default` target included, from the snapshot's modules.alias evidence), whether
// each touched IOMMU group can go to VFIO, exits like a live apply, and writes nothing anywhere.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import { planState } from '../../src/cli/run-plan.js';
import Apply from '../../src/commands/apply.js';
import Snapshot from '../../src/commands/snapshot.js';
import { KernelModel } from '../../src/kernel/model.js';
import { simulateApply } from '../../src/snapshot/simulate.js';
import { runIn, runOut, sysfsTree, tempDir } from '../cli/harness.js';
import { snapshotTree, treeChanges } from '../robustness/support.js';
import { liveHost, writeStates } from './support.js';

const tmp = tempDir('simulate');
const states = writeStates(tmp.dir);
const backToHost = join(tmp.dir, 'default.yaml');
const s = suite('apply --simulate');
s.after(tmp.cleanup);

writeFileSync(backToHost, 'version: 1\ndevices:\n  - name: gpu\n    match: { address: "01:00.*" }\n    count: 2\n    driver: default\n');

/** The GPU pair handed to VFIO by override; `nouveauLoaded` decides whether its host driver is registered. */
function passedThrough(nouveauLoaded: boolean): KernelModel {
  return new KernelModel({ kernel: '6.12.9', modulesKnown: false })
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'nouveau', { ids: [], loaded: nouveauLoaded })
    .driver('pci', 'snd_hda_intel', { ids: [] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci' })
    .pci('0000:00:01.0', { vendor: '8086', device: '460d', class: '060400', group: '1', driver: 'pcieport' })
    .pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', group: '1', driver: 'vfio-pci', override: 'vfio-pci', parent: '0000:00:01.0' })
    .pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', group: '1', driver: 'vfio-pci', override: 'vfio-pci', parent: '0000:00:01.0' });
}

s('predicts the end state and the group verdicts; exit 0; --json carries the report', async () => {
  const h = liveHost(gpuPassthrough());
  try {
    const snap = join(tmp.dir, 'gpu.json');
    injectEnv(() => h.env);
    await runIn(Snapshot, ['-o', snap]);
    injectEnv(null);
    const r = await runIn(Apply, [states.gpu!, '--simulate', '--snapshot', snap]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, 'Plan: 2 devices to change');
    assert.match(r.stdout, `Simulated apply on a kernel model of pve-lab (snapshot ${snap}): every step succeeded and verified.`);
    assert.match(r.stdout, /^ {2}0000:01:00\.0 {2}nouveau -> vfio-pci \[override vfio-pci\]$/m);
    assert.match(r.stdout, /^ {2}0000:01:00\.1 {2}snd_hda_intel -> vfio-pci \[override vfio-pci\]$/m);
    assert.match(r.stdout, '  group 1: viable for VFIO (0000:01:00.0, 0000:01:00.1)');
    assert.match(r.stdout, 'Not known to the simulation:\n  - whether each probe succeeds on the hardware');
    assert.not.match(r.stdout, 'whether module vfio_pci exists', 'the snapshot knows the module list');

    const json = JSON.parse((await runIn(Apply, [states.gpu!, '--simulate', '--snapshot', snap, '--json'])).stdout);
    assert.is(json.result.outcome, 'applied');
    assert.equal(json.simulation.groups, [{ group: '1', viable: true, vfio_members: ['0000:01:00.0', '0000:01:00.1'], blockers: [] }]);
    assert.equal(json.simulation.devices[0].after, { driver: 'vfio-pci', override: 'vfio-pci' });
    assert.ok(json.simulation.devices.every((d: { as_planned: boolean }) => d.as_planned));
  } finally {
    injectEnv(null);
    h.cleanup();
  }
});

s('a `default` target predicts the driver modules.alias names; the group then leaves VFIO', async () => {
  const h = liveHost(passedThrough(true));
  try {
    const snap = join(tmp.dir, 'passed-through.json');
    injectEnv(() => h.env);
    await runIn(Snapshot, ['-o', snap]);
    injectEnv(null);
    const r = await runIn(Apply, [backToHost, '--simulate', '--snapshot', snap]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /0000:01:00\.0 {2}vfio-pci \[override vfio-pci\] -> nouveau {2}the kernel's choice, from modules\.alias, module nouveau/);
    assert.match(r.stdout, /0000:01:00\.1 {2}vfio-pci \[override vfio-pci\] -> snd_hda_intel {2}the kernel's choice, from modules\.alias, module snd_hda_intel/);
    assert.match(r.stdout, /group 1: not viable for VFIO: 0000:01:00\.0 on nouveau, a host driver/);
  } finally {
    injectEnv(null);
    h.cleanup();
  }
});

s('a default driver whose module is not loaded: nothing binds, and the report says why', async () => {
  const h = liveHost(passedThrough(false));
  try {
    const run = planState(h.env, backToHost, { force: false });
    assert.is(run.kind, 'planned');
    if (run.kind !== 'planned') return;
    const { result, report } = await simulateApply(run.plan, run.host, h.env);
    assert.is(result.outcome, 'applied');
    const gpu = report.devices.find((d) => d.address === '0000:01:00.0')!;
    assert.equal(gpu.after, { driver: null, override: null });
    assert.match(gpu.note ?? '', 'nothing binds it: its default driver nouveau is not loaded (modprobe nouveau, or reboot)');
  } finally {
    h.cleanup();
  }
});

s('without modules.alias (a copied tree) the default is unknown, and the report lists it as such', async () => {
  const h = liveHost(passedThrough(true));
  try {
    const { hostFiles: _dropped, ...env } = h.env;
    const run = planState(env, backToHost, { force: false });
    if (run.kind !== 'planned') throw new Error('not planned');
    const { report } = await simulateApply(run.plan, run.host, env);
    assert.equal(report.devices[0]!.after, { driver: null, override: null });
    assert.match(report.devices[0]!.note ?? '', "the kernel's default for this device is unknown");
    assert.ok(report.unknowns.some((u) => u.startsWith('which driver the kernel picks for 0000:01:00.0')), report.unknowns.join('\n'));
  } finally {
    h.cleanup();
  }
});

s('mdevs the plan creates show in the report', async () => {
  const h = liveHost(gpuPassthrough().mdevParent('0000:00:02.0', { types: [{ id: 'i915-GVTg_V5_4', instances: 2 }] }));
  try {
    const snap = join(tmp.dir, 'mdev.json');
    injectEnv(() => h.env);
    await runIn(Snapshot, ['-o', snap]);
    injectEnv(null);
    const r = await runIn(Apply, [states.mdev!, '--simulate', '--snapshot', snap]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, 'Mediated devices:\n  0b2ac85e-9b54-4bd1-9f3c-5d2e7c0b4a11  i915-GVTg_V5_4 on 0000:00:02.0: created');
  } finally {
    injectEnv(null);
    h.cleanup();
  }
});

s('a blocked plan: the simulation refuses it with exit 1, as the live apply does', async () => {
  const model = gpuPassthrough();
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel }));
  try {
    const live = await runIn(Apply, [states.split!]);
    const simulated = await runIn(Apply, [states.split!, '--simulate']);
    assert.is(live.exitCode, 1);
    assert.is(simulated.exitCode, 1);
    assert.is(simulated.stderr, live.stderr);
    assert.match(simulated.stderr, 'refusing to apply a blocked plan; nothing was written');
    assert.equal(model.writes, [], 'neither wrote');
  } finally {
    injectEnv(null);
  }
});

s('writes nothing: the --sysfs-root tree stays byte-identical, no state dir (so no lock, no journal)', () => {
  const tree = sysfsTree(gpuPassthrough());
  try {
    const before = snapshotTree(tree.dir);
    const stateDir = join(tmp.dir, 'state-never');
    const r = runOut(['apply', states.gpu!, '--simulate', '--sysfs-root', tree.dir, '--hostname', 'pve-lab', '--state-dir', stateDir]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, `Simulated apply on a kernel model of ${tree.dir}: every step succeeded and verified.`);
    assert.match(r.stdout, 'whether module vfio_pci exists: the host has no module list, so it is assumed to');
    assert.equal(treeChanges(before, snapshotTree(tree.dir)), []);
    assert.not.ok(existsSync(stateDir), 'no state dir was created');

    const snap = join(tmp.dir, 'tree.json');
    runOut(['snapshot', '--sysfs-root', tree.dir, '--hostname', 'pve-lab', '-o', snap]);
    const text = readFileSync(snap, 'utf8');
    const viaSnapshot = runOut(['apply', states.gpu!, '--simulate', '--snapshot', snap, '--state-dir', stateDir]);
    assert.is(viaSnapshot.exitCode, 0, viaSnapshot.stderr);
    assert.is(readFileSync(snap, 'utf8'), text);
    assert.not.ok(existsSync(stateDir));
  } finally {
    tree.cleanup();
  }
});

s('--snapshot on apply needs --simulate: a snapshot cannot be written to', () => {
  const r = runOut(['apply', states.gpu!, '--snapshot', join(tmp.dir, 'gpu.json')]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, '--simulate');
});

s.run();
