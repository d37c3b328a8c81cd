import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Step } from '../../src/domain/types.js';
import { plan } from '../../src/plan/planner.js';
import { desired, host, pci, rule, stepLines } from './factory.js';

const s = suite('plan: step order, prune, drift, SR-IOV, determinism');

const KIND_RANK: Record<Step['kind'], number> = {
  'load-module': 0, 'set-autoprobe': 1, 'set-numvfs': 1, 'set-override': 2, unbind: 3, probe: 4, bind: 4, verify: 5,
  'remove-mdev': 6, 'create-mdev': 7, 'set-mdev-attr': 7,
};

/** A host with three groups (10 sorts after 2) and a no-group device, all on host drivers. */
function busy() {
  return host([
    pci('0000:01:00.0', { driver: 'nvidia', iommuGroup: '10' }),
    pci('0000:01:00.1', { driver: 'snd_hda_intel', iommuGroup: '10' }),
    pci('0000:02:00.0', { driver: 'nvme', iommuGroup: '2' }),
    pci('0000:03:00.0', { driver: 'xhci_hcd', iommuGroup: '3' }),
    pci('0000:04:00.0', { driver: 'e1000e' }),
  ]);
}
const busyDesired = () =>
  desired(
    [
      ['0000:01:00.0', 'vfio-pci'],
      ['0000:01:00.1', 'vfio-pci'],
      ['0000:02:00.0', 'vfio-pci'],
      ['0000:03:00.0', 'none'],
      ['0000:04:00.0', 'pci-stub'],
    ],
  );

s('load-module first, groups in numeric order, no-group devices last', () => {
  const p = plan(busy(), busyDesired());
  assert.ok(p.applyable, JSON.stringify(p.blocked));
  const groups = p.steps.filter((x) => x.kind !== 'load-module').map((x) => x.group);
  const firstSeen = groups.filter((g, i) => groups.indexOf(g) === i);
  assert.equal(firstSeen, ['2', '3', '10', null]);
  // each group's steps are contiguous
  for (const g of firstSeen) {
    const idx = groups.flatMap((x, i) => (x === g ? [i] : []));
    assert.is(idx[idx.length - 1]! - idx[0]!, idx.length - 1, `group ${g}`);
  }
  const kinds = p.steps.map((x) => x.kind);
  assert.ok(kinds.lastIndexOf('load-module') < kinds.findIndex((k) => k !== 'load-module'));
});

s('within a group, every override precedes every unbind precedes every probe precedes every verify', () => {
  const p = plan(busy(), busyDesired());
  const byGroup = new Map<string | null, Step[]>();
  for (const st of p.steps) if (st.kind !== 'load-module') byGroup.set(st.group, [...(byGroup.get(st.group) ?? []), st]);
  for (const [g, steps] of byGroup) {
    const ranks = steps.map((x) => KIND_RANK[x.kind]);
    assert.equal(ranks, [...ranks].sort((a, b) => a - b), `group ${g}`);
  }
  const lines = stepLines(p.steps);
  for (const c of p.changes) {
    const at = (k: string) => lines.findIndex((l) => l.startsWith(`${k} ${c.device}`));
    const seq = ['set-override', 'unbind', 'probe', 'verify'].map(at).filter((i) => i >= 0);
    assert.equal(seq, [...seq].sort((a, b) => a - b), c.device);
    assert.ok(at('verify') >= 0, `${c.device} is verified`);
  }
});

s('same input twice gives deep-equal plans; shuffled device and binding order gives the same plan', () => {
  const h = busy();
  const d = busyDesired();
  const a = plan(h, d, { managed: ['pci/0000:09:00.0'] });
  assert.equal(plan(h, d, { managed: ['pci/0000:09:00.0'] }), a);
  const shuffled = { ...h, devices: [h.devices[3]!, h.devices[0]!, h.devices[4]!, h.devices[2]!, h.devices[1]!] };
  const dShuffled = { ...d, bindings: [...d.bindings].reverse() };
  assert.equal(plan(shuffled, dShuffled, { managed: ['pci/0000:09:00.0'] }), a);
});

s('prune: a managed device no rule covers goes back to default', () => {
  const h = host([
    pci('0000:01:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '1' }),
    pci('0000:02:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '2' }),
  ]);
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]), { managed: ['pci/0000:01:00.0', 'pci/0000:02:00.0'] });
  assert.is(p.changes.length, 1);
  const c = p.changes[0]!;
  assert.is(c.device, 'pci/0000:02:00.0');
  assert.is(c.reason, 'prune');
  assert.equal(c.target, { kind: 'default' });
  assert.is(c.rule, undefined);
  assert.equal(stepLines(p.steps), [
    'set-override pci/0000:02:00.0 null',
    'unbind pci/0000:02:00.0 vfio-pci',
    'probe pci/0000:02:00.0',
    'verify pci/0000:02:00.0 * null',
  ]);
});

s('prune ignores managed devices that are gone', () => {
  const p = plan(host([]), desired([]), { managed: ['pci/0000:07:00.0'] });
  assert.equal(p.changes, []);
});

s('drift: a managed, covered device that moved away', () => {
  const h = host([pci('0000:01:00.0', { driver: 'nvidia', override: null, iommuGroup: '1' })], {
    drivers: { pci: ['nvidia', 'vfio-pci'], platform: [] },
  });
  const d = desired([['0000:01:00.0', 'vfio-pci']]);
  assert.is(plan(h, d, { managed: ['pci/0000:01:00.0'] }).changes[0]!.reason, 'drift');
  assert.is(plan(h, d).changes[0]!.reason, 'spec');
});

s('a pruned sibling in a group still on VFIO is refused in strict, kept on VFIO with include', () => {
  const h = host([
    pci('0000:01:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '1' }),
    pci('0000:01:00.1', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '1' }),
  ]);
  const managed = ['pci/0000:01:00.0', 'pci/0000:01:00.1'];
  const strict = plan(h, desired([['0000:01:00.0', 'vfio-pci']]), { managed });
  assert.is(strict.blocked[0]?.code, 'group-split');
  assert.match(strict.blocked[0]!.message, 'driver chosen by the kernel');
  assert.match(strict.blocked[0]!.message, '0000:01:00.0 stays on vfio-pci while 0000:01:00.1 (driver chosen by the kernel)');
  const include = plan(h, desired([['0000:01:00.0', 'vfio-pci']], { iommuGroups: 'include' }), { managed });
  assert.ok(include.applyable);
  assert.equal(include.changes, []);
});

s('changes carry the rule as index, name and line', () => {
  const h = host([pci('0000:01:00.0', { driver: 'nvidia', iommuGroup: '1' })]);
  const p = plan(h, desired([['0000:01:00.0', rule(2, 'vfio-pci', { name: 'rtx3090' })]]));
  assert.equal(p.changes[0]!.rule, { index: 2, name: 'rtx3090', line: 9 });
});

// --- SR-IOV ---------------------------------------------------------------------------------

function nicHost(numVfs: number, vfs: string[] = []) {
  const pf = pci('0000:06:00.0', {
    driver: 'ice',
    iommuGroup: '20',
    sriov: { totalVfs: 8, numVfs, driversAutoprobe: true },
    virtfns: vfs.map((v) => `pci/${v}`),
  });
  const vfDevs = vfs.map((v, i) => pci(v, { driver: 'iavf', iommuGroup: String(30 + i), physfn: pf.key }));
  return host([pf, ...vfDevs]);
}
function vfDesired(count: number) {
  const r = rule(0, 'ice', { vfs: { count, target: { kind: 'driver', driver: 'vfio-pci' } } });
  return desired([['0000:06:00.0', r]], { vfs: [{ pf: 'pci/0000:06:00.0', count, target: { kind: 'driver', driver: 'vfio-pci' }, rule: r }] });
}

s('VFs to create: set-numvfs in the PF group, and a warning that binding them needs a second apply', () => {
  const p = plan(nicHost(0), vfDesired(4));
  assert.equal(stepLines(p.steps), ['set-numvfs pci/0000:06:00.0 0->4']);
  assert.is(p.steps[0]!.group, '20');
  assert.equal(p.changes.map((c) => c.device), ['pci/0000:06:00.0']);
  assert.is(p.warnings.length, 1);
  assert.match(p.warnings[0]!.message, 'second apply');
});

s('a nonzero VF count changes through 0, each VF unbound before it is destroyed', () => {
  const p = plan(nicHost(2, ['0000:06:00.1', '0000:06:00.2']), vfDesired(4));
  assert.equal(stepLines(p.steps).slice(0, 4), [
    'unbind pci/0000:06:00.1 iavf',
    'unbind pci/0000:06:00.2 iavf',
    'set-numvfs pci/0000:06:00.0 2->0',
    'set-numvfs pci/0000:06:00.0 0->4',
  ]);
  assert.not.ok(p.changes.some((c) => c.device === 'pci/0000:06:00.1'), 'VFs about to be recreated are not planned');
});

s('existing VFs at the right count are bound per device; then nothing is left to do', () => {
  const vfs = ['0000:06:00.1', '0000:06:00.2'];
  const p = plan(nicHost(2, vfs), vfDesired(2));
  assert.equal(p.changes.map((c) => c.device), vfs.map((v) => `pci/${v}`));
  assert.ok(p.steps.every((x) => x.kind !== 'set-numvfs'));
  const after = nicHost(2, vfs);
  after.devices = after.devices.map((d) => (d.physfn ? { ...d, driver: 'vfio-pci', override: 'vfio-pci' } : d));
  assert.equal(plan(after, vfDesired(2)).steps, []);
});

s('more VFs than the PF supports is blocked', () => {
  const p = plan(nicHost(0), vfDesired(9));
  assert.is(p.blocked[0]?.code, 'vfs-range');
  assert.match(p.blocked[0]!.fix!, '8');
});

s('vfs without a driver leaves existing VFs alone', () => {
  const h = nicHost(2, ['0000:06:00.1', '0000:06:00.2']);
  h.devices = h.devices.map((d) => (d.physfn ? { ...d, override: 'pci-stub' } : d));
  const r = rule(0, 'ice', { vfs: { count: 2, target: { kind: 'default' } } });
  const d = desired([['0000:06:00.0', r]], { vfs: [{ pf: 'pci/0000:06:00.0', count: 2, target: { kind: 'default' }, rule: r }] });
  assert.equal(plan(h, d).changes, []);
});

s('a PF that changes driver gets its VF count in a second apply', () => {
  const r = rule(0, 'vfio-pci', { vfs: { count: 2, target: { kind: 'driver', driver: 'vfio-pci' } } });
  const d = desired([['0000:06:00.0', r]], { vfs: [{ pf: 'pci/0000:06:00.0', count: 2, target: r.vfs!.target, rule: r }] });
  const p = plan(nicHost(0), d);
  assert.not.ok(p.steps.some((x) => x.kind === 'set-numvfs'));
  assert.ok(p.warnings.some((w) => /changes driver in this apply; run apply again to set its VF count to 2/.test(w.message)));
});

s('a PF without a driver cannot create VFs', () => {
  const h = nicHost(0);
  h.devices = h.devices.map((d) => ({ ...d, driver: null }));
  const r = rule(0, 'default', { vfs: { count: 2, target: { kind: 'driver', driver: 'vfio-pci' } } });
  const d = desired([['0000:06:00.0', r]], { vfs: [{ pf: 'pci/0000:06:00.0', count: 2, target: r.vfs!.target, rule: r }] });
  assert.is(plan(h, d).blocked[0]?.code, 'no-pf-driver');
});

s('vfs on a device without SR-IOV is blocked', () => {
  const h = host([pci('0000:06:00.0', { driver: 'e1000e', iommuGroup: '6' })]);
  const r = rule(0, 'e1000e', { vfs: { count: 2, target: { kind: 'driver', driver: 'vfio-pci' } } });
  const d = desired([['0000:06:00.0', r]], { vfs: [{ pf: 'pci/0000:06:00.0', count: 2, target: r.vfs!.target, rule: r }] });
  assert.is(plan(h, d).blocked[0]?.code, 'no-sriov');
});

s('what resolve noticed comes first among the plan warnings', () => {
  const d = { ...desired([]), warnings: [{ message: 'rule devices[0] (line 3) matches no device on this host' }] };
  assert.equal(plan(host([]), d).warnings, d.warnings);
});

s('platform devices plan like PCI ones, on their own bus', () => {
  const dev = { ...pci('x'), key: 'platform/12ce0000.i2c', bus: 'platform' as const, name: '12ce0000.i2c', vendor: undefined, device: undefined, driver: 's3c2410-i2c', iommuGroup: '4' };
  const h = host([dev], { drivers: { pci: [], platform: ['s3c2410-i2c'] }, modules: { known: true, available: ['vfio_platform'], loaded: [] } });
  const d = { ...desired([]), bindings: [{ device: dev.key, target: { kind: 'driver' as const, driver: 'vfio-platform' }, rule: rule(0, 'vfio-platform'), force: false }] };
  const p = plan(h, d);
  assert.equal(stepLines(p.steps), [
    'load-module vfio_platform',
    'set-override platform/12ce0000.i2c vfio-platform',
    'unbind platform/12ce0000.i2c s3c2410-i2c',
    'probe platform/12ce0000.i2c',
    'verify platform/12ce0000.i2c vfio-platform vfio-platform',
  ]);
  assert.equal(p.steps[0], { kind: 'load-module', module: 'vfio_platform', driver: 'vfio-platform', bus: 'platform', group: null });
});

s.run();
