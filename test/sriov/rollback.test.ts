// Rollback of SR-IOV changes: whatever step fails, sriov_numvfs, sriov_drivers_autoprobe and every
// VF binding come back as they were; the same holds for `rollback` of a finished apply, which
// restores from the journal's pre-state.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeIo } from '../../src/apply/io.js';
import { rollBack } from '../../src/apply/restore.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { layout } from '../../src/sysfs/layout.js';
import { fromSnapshot } from '../../src/state/records.js';
import { planDevices, snapshots } from '../../src/state/session.js';
import { applyPlan, bindings, nvmeHost, PF, planYaml } from './support.js';

const s = suite('sriov: rollback');

const vfsTo = (count: number) => `version: 1
devices:
  - match: { address: "02:00.0" }
    driver: nvme
    vfs: { count: ${count}, driver: vfio-pci }
`;

/** Two VFs already on vfio-pci (by override), as an earlier apply leaves them. */
async function twoVfsOnVfio(): Promise<KernelModel> {
  const k = nvmeHost({ numVfs: 2 });
  await k.load('vfio_pci');
  for (const vf of ['0000:02:00.1', '0000:02:00.2']) {
    await k.write(layout.attr('pci', vf, 'driver_override'), 'vfio-pci');
    await k.write(layout.driversProbe('pci'), vf);
  }
  return k;
}

/** Fails step `i` before its write, and checks that the host is back exactly as it was. */
async function failAt(make: () => KernelModel | Promise<KernelModel>, yaml: string): Promise<number> {
  const steps = planYaml(await make(), yaml).plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const k = await make();
    const before = bindings(k);
    const result = await applyPlan(k, planYaml(k, yaml).plan, {
      hooks: {
        onStepStart: (_step, index) => {
          if (index === i) throw new Error('injected failure');
        },
      },
    });
    const label = `failure at step ${i + 1} (${steps[i]!.kind})`;
    assert.is(result.outcome, 'rolled-back', label);
    assert.equal(result.rollback!.failed, [], label);
    assert.equal(bindings(k), before, label);
  }
  return steps.length;
}

s('a failure at any step of creating and binding VFs: no VFs, autoprobe on, PF on nvme', async () => {
  const n = await failAt(() => nvmeHost(), vfsTo(2));
  assert.is(n, 10);
});

s('a failure at any step of 2 -> 3 VFs: both old VFs back on vfio-pci with their overrides', async () => {
  const n = await failAt(twoVfsOnVfio, vfsTo(3));
  assert.ok(n > 10);
});

s('a real probe failure of a new VF after set-numvfs rolls sriov_numvfs back to 0', async () => {
  const k = nvmeHost().failProbe('vfio-pci', '0000:02:00.2', 'EINVAL');
  const result = await applyPlan(k, planYaml(k, vfsTo(2)).plan);
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.device, 'pci/0000:02:00.2');
  assert.equal([k.dev(PF).numVfs, k.dev(PF).autoprobe, k.dev(PF).driver], [0, true, 'nvme']);
  assert.not.ok(k.has('0000:02:00.1'));
  assert.ok(result.rollback!.restored.includes(`pci/${PF}`));
});

s('VFs that do not appear at the predicted addresses: nothing is bound, the count goes back', async () => {
  const k = nvmeHost();
  // The host showed an offset the kernel then does not use (a device whose offset changes with NumVFs).
  const p = planYaml(k, vfsTo(2), {}, (h) => void (h.devices.find((d) => d.name === PF)!.sriov!.offset = 2)).plan;
  const result = await applyPlan(k, p);
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.step.kind, 'set-numvfs');
  assert.match(result.failure!.message, '0000:02:00.0 created its VFs at 0000:02:00.1, 0000:02:00.2, not at the predicted 0000:02:00.2, 0000:02:00.3');
  assert.is(k.dev(PF).numVfs, 0);
  assert.ok(k.writes.every((w) => !w.path.endsWith('driver_override')), 'nothing was written to a VF');
});

s('rollback of a finished apply from its pre-state (the journal) restores count, autoprobe and VF bindings', async () => {
  const k = await twoVfsOnVfio();
  const before = bindings(k);
  const p = planYaml(k, vfsTo(4)).plan;
  const pre = snapshots(k, planDevices(p));
  assert.is((await applyPlan(k, p)).outcome, 'applied');
  assert.is(k.dev(PF).numVfs, 4);
  const journalled = JSON.parse(JSON.stringify(pre)) as typeof pre;
  const report = await rollBack(journalled.map(fromSnapshot), makeIo(k, k, 5000));
  assert.equal(report.failed, []);
  assert.equal(bindings(k), before);
});

s.run();
