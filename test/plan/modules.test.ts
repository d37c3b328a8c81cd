import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { plan } from '../../src/plan/planner.js';
import { desired, host, pci, rule, stepLines } from './factory.js';

const s = suite('plan: module loads');

const devs = () => [
  pci('0000:01:00.0', { driver: 'nvidia', iommuGroup: '1' }),
  pci('0000:02:00.0', { driver: 'e1000e', iommuGroup: '2' }),
];

s('an unregistered driver is loaded once, before every group step', () => {
  const p = plan(host(devs()), desired([['0000:01:00.0', 'vfio-pci'], ['0000:02:00.0', 'vfio-pci']]));
  const lines = stepLines(p.steps);
  assert.is(lines.filter((l) => l.startsWith('load-module')).length, 1);
  assert.is(lines[0], 'load-module vfio_pci');
  const load = p.steps[0]!;
  assert.equal(load, { kind: 'load-module', module: 'vfio_pci', driver: 'vfio-pci', bus: 'pci', group: null });
  assert.ok(p.applyable);
  assert.equal(p.warnings, []);
});

s('a registered driver needs no load', () => {
  const h = host(devs(), { drivers: { pci: ['e1000e', 'nvidia', 'vfio-pci'], platform: [] } });
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]));
  assert.not.ok(stepLines(p.steps).some((l) => l.startsWith('load-module')));
});

s('a module the kernel does not have blocks the plan, naming driver, lines and a fix', () => {
  const r = rule(0, 'vfio-pcii', { name: 'gpu' });
  const p = plan(host(devs()), desired([['0000:01:00.0', r], ['0000:02:00.0', rule(1, 'vfio-pcii')]]));
  assert.not.ok(p.applyable);
  assert.is(p.blocked.length, 1);
  const b = p.blocked[0]!;
  assert.is(b.code, 'unknown-driver');
  assert.match(b.message, 'vfio-pcii');
  assert.match(b.message, 'lines 3, 6');
  assert.match(b.fix!, 'modinfo vfio_pcii');
  assert.equal(b.rule, { index: 0, name: 'gpu', line: 3 });
  assert.not.ok(stepLines(p.steps).some((l) => l.startsWith('load-module')));
});

s('without a module list the load is planned with a warning that it was not checked', () => {
  const h = host(devs(), { modules: { known: false, available: [], loaded: [] } });
  const p = plan(h, desired([['0000:01:00.0', 'vfio-pci']]));
  assert.ok(p.applyable);
  assert.is(stepLines(p.steps)[0], 'load-module vfio_pci');
  assert.is(p.warnings.length, 1);
  assert.match(p.warnings[0]!.message, 'could not check');
  assert.match(p.warnings[0]!.message, 'vfio_pci');
});

s('targets none and default never load anything', () => {
  const h = host([pci('0000:01:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '1' })], {
    drivers: { pci: [], platform: [] },
  });
  for (const t of ['none', 'default']) {
    const p = plan(h, desired([['0000:01:00.0', t]]));
    assert.not.ok(stepLines(p.steps).some((l) => l.startsWith('load-module')), t);
  }
});

s('two drivers give two loads, sorted by module name', () => {
  const p = plan(host(devs()), desired([['0000:01:00.0', 'vfio-pci'], ['0000:02:00.0', 'pci-stub']]));
  assert.equal(stepLines(p.steps).slice(0, 2), ['load-module pci_stub', 'load-module vfio_pci']);
});

s.run();
