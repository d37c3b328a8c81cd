// Planning mediated devices: what mdevctl users rely on (uuid, parent by address or name, type,
// ordered attributes), checked against the parent's types and free instances before any write;
// removal of an mdev a VM holds refused unless forced; prune of what an earlier apply created.

import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadStateFile } from '../../src/desire/load.js';
import { VrError } from '../../src/domain/errors.js';
import { mdevKey } from '../../src/domain/names.js';
import type { Host } from '../../src/domain/types.js';
import { layout } from '../../src/sysfs/layout.js';
import { planYaml, stepTexts } from '../sriov/support.js';
import { IGPU, mdevHost, U1, U2, U3 } from './hosts.js';

const s = suite('mdev: plan');

const mdevs = (...entries: string[]) => `version: 1\nmdevs:\n${entries.join('')}`;
const gvt = (uuid: string, type = 'i915-GVTg_V5_4') => `  - parent: { address: "00:02.0" }\n    type: ${type}\n    uuid: ${uuid}\n`;
const ap = (uuid: string) =>
  `  - parent: { name: matrix }\n    type: vfio_ap-passthrough\n    uuid: ${uuid}\n    attrs:\n      - assign_adapter: "5"\n      - assign_domain: "0x4"\n      - assign_control_domain: "4"\n`;

s('attrs load as an ordered list, mdevctl style; each item must be one name: value', () => {
  const state = loadStateFile('s.yaml', mdevs(ap(U1)));
  assert.equal(state.mdevs[0]!.attrs, [
    { name: 'assign_adapter', value: '5' },
    { name: 'assign_domain', value: '0x4' },
    { name: 'assign_control_domain', value: '4' },
  ]);
  const refused = (attrs: string) => () => loadStateFile('s.yaml', mdevs(`  - parent: { name: matrix }\n    type: t\n    uuid: ${U1}\n    attrs: ${attrs}\n`));
  assert.throws(refused('[ { a: "1", b: "2" } ]'), (e: unknown) => e instanceof VrError && e.kind === 'input');
  assert.throws(refused('[ { "../remove": "1" } ]'), (e: unknown) => e instanceof VrError && e.kind === 'input');
});

s('missing mdevs are created, each followed by its attributes in order; the document says so', () => {
  const p = planYaml(mdevHost(), mdevs(gvt(U2), ap(U1)));
  assert.equal(stepTexts(p), [
    `create-mdev ${U1} (vfio_ap-passthrough on matrix)`,
    `set-mdev-attr ${U1} assign_adapter = 5`,
    `set-mdev-attr ${U1} assign_domain = 0x4`,
    `set-mdev-attr ${U1} assign_control_domain = 4`,
    `create-mdev ${U2} (i915-GVTg_V5_4 on ${IGPU})`,
  ]);
  assert.ok(p.plan.applyable);
  assert.match(p.text, `+ mdev ${U2}  i915-GVTg_V5_4 on ${IGPU}  (spec, mdevs[0] line 3)`);
  assert.match(p.text, 'Plan: 2 mdevs to change, 5 steps.');
  const schema = JSON.parse(readFileSync(new URL('../../../schemas/plan.schema.json', import.meta.url), 'utf8'));
  const validate = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true }).compile(schema);
  assert.ok(validate(p.doc), JSON.stringify(validate.errors));
  assert.equal(p.doc.mdevs.map((m) => [m.uuid, m.action, m.reason, m.after?.parent]), [
    [U1, 'create', 'spec', 'matrix'],
    [U2, 'create', 'spec', IGPU],
  ]);
});

s('an mdev that exists as declared is left alone; on another type it is removed, then created', async () => {
  const k = mdevHost().mdev(U1, { parent: IGPU, type: 'i915-GVTg_V5_8' });
  assert.equal(planYaml(k, mdevs(gvt(U1, 'i915-GVTg_V5_8'))).plan.steps, []);
  const p = planYaml(k, mdevs(gvt(U1)));
  assert.equal(stepTexts(p), [`remove-mdev ${U1} (i915-GVTg_V5_8 on ${IGPU})`, `create-mdev ${U1} (i915-GVTg_V5_4 on ${IGPU})`]);
  assert.match(p.text, `~ mdev ${U1}  i915-GVTg_V5_4 on ${IGPU}, was i915-GVTg_V5_8 on ${IGPU}`);
});

s('an mdev an earlier apply created and no entry declares is pruned; one it did not create is left alone', () => {
  const k = mdevHost().mdev(U1, { parent: IGPU, type: 'i915-GVTg_V5_4' }).mdev(U2, { parent: 'mtty', type: 'mtty-1' });
  const p = planYaml(k, 'version: 1\n', { managed: [mdevKey(U1)] });
  assert.equal(stepTexts(p), [`remove-mdev ${U1} (i915-GVTg_V5_4 on ${IGPU})`]);
  assert.equal(p.doc.mdevs.map((m) => [m.uuid, m.action, m.reason]), [[U1, 'remove', 'prune']]);
  assert.match(p.text, `- mdev ${U1}  i915-GVTg_V5_4 on ${IGPU}  (prune)`);
});

s('a type the parent does not offer is blocked with the types it does offer', () => {
  const p = planYaml(mdevHost(), mdevs(gvt(U1, 'i915-GVTg_V5_1')));
  assert.equal(p.plan.blocked.map((b) => b.code), ['mdev-type']);
  assert.match(p.plan.blocked[0]!.message, `mdevs[0] (line 3): ${IGPU} offers no mdev type i915-GVTg_V5_1`);
  assert.is(p.plan.blocked[0]!.fix, 'use one of its types: i915-GVTg_V5_4, i915-GVTg_V5_8');
});

s('more creations than available_instances is blocked naming the type and the count; a removal frees one', () => {
  const p = planYaml(mdevHost(), mdevs(gvt(U1), gvt(U2), gvt(U3)));
  assert.equal(p.plan.blocked.map((b) => b.code), ['mdev-instances']);
  assert.match(p.plan.blocked[0]!.message, `mdev type i915-GVTg_V5_4 on ${IGPU} has 2 instances available (available_instances), and the plan creates 3`);
  assert.equal(p.plan.steps.filter((x) => x.kind === 'create-mdev').length, 3, 'the steps are shown, the plan is refused');
  // One of the two instances is in use by an mdev the last apply created: moving it frees it.
  const k = mdevHost().mdev(U3, { parent: IGPU, type: 'i915-GVTg_V5_4' });
  assert.ok(planYaml(k, mdevs(gvt(U1), gvt(U2), gvt(U3, 'i915-GVTg_V5_8'))).plan.applyable);
});

s('an mdev on a parent that the same plan rebinds is refused', () => {
  const yaml = `version: 1\ndevices:\n  - match: { address: "00:02.0" }\n    driver: vfio-pci\n${mdevs(gvt(U1)).replace('version: 1\n', '')}`;
  const p = planYaml(mdevHost(), yaml);
  assert.ok(p.plan.blocked.some((b) => b.code === 'mdev-parent-rebind' && b.message.includes('which this plan moves to another driver')));
});

s('removing an mdev a VM holds is refused, and --force plans it with a warning', () => {
  const k = mdevHost().mdev(U1, { parent: IGPU, type: 'i915-GVTg_V5_8' });
  const vm = (h: Host) => void (h.usage = { [mdevKey(U1)]: [{ kind: 'vfio-open', detail: '/dev/vfio/3 open by pid 4242 (qemu-system-x86_64)' }] });
  const blocked = planYaml(k, mdevs(gvt(U1)), {}, vm);
  assert.equal(blocked.plan.blocked.map((b) => b.code), ['in-use']);
  assert.match(blocked.plan.blocked[0]!.message, `mdev ${U1} (i915-GVTg_V5_8 on ${IGPU}) is in use: /dev/vfio/3 open by pid 4242`);
  const forced = planYaml(k, mdevs(gvt(U1)), { force: true }, vm);
  assert.ok(forced.plan.applyable);
  assert.is(forced.doc.mdevs[0]!.forced, true);
  assert.ok(forced.plan.warnings.some((w) => w.message.startsWith('forced past the in-use guard (vfio-open)')));
});

s('a parent selector must match exactly one mdev parent; the error names the parents there are', async () => {
  const fail = (yaml: string, host = mdevHost()): string[] => {
    try {
      planYaml(host, yaml);
    } catch (err) {
      assert.instance(err, VrError);
      return (err as VrError).diagnostics.map((d) => d.message);
    }
    throw new Error('resolve should refuse');
  };
  assert.equal(fail(mdevs(`  - parent: { address: "00:03.0" }\n    type: x\n    uuid: ${U1}\n`)), [
    `mdevs[0] (line 3): parent matches no mdev parent; the mdev parents here are ${IGPU}, matrix, mtty`,
  ]);
  assert.match(fail(mdevs(`  - parent: { name: "m*" }\n    type: x\n    uuid: ${U1}\n`))[0]!, 'parent matches 2 mdev parents (matrix, mtty)');
  const noMdev = mdevHost();
  await noMdev.write(layout.driverAttr('pci', 'i915', 'unbind'), IGPU);
  assert.match(fail(mdevs(gvt(U1)), noMdev)[0]!, 'parent matches no mdev parent; the mdev parents here are matrix, mtty');
});

s.run();
