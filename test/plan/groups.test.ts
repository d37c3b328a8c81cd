import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { groupVerdict, usesDmaOwnership } from '../../src/plan/groups.js';
import { plan } from '../../src/plan/planner.js';
import { bridge, desired, host, pci, stepLines } from './factory.js';

const s = suite('plan: IOMMU groups');

const gpu = () => pci('0000:01:00.0', { class: '030000', driver: 'nvidia', iommuGroup: '1' });
const audio = (o = {}) => pci('0000:01:00.1', { class: '040300', driver: 'snd_hda_intel', iommuGroup: '1', ...o });

s('strict refuses a split group, naming the group, siblings with drivers, and the fix', () => {
  const p = plan(host([gpu(), audio()]), desired([['0000:01:00.0', 'vfio-pci']]));
  assert.not.ok(p.applyable);
  assert.is(p.blocked.length, 1);
  const b = p.blocked[0]!;
  assert.is(b.code, 'group-split');
  assert.match(b.message, 'IOMMU group 1');
  assert.match(b.message, '0000:01:00.1 (snd_hda_intel)');
  assert.match(b.fix!, 'add 0000:01:00.1 to a rule');
  assert.match(b.fix!, 'options.iommuGroups: include');
  assert.is(b.device, 'pci/0000:01:00.1');
});

s('strict accepts siblings that are unbound or on pci-stub', () => {
  for (const driver of [null, 'pci-stub']) {
    const p = plan(host([gpu(), audio({ driver })]), desired([['0000:01:00.0', 'vfio-pci']]));
    assert.ok(p.applyable, String(driver));
  }
});

s('a sibling covered by a rule with a host driver is named with its line', () => {
  const d = desired([['0000:01:00.0', 'vfio-pci'], ['0000:01:00.1', 'snd_hda_intel']]);
  const p = plan(host([gpu(), audio()]), d);
  assert.is(p.blocked[0]?.code, 'group-split');
  assert.match(p.blocked[0]!.fix!, 'give 0000:01:00.1 driver vfio-pci or none (line 6)');
});

s('include brings siblings along to the same VFIO driver, in one group block', () => {
  const p = plan(host([gpu(), audio()]), desired([['0000:01:00.0', 'vfio-pci']], { iommuGroups: 'include' }));
  assert.ok(p.applyable);
  const sib = p.changes.find((c) => c.device === 'pci/0000:01:00.1')!;
  assert.is(sib.reason, 'group');
  assert.equal(sib.after, { driver: 'vfio-pci', override: 'vfio-pci' });
  assert.equal(sib.rule, p.changes.find((c) => c.device === 'pci/0000:01:00.0')!.rule);
  assert.equal(stepLines(p.steps), [
    'load-module vfio_pci',
    'set-override pci/0000:01:00.0 vfio-pci',
    'set-override pci/0000:01:00.1 vfio-pci',
    'unbind pci/0000:01:00.0 nvidia',
    'unbind pci/0000:01:00.1 snd_hda_intel',
    'probe pci/0000:01:00.0',
    'probe pci/0000:01:00.1',
    'verify pci/0000:01:00.0 vfio-pci vfio-pci',
    'verify pci/0000:01:00.1 vfio-pci vfio-pci',
  ]);
});

s('the planner option overrides the state file policy', () => {
  const p = plan(host([gpu(), audio()]), desired([['0000:01:00.0', 'vfio-pci']]), { iommuGroups: 'include' });
  assert.ok(p.applyable);
});

s('include leaves unbound siblings alone and never touches rule-covered ones', () => {
  const p1 = plan(host([gpu(), audio({ driver: null })]), desired([['0000:01:00.0', 'vfio-pci']], { iommuGroups: 'include' }));
  assert.equal(p1.changes.map((c) => c.device), ['pci/0000:01:00.0']);
  const p2 = plan(
    host([gpu(), audio()]),
    desired([['0000:01:00.0', 'vfio-pci'], ['0000:01:00.1', 'snd_hda_intel']], { iommuGroups: 'include' }),
  );
  assert.is(p2.blocked[0]?.code, 'group-split');
});

s('include gives siblings plain vfio-pci when the lead uses a variant driver', () => {
  const nic = pci('0000:05:00.0', { driver: 'mlx5_core', iommuGroup: '5' });
  const fn1 = pci('0000:05:00.1', { driver: 'mlx5_core', iommuGroup: '5' });
  const p = plan(host([nic, fn1]), desired([['0000:05:00.0', 'mlx5_vfio_pci']], { iommuGroups: 'include' }));
  assert.equal(p.changes.find((c) => c.device === 'pci/0000:05:00.1')!.after.driver, 'vfio-pci');
});

s('bridges are never rebound: a rule on one is ignored with a warning', () => {
  const p = plan(host([bridge('0000:00:01.0', { iommuGroup: '1' })]), desired([['0000:00:01.0', 'vfio-pci']]));
  assert.equal(p.changes, []);
  assert.equal(p.steps, []);
  assert.is(p.warnings.length, 1);
  assert.match(p.warnings[0]!.message, 'bridge 0000:00:01.0');
});

s('a bridge on pcieport in the group does not block, and is not brought along', () => {
  const h = host([gpu(), bridge('0000:00:01.0', { iommuGroup: '1' })]);
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']], { iommuGroups: 'include' }));
  assert.ok(p.applyable);
  assert.equal(p.changes.map((c) => c.device), ['pci/0000:01:00.0']);
});

s('a bridge on shpchp blocks on 5.19+ and on an unknown kernel, not before', () => {
  const br = bridge('0000:00:1e.0', { driver: 'shpchp', iommuGroup: '1' });
  const d = desired([['0000:01:00.0', 'vfio-pci']], { iommuGroups: 'include' });
  for (const kernelRelease of ['5.19.0', '6.12.117-amd64', undefined]) {
    const p = plan(host([gpu(), br], { kernelRelease }), d);
    assert.is(p.blocked[0]?.code, 'group-bridge', String(kernelRelease));
    assert.match(p.blocked[0]!.message, 'shpchp');
    assert.not.ok(p.changes.some((c) => c.device === br.key));
  }
  assert.ok(plan(host([gpu(), br], { kernelRelease: '5.15.0-91-generic' }), d).applyable);
});

s('a device without an IOMMU group cannot go to vfio-pci', () => {
  const p = plan(host([pci('0000:03:00.0', { driver: 'e1000e' })]), desired([['0000:03:00.0', 'vfio-pci']]));
  assert.is(p.blocked[0]?.code, 'no-iommu-group');
  assert.match(p.blocked[0]!.message, 'EINVAL');
  assert.match(p.blocked[0]!.fix!, 'intel_iommu=on');
  assert.match(p.blocked[0]!.fix!, 'noiommu');
});

s('a device without an IOMMU group may still go to none', () => {
  assert.ok(plan(host([pci('0000:03:00.0', { driver: 'e1000e' })]), desired([['0000:03:00.0', 'none']])).applyable);
});

s('a group that is already split but untouched by the plan is not the plan\'s business', () => {
  const h = host([gpu(), audio(), pci('0000:02:00.0', { driver: 'e1000e', iommuGroup: '2' })]);
  const d = desired([['0000:02:00.0', 'vfio-pci']]);
  assert.ok(plan({ ...h, devices: h.devices.map((x) => (x.key === 'pci/0000:01:00.0' ? { ...x, driver: 'vfio-pci' } : x)) }, d).applyable);
});

s('groupVerdict names the members in the way, by kernel rule', () => {
  const h = host([gpu(), audio({ driver: null }), bridge('0000:00:1e.0', { driver: 'shpchp', iommuGroup: '1' })]);
  const v = groupVerdict(h, '1');
  assert.not.ok(v.viable);
  assert.equal(v.blockers.map((b) => [b.device, b.driver]), [['pci/0000:00:1e.0', 'shpchp'], ['pci/0000:01:00.0', 'nvidia']]);
  assert.match(v.blockers[0]!.why, '5.19');
  const old = groupVerdict({ ...h, kernelRelease: '5.10.0' }, '1');
  assert.equal(old.blockers.map((b) => b.device), ['pci/0000:01:00.0']);
  const ok = groupVerdict(host([pci('0000:01:00.0', { driver: 'vfio-pci', iommuGroup: '1' }), audio({ driver: 'pci-stub' })]), '1');
  assert.equal(ok, { viable: true, blockers: [] });
});

s('kernel release parsing', () => {
  assert.ok(usesDmaOwnership('5.19.0'));
  assert.ok(usesDmaOwnership('6.1.0-18-amd64'));
  assert.ok(usesDmaOwnership(undefined));
  assert.ok(usesDmaOwnership('garbage'));
  assert.not.ok(usesDmaOwnership('5.18.19'));
  assert.not.ok(usesDmaOwnership('4.19.0'));
});

s.run();
