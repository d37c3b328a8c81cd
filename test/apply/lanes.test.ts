import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lanes } from '../../src/apply/lanes.js';
import type { Step } from '../../src/domain/types.js';

const s = suite('lanes');

const load: Step = { kind: 'load-module', module: 'vfio_pci', driver: 'vfio-pci', bus: 'pci', group: null };
const probe = (n: string, group: string | null): Step => ({ kind: 'probe', device: `pci/${n}`, group });

s('module loads first, then one lane per IOMMU group, keeping plan indices', () => {
  const steps = [load, probe('0000:01:00.0', '1'), probe('0000:01:00.1', '1'), probe('0000:00:1c.0', '7'), probe('0000:05:00.0', null)];
  assert.equal(
    lanes(steps).map((lane) => lane.map((s) => s.index)),
    [[0], [1, 2], [3], [4]],
  );
});

s('a plan whose groups interleave runs as one lane in plan order', () => {
  const steps = [load, probe('0000:01:00.0', '1'), probe('0000:00:1c.0', '7'), probe('0000:01:00.1', '1')];
  assert.equal(lanes(steps).map((lane) => lane.map((s) => s.index)), [[0, 1, 2, 3]]);
});

s.run();
