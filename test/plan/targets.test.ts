import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { plan } from '../../src/plan/planner.js';
import { desired, host, pci, stepLines } from './factory.js';

const s = suite('plan: target kinds and idempotence');

const gpu = (o = {}) => pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', driver: 'nvidia', iommuGroup: '1', ...o });

s('driver target: override, unbind, probe, verify in that order', () => {
  const h = host([gpu()], { drivers: { pci: ['nvidia', 'vfio-pci'], platform: [] } });
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]));
  assert.equal(stepLines(p.steps), [
    'set-override pci/0000:01:00.0 vfio-pci',
    'unbind pci/0000:01:00.0 nvidia',
    'probe pci/0000:01:00.0',
    'verify pci/0000:01:00.0 vfio-pci vfio-pci',
  ]);
  assert.equal(p.changes.length, 1);
  assert.equal(p.changes[0]!.before, { driver: 'nvidia', override: null });
  assert.equal(p.changes[0]!.after, { driver: 'vfio-pci', override: 'vfio-pci' });
  assert.is(p.changes[0]!.reason, 'spec');
  assert.is(p.changes[0]!.group, '1');
  assert.ok(p.applyable);
});

s('a host that already matches gives an empty plan', () => {
  const h = host([gpu({ driver: 'vfio-pci', override: 'vfio-pci' })]);
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]));
  assert.equal(p.changes, []);
  assert.equal(p.steps, []);
  assert.equal(p.warnings, []);
  assert.ok(p.applyable);
});

s('bound to the target driver without an override holds too', () => {
  const h = host([gpu({ driver: 'vfio-pci' })]);
  assert.equal(plan(h, desired([['0000:01:00.0', 'vfio-pci']])).steps, []);
});

s('right driver under a foreign override: only the override is fixed', () => {
  const h = host([gpu({ driver: 'vfio-pci', override: 'pci-stub' })]);
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]));
  assert.equal(stepLines(p.steps), ['set-override pci/0000:01:00.0 vfio-pci', 'verify pci/0000:01:00.0 vfio-pci vfio-pci']);
});

s('unbound with the override already set: probe only', () => {
  const h = host([gpu({ driver: null, override: 'vfio-pci' })], { drivers: { pci: ['vfio-pci'], platform: [] } });
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]));
  assert.equal(stepLines(p.steps), ['probe pci/0000:01:00.0', 'verify pci/0000:01:00.0 vfio-pci vfio-pci']);
});

s('none: override none then unbind, no probe', () => {
  const h = host([gpu()]);
  const p = plan(h, desired([['0000:01:00.0', 'none']]));
  assert.equal(stepLines(p.steps), [
    'set-override pci/0000:01:00.0 none',
    'unbind pci/0000:01:00.0 nvidia',
    'verify pci/0000:01:00.0 null none',
  ]);
  assert.equal(p.changes[0]!.after, { driver: null, override: 'none' });
});

s('none on an unbound device without override: only set-override none', () => {
  const p = plan(host([gpu({ driver: null })]), desired([['0000:01:00.0', 'none']]));
  assert.equal(stepLines(p.steps), ['set-override pci/0000:01:00.0 none', 'verify pci/0000:01:00.0 null none']);
});

s('none holds when unbound with override none', () => {
  const p = plan(host([gpu({ driver: null, override: 'none' })]), desired([['0000:01:00.0', 'none']]));
  assert.equal(p.steps, []);
});

s('default holds whenever no override is set, whatever the driver', () => {
  for (const driver of ['nvidia', 'vfio-pci', null]) {
    const p = plan(host([gpu({ driver })]), desired([['0000:01:00.0', 'default']]));
    assert.equal(p.steps, [], String(driver));
  }
});

s('default from vfio: clear the override, unbind, probe, verify any driver', () => {
  const h = host([gpu({ driver: 'vfio-pci', override: 'vfio-pci' })]);
  const p = plan(h, desired([['0000:01:00.0', 'default']]));
  assert.equal(stepLines(p.steps), [
    'set-override pci/0000:01:00.0 null',
    'unbind pci/0000:01:00.0 vfio-pci',
    'probe pci/0000:01:00.0',
    'verify pci/0000:01:00.0 * null',
  ]);
  assert.is(p.changes[0]!.after.driver, undefined);
});

s('default from override none: clear and probe', () => {
  const p = plan(host([gpu({ driver: null, override: 'none' })]), desired([['0000:01:00.0', 'default']]));
  assert.equal(stepLines(p.steps), ['set-override pci/0000:01:00.0 null', 'probe pci/0000:01:00.0', 'verify pci/0000:01:00.0 * null']);
});

s('default with a stale override under a host driver: clear it, leave the driver', () => {
  const p = plan(host([gpu({ override: 'vfio-pci' })]), desired([['0000:01:00.0', 'default']]));
  assert.equal(stepLines(p.steps), ['set-override pci/0000:01:00.0 null', 'verify pci/0000:01:00.0 nvidia null']);
});

s('replanning against the host a plan promises gives nothing', () => {
  const cases: [Partial<import('../../src/domain/types.js').Device>, string][] = [
    [{}, 'vfio-pci'],
    [{}, 'none'],
    [{ driver: 'vfio-pci', override: 'vfio-pci' }, 'default'],
    [{ driver: 'vfio-pci', override: 'pci-stub' }, 'vfio-pci'],
  ];
  for (const [o, t] of cases) {
    const before = gpu(o);
    const h = host([before], { drivers: { pci: ['nvidia', 'vfio-pci'], platform: [] } });
    const d = desired([['0000:01:00.0', t]]);
    const first = plan(h, d);
    const change = first.changes[0]!;
    const applied = gpu({ driver: change.after.driver === undefined ? 'nvidia' : change.after.driver, override: change.after.override });
    const second = plan(host([applied], { drivers: h.drivers }), d);
    assert.equal(second.steps, [], `${JSON.stringify(o)} -> ${t}`);
  }
});

s.run();
