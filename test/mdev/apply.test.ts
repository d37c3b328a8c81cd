// Applying mediated devices on the kernel model: created with their attributes, idempotent,
// recorded in the managed set and pruned from it, and rolled back (a created mdev removed, a
// removed one created again with the same uuid and type) when a later step fails.

import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXAMPLE_HOSTS } from '../../examples/hosts.js';
import { makeIo } from '../../src/apply/io.js';
import { rollBack } from '../../src/apply/restore.js';
import { packageRoot } from '../../src/cli/paths.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import { mdevKey } from '../../src/domain/names.js';
import { observe } from '../../src/observe/observe.js';
import { plan } from '../../src/plan/planner.js';
import { afterApply } from '../../src/state/managed.js';
import { fromSnapshot } from '../../src/state/records.js';
import { planDevices, snapshots } from '../../src/state/session.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { layout } from '../../src/sysfs/layout.js';
import { applyPlan, converge, planYaml } from '../sriov/support.js';
import { IGPU, mdevHost, U1, U2 } from './hosts.js';

const s = suite('mdev: apply and rollback');

const state = (body: string) => `version: 1\nmdevs:\n${body}`;
const apEntry = `  - parent: { name: matrix }\n    type: vfio_ap-passthrough\n    uuid: ${U1}\n    attrs:\n      - assign_adapter: "5"\n      - assign_domain: "4"\n`;
const gvtEntry = (uuid: string, type = 'i915-GVTg_V5_4') => `  - parent: { address: "00:02.0" }\n    type: ${type}\n    uuid: ${uuid}\n`;

s('an mdev is created with its attributes, bound to its mdev driver; a second apply has nothing to do', async () => {
  const k = mdevHost();
  const { result, again } = await converge(k, state(apEntry + gvtEntry(U2)));
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal(k.mdevs().map((m) => [m.uuid, m.parent, m.type, m.driver, m.attrs]), [
    [U1, 'matrix', 'vfio_ap-passthrough', 'vfio_ap_mdev', { assign_adapter: '5', assign_domain: '4' }],
    [U2, IGPU, 'i915-GVTg_V5_4', 'vfio_mdev', {}],
  ]);
  assert.equal(again.plan.steps, []);
});

s('the managed set records the mdevs an apply created; dropping one from the file removes it', async () => {
  const k = mdevHost();
  const first = planYaml(k, state(gvtEntry(U1) + gvtEntry(U2)));
  assert.is((await applyPlan(k, first.plan)).outcome, 'applied');
  const managed = afterApply({}, first.plan, [], 'j1');
  assert.equal(managed[mdevKey(U1)]!.mdev, { parent: IGPU, type: 'i915-GVTg_V5_4' });
  const prune = planYaml(k, state(gvtEntry(U2)), { managed: Object.keys(managed) });
  assert.equal(prune.doc.mdevs.map((m) => [m.uuid, m.action, m.reason]), [[U1, 'remove', 'prune']]);
  assert.is((await applyPlan(k, prune.plan)).outcome, 'applied');
  assert.equal(k.mdevs().map((m) => m.uuid), [U2]);
  assert.not.ok(mdevKey(U1) in afterApply(managed, prune.plan, [], 'j2'), 'a pruned mdev leaves the managed set');
});

s('an attribute the parent does not offer fails the apply, and the new mdev is removed again', async () => {
  // U1 (with the attributes) comes first: mdevs are created in uuid order.
  const k = mdevHost();
  const p = planYaml(k, state(gvtEntry(U2) + apEntry.replace('assign_domain', 'assign_nothing')));
  const result = await applyPlan(k, p.plan);
  assert.is(result.outcome, 'rolled-back');
  assert.match(result.failure!.message, `mdev ${U1} has no attribute assign_nothing`);
  assert.equal(k.mdevs(), [], 'U1 removed again, U2 never created');
  assert.equal(result.rollback!.restored, [mdevKey(U1)]);
});

s('a failed creation after a removal creates the removed mdev again, same uuid and type', async () => {
  const k = mdevHost().mdev(U1, { parent: IGPU, type: 'i915-GVTg_V5_8' });
  k.inject({ path: layout.mdevTypeAttr(IGPU, 'i915-GVTg_V5_4', 'create'), errno: 'EUSERS' });
  const result = await applyPlan(k, planYaml(k, state(gvtEntry(U1))).plan);
  assert.is(result.outcome, 'rolled-back');
  assert.match(result.failure!.message, `no instance of mdev type i915-GVTg_V5_4 is left on ${IGPU}`);
  assert.equal(k.mdevs().map((m) => [m.uuid, m.type]), [[U1, 'i915-GVTg_V5_8']]);
});

s('rollback of a finished apply (the journal pre-state) removes what it created and recreates what it removed', async () => {
  const k = mdevHost().mdev(U2, { parent: 'mtty', type: 'mtty-1' });
  const p = planYaml(k, state(gvtEntry(U1)), { managed: [mdevKey(U2)] }).plan;
  const pre = JSON.parse(JSON.stringify(snapshots(k, planDevices(p)))) as ReturnType<typeof snapshots>;
  assert.is((await applyPlan(k, p)).outcome, 'applied');
  assert.equal(k.mdevs().map((m) => m.uuid), [U1]);
  const report = await rollBack(pre.map(fromSnapshot), makeIo(k, k, 5000));
  assert.equal(report.failed, []);
  assert.equal(k.mdevs().map((m) => [m.uuid, m.parent, m.type]), [[U2, 'mtty', 'mtty-1']]);
});

s('a shared pool used up by another type: the kernel refuses at apply time (EUSERS) and nothing is left half done', async () => {
  const k = mdevHost();
  // 12 dual-port instances are available by the per-type count, but they share 24 ports with mtty-1.
  const entries = Array.from({ length: 12 }, (_, i) => `  - parent: { name: mtty }\n    type: mtty-2\n    uuid: 83b8f4f2-509f-382f-3c1e-e6bfe0fa2${String(i).padStart(3, '0')}\n`).join('');
  const one = `  - parent: { name: mtty }\n    type: mtty-1\n    uuid: ${U1}\n`;
  const p = planYaml(k, state(one + entries));
  assert.ok(p.plan.applyable, 'each type alone has enough instances');
  const result = await applyPlan(k, p.plan);
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.errno, 'EUSERS');
  assert.equal(k.mdevs(), []);
});

s('mdev-gpu example: plans against its bundled tree and converges on the kernel model', async () => {
  const dir = join(packageRoot, 'examples', 'mdev-gpu');
  const yaml = loadStateFile(join(dir, 'state.yaml'));
  const tree = observe(new FsSysfsPort(join(dir, 'sysfs')));
  const first = plan(tree, resolve(yaml, tree));
  assert.ok(first.applyable, JSON.stringify(first.blocked));
  assert.equal(first.mdevs!.map((m) => `${m.after!.type}@${m.after!.parent}`), [
    'nvidia-230@0000:3b:00.0',
    'nvidia-230@0000:3b:00.0',
    'i915-GVTg_V5_4@0000:00:02.0',
    'i915-GVTg_V5_4@0000:00:02.0',
  ]);
  const k = EXAMPLE_HOSTS['mdev-gpu']!();
  assert.is((await applyPlan(k, first)).outcome, 'applied');
  const after = observe(k);
  assert.equal(plan(after, resolve(yaml, after)).steps, []);
  assert.is(after.mdevs!.parents.find((p) => p.name === '0000:00:02.0')!.types[0]!.availableInstances, 0);
});

s.run();
