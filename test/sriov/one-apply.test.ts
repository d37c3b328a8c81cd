// SR-IOV in one apply: a PF rule's `vfs:` creates the VFs and binds them in the same apply, at the
// addresses the PF's sriov_offset/stride predict; `pf:`/`vf:` rules split them; the kernel's rules
// (through 0, totalvfs, autoprobe) hold; a second apply has nothing to do.

import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { VrError } from '../../src/domain/errors.js';
import { layout } from '../../src/sysfs/layout.js';
import { applyPlan, converge, nvmeHost, PF, planYaml, stepTexts } from './support.js';

const s = suite('sriov: VFs created and bound in one apply');

const VFS = ['0000:02:00.1', '0000:02:00.2', '0000:02:00.3', '0000:02:00.4'];
const twoOnVfio = `version: 1
devices:
  - name: nvme-pf
    match: { address: "02:00.0" }
    driver: nvme
    vfs: { count: 2, driver: vfio-pci }
`;

s('the PF keeps nvme while two new VFs go to vfio-pci; a second apply has nothing to do', async () => {
  const k = nvmeHost();
  const first = planYaml(k, twoOnVfio);
  assert.equal(stepTexts(first), [
    'load-module vfio_pci',
    `set-autoprobe ${PF} 1 -> 0`,
    `set-numvfs ${PF} 0 -> 2 (creates 0000:02:00.1, 0000:02:00.2)`,
    'set-override 0000:02:00.1 -> vfio-pci',
    'set-override 0000:02:00.2 -> vfio-pci',
    'probe 0000:02:00.1',
    'probe 0000:02:00.2',
    'verify 0000:02:00.1: driver vfio-pci, override vfio-pci',
    'verify 0000:02:00.2: driver vfio-pci, override vfio-pci',
    `set-autoprobe ${PF} 0 -> 1`,
  ]);
  assert.equal(first.plan.warnings, []);
  // Right after the VFs appear, nvme (whose ID table matches them) must not have taken them.
  const atCreation: (string | null)[] = [];
  const result = await applyPlan(k, first.plan, {
    hooks: { onStepDone: (step) => void (step.kind === 'set-numvfs' && atCreation.push(...VFS.slice(0, 2).map((v) => k.dev(v).driver))) },
  });
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal(atCreation, [null, null]);
  assert.equal(k.dev(PF), { ...k.dev(PF), driver: 'nvme', numVfs: 2, autoprobe: true });
  for (const vf of VFS.slice(0, 2)) assert.equal([k.dev(vf).driver, k.dev(vf).override], ['vfio-pci', 'vfio-pci'], vf);
  assert.ok(k.vfioNodes().includes(k.dev('0000:02:00.1').group!), '/dev/vfio node of a VF');
  assert.equal(planYaml(k, twoOnVfio).plan.steps, []);
});

s('pf: and vf: split the new VFs: 0-1 to vfio-pci, 2-3 left to the host VF driver', async () => {
  const k = nvmeHost();
  const yaml = `version: 1
devices:
  - name: nvme-pf
    match: { address: "02:00.0" }
    vfs: { count: 4 }
  - name: vm-vfs
    match: { pf: "02:00.0", vf: "0-1" }
    count: 2
    driver: vfio-pci
`;
  const { first, result, again } = await converge(k, yaml);
  const steps = stepTexts(first);
  assert.ok(steps.indexOf(`set-autoprobe ${PF} 1 -> 0`) < steps.indexOf(`set-numvfs ${PF} 0 -> 4 (creates ${VFS.join(', ')})`));
  assert.ok(steps.indexOf(`set-autoprobe ${PF} 0 -> 1`) < steps.indexOf('probe 0000:02:00.3'), 'host-driver VFs are probed once autoprobe is back on');
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal(VFS.map((v) => k.dev(v).driver), ['vfio-pci', 'vfio-pci', 'nvme', 'nvme']);
  assert.equal(VFS.map((v) => k.dev(v).override), ['vfio-pci', 'vfio-pci', null, null]);
  assert.equal(again.plan.steps, []);
});

s('a count change of existing VFs unbinds them first, goes through 0 and binds the new ones', async () => {
  const k = nvmeHost({ numVfs: 2 });
  for (const vf of VFS.slice(0, 2)) {
    await k.load('vfio_pci');
    await k.write(layout.attr('pci', vf, 'driver_override'), 'vfio-pci');
    await k.write(layout.driversProbe('pci'), vf);
  }
  const yaml = twoOnVfio.replace('count: 2', 'count: 3');
  const { first, result, again } = await converge(k, yaml);
  assert.equal(stepTexts(first).slice(0, 5), [
    'unbind 0000:02:00.1 from vfio-pci',
    'unbind 0000:02:00.2 from vfio-pci',
    `set-autoprobe ${PF} 1 -> 0`,
    `set-numvfs ${PF} 2 -> 0`,
    `set-numvfs ${PF} 0 -> 3 (creates 0000:02:00.1, 0000:02:00.2, 0000:02:00.3)`,
  ]);
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal(VFS.slice(0, 3).map((v) => k.dev(v).driver), ['vfio-pci', 'vfio-pci', 'vfio-pci']);
  assert.equal(again.plan.steps, []);
});

s('count 0 unbinds the VFs, then destroys them; autoprobe is not touched', async () => {
  const k = nvmeHost({ numVfs: 2 });
  for (const vf of ['0000:02:00.1', '0000:02:00.2']) await k.write(layout.driversProbe('pci'), vf);
  const yaml = twoOnVfio.replace('count: 2, driver: vfio-pci', 'count: 0');
  const first = planYaml(k, yaml);
  assert.equal(stepTexts(first), ['unbind 0000:02:00.1 from nvme', 'unbind 0000:02:00.2 from nvme', `set-numvfs ${PF} 2 -> 0`]);
  assert.is((await applyPlan(k, first.plan)).outcome, 'applied');
  assert.not.ok(k.has('0000:02:00.1'));
  assert.equal(planYaml(k, yaml).plan.steps, []);
});

s('an autoprobe the admin turned off stays off, and the new VFs are still bound', async () => {
  const k = nvmeHost({ autoprobe: false });
  const { first, result, again } = await converge(k, twoOnVfio);
  assert.not.ok(first.plan.steps.some((x) => x.kind === 'set-autoprobe'));
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal([k.dev('0000:02:00.2').driver, k.dev(PF).autoprobe], ['vfio-pci', false]);
  assert.equal(again.plan.steps, []);
});

s('driver: none for the VFs leaves them unbound with override none', async () => {
  const k = nvmeHost();
  const { result, again } = await converge(k, twoOnVfio.replace('driver: vfio-pci', 'driver: none'));
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal([k.dev('0000:02:00.1').driver, k.dev('0000:02:00.1').override], [null, 'none']);
  assert.equal(again.plan.steps, []);
});

s('more VFs than sriov_totalvfs is an error naming the limit, before any plan', () => {
  const k = nvmeHost({ totalVfs: 2 });
  try {
    planYaml(k, twoOnVfio.replace('count: 2', 'count: 3'));
    assert.unreachable('resolve should refuse');
  } catch (err) {
    assert.instance(err, VrError);
    assert.is((err as VrError).kind, 'selector');
    assert.match((err as VrError).diagnostics[0]!.message, 'asks for 3 VFs on 0000:02:00.0 (1b36:0010), which supports at most 2 (sriov_totalvfs)');
  }
});

s('a VF in use blocks the count change that would destroy it, unless forced', () => {
  const k = nvmeHost({ numVfs: 2 });
  const held = { kind: 'vfio-open' as const, detail: '/dev/vfio/11 open by pid 4242 (qemu-system-x86_64)' };
  const withVm = (h: import('../../src/domain/types.js').Host) => void (h.usage = { 'pci/0000:02:00.2': [held] });
  const yaml = twoOnVfio.replace('count: 2', 'count: 4');
  const blocked = planYaml(k, yaml, {}, withVm);
  assert.equal(blocked.plan.blocked.map((b) => [b.code, b.device]), [['in-use', `pci/${PF}`]]);
  assert.match(blocked.plan.blocked[0]!.message, '0000:02:00.2, a VF of 0000:02:00.0, is in use: /dev/vfio/11 open by pid 4242');
  const forced = planYaml(k, yaml, { force: true }, withVm);
  assert.ok(forced.plan.applyable);
  assert.ok(forced.plan.warnings.some((w) => /forced past the in-use guard/.test(w.message)));
});

s('without sriov_offset/stride the count is set now and the new VFs are bound by the next apply', async () => {
  const k = nvmeHost();
  const oldKernel = (h: import('../../src/domain/types.js').Host) => {
    for (const d of h.devices) if (d.sriov) d.sriov = { totalVfs: d.sriov.totalVfs, numVfs: d.sriov.numVfs, driversAutoprobe: d.sriov.driversAutoprobe };
  };
  const first = planYaml(k, twoOnVfio, {}, oldKernel);
  assert.equal(stepTexts(first), [`set-numvfs ${PF} 0 -> 2`]);
  assert.match(first.plan.warnings[0]!.message, 'shows no sriov_offset/sriov_stride');
  assert.match(first.plan.warnings[0]!.message, 'needs a second apply');
  assert.is((await applyPlan(k, first.plan)).outcome, 'applied');
  const second = planYaml(k, twoOnVfio, {}, oldKernel);
  assert.is((await applyPlan(k, second.plan)).outcome, 'applied');
  assert.equal([k.dev('0000:02:00.1').driver, k.dev('0000:02:00.2').driver], ['vfio-pci', 'vfio-pci']);
});

s('new VFs of a PF without an IOMMU group cannot go to vfio-pci', () => {
  const k = nvmeHost();
  const noIommu = (h: import('../../src/domain/types.js').Host) => {
    h.devices = h.devices.map((d) => ({ ...d, iommuGroup: null }));
  };
  const p = planYaml(k, twoOnVfio, {}, noIommu);
  assert.equal(p.plan.blocked.map((b) => b.code), ['no-iommu-group', 'no-iommu-group']);
  assert.match(p.plan.blocked[0]!.message, '0000:02:00.1, a VF this plan creates on 0000:02:00.0, will have no IOMMU group');
});

s('a PF leaving its driver takes its VFs along: the plan says so, and a VF driver that does not exist blocks already', () => {
  const k = nvmeHost({ numVfs: 2 }).driver('pci', 'pci-stub', { module: 'pci_stub', loaded: false });
  const yaml = (vfDriver: string) => `version: 1\ndevices:\n  - match: { address: "02:00.0" }\n    driver: pci-stub\n  - match: { pf: "02:00.0" }\n    driver: ${vfDriver}\n`;
  const p = planYaml(k, yaml('vfio-pci'));
  assert.equal(p.doc.changes.map((c) => c.address), [PF], 'nothing is planned for VFs that the unbind destroys');
  assert.match(p.plan.warnings[0]!.message, `${PF} leaves nvme in this apply, which destroys its 2 VFs; run apply again to recreate them`);
  assert.equal(planYaml(k, yaml('no-such-driver')).plan.blocked.map((b) => b.code), ['unknown-driver']);
});

s('the plan document shows the new VFs with their PF, index and ids, and the VFs set-numvfs must create', () => {
  const schema = JSON.parse(readFileSync(new URL('../../../schemas/plan.schema.json', import.meta.url), 'utf8'));
  const validate = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true }).compile(schema);
  const { doc, text } = planYaml(nvmeHost(), twoOnVfio);
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  const vf = doc.changes.find((c) => c.address === '0000:02:00.2')!;
  assert.equal([vf.created, vf.group, vf.vendor, vf.device, vf.before], [{ pf: PF, index: 1 }, null, '1b36', '0010', { driver: null, override: null }]);
  const numvfs = doc.steps.find((x) => x.kind === 'set-numvfs');
  assert.equal(numvfs && 'vfs' in numvfs ? numvfs.vfs : undefined, ['0000:02:00.1', '0000:02:00.2']);
  assert.match(text, '~ 0000:02:00.2  1b36:0010  new VF 1 of 0000:02:00.0  (spec, rule nvme-pf line 3)');
});

s.run();
