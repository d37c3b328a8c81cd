// Plans applied to the in-memory kernel: the plan's steps must actually reach what the plan
// promises, and planning again afterwards must give nothing (design.md "Plan"; style anchor 10).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execute } from '../../src/apply/executor.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import type { Plan } from '../../src/domain/types.js';
import { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { plan, type PlannerOptions } from '../../src/plan/planner.js';

const s = suite('plan against the kernel model');

function gpuBox(): KernelModel {
  return new KernelModel({ kernel: '6.12' })
    .driver('pci', 'nvidia')
    .driver('pci', 'snd_hda_intel')
    .driver('pci', 'e1000e')
    .driver('pci', 'vfio-pci', { loaded: false })
    .pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', driver: 'nvidia', group: '1' })
    .pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', driver: 'snd_hda_intel', group: '1' })
    .pci('0000:03:00.0', { vendor: '8086', device: '10d3', class: '020000', driver: 'e1000e', group: '3' });
}

function planFor(k: KernelModel, yaml: string, opts: PlannerOptions = {}): Plan {
  const host = observe(k, { modules: k, hostname: 'pve-1', kernelRelease: '6.12.0' });
  return plan(host, resolve(loadStateFile('state.yaml', yaml), host), opts);
}

async function apply(k: KernelModel, p: Plan): Promise<void> {
  assert.ok(p.applyable, JSON.stringify(p.blocked));
  const r = await execute(p, { sysfs: k, modules: k });
  assert.is(r.outcome, 'applied');
}

const GPU = `version: 1
devices:
  - name: rtx3090
    match: { address: "01:00.0" }
    driver: vfio-pci
options: { iommuGroups: include }
`;

s('apply reaches the planned bindings, and the next plan is empty', async () => {
  const k = gpuBox();
  const first = planFor(k, GPU);
  await apply(k, first);
  assert.is(k.dev('0000:01:00.0').driver, 'vfio-pci');
  assert.is(k.dev('0000:01:00.1').driver, 'vfio-pci', 'sibling brought along');
  assert.equal(planFor(k, GPU, { managed: first.changes.map((c) => c.device) }).steps, []);
});

s('none and default round-trip too', async () => {
  const k = gpuBox();
  const yaml = `version: 1\ndevices:\n  - match: { address: "03:00.0" }\n    driver: none\n`;
  await apply(k, planFor(k, yaml));
  assert.equal([k.dev('0000:03:00.0').driver, k.dev('0000:03:00.0').override], [null, 'none']);
  assert.equal(planFor(k, yaml).steps, []);
  const back = yaml.replace('none', 'default');
  await apply(k, planFor(k, back));
  assert.equal([k.dev('0000:03:00.0').driver, k.dev('0000:03:00.0').override], ['e1000e', null]);
  assert.equal(planFor(k, back).steps, []);
});

s('removing a rule prunes its devices back to their host drivers', async () => {
  const k = gpuBox();
  const first = planFor(k, GPU);
  await apply(k, first);
  const managed = first.changes.map((c) => c.device);
  const revert = planFor(k, 'version: 1\ndevices: []\n', { managed });
  assert.equal(revert.changes.map((c) => c.reason), ['prune', 'prune']);
  await apply(k, revert);
  assert.is(k.dev('0000:01:00.0').driver, 'nvidia');
  assert.is(k.dev('0000:01:00.1').driver, 'snd_hda_intel');
  assert.equal(planFor(k, 'version: 1\ndevices: []\n', { managed }).steps, []);
});

s.run();
