import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Host } from '../../src/domain/types.js';
import { toPlanDocument } from '../../src/plan/document.js';
import { plan } from '../../src/plan/planner.js';
import { renderPlan } from '../../src/plan/render.js';
import { desired, host, pci, rule } from './factory.js';

const s = suite('plan rendering');

const ESC = '\x1b[';

const gpuHost = (o: Partial<Host> = {}): Host =>
  host(
    [
      pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', driver: 'nvidia', iommuGroup: '1' }),
      pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', driver: 'snd_hda_intel', iommuGroup: '1' }),
      pci('0000:02:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '2' }),
    ],
    { drivers: { pci: ['nvidia', 'snd_hda_intel'], platform: [] }, ...o },
  );
const gpuRule = rule(1, 'vfio-pci', { name: 'rtx3090', pos: { file: 'state.yaml', line: 4, col: 5 } });
const names = (vendor: string, device?: string) =>
  vendor !== '10de' ? undefined : device === undefined ? 'NVIDIA' : device === '2204' ? 'GA102 [GeForce RTX 3090]' : undefined;

function render(h: Host, d = desired([['0000:01:00.0', gpuRule], ['0000:01:00.1', gpuRule]]), color = false, managed: string[] = []): string {
  return renderPlan(toPlanDocument(plan(h, d, { managed }), h), { color, names });
}

s('one header per changed device with address, ids, names, group, reason and rule', () => {
  const text = render(gpuHost());
  assert.ok(text.includes('~ 0000:01:00.0  10de:2204 NVIDIA GA102 [GeForce RTX 3090]  group 1  (spec, rule rtx3090 line 4)\n'), text);
  assert.ok(text.includes('~ 0000:01:00.1  10de:1aef NVIDIA  group 1  (spec, rule rtx3090 line 4)\n'), text);
});

s('before/after as a unified diff of driver and driver_override', () => {
  const text = render(gpuHost());
  const block = text.slice(text.indexOf('~ 0000:01:00.0'), text.indexOf('~ 0000:01:00.1'));
  assert.equal(block.trimEnd().split('\n').slice(1), [
    '    - driver: nvidia',
    '    - driver_override: (unset)',
    '    + driver: vfio-pci',
    '    + driver_override: vfio-pci',
  ]);
});

s('numbered steps in plan order, load-module first', () => {
  const lines = render(gpuHost()).split('\n');
  const at = lines.indexOf('Steps:');
  assert.equal(lines.slice(at + 1, at + 10), [
    '  1. load-module vfio_pci',
    '  2. set-override 0000:01:00.0 -> vfio-pci',
    '  3. set-override 0000:01:00.1 -> vfio-pci',
    '  4. unbind 0000:01:00.0 from nvidia',
    '  5. unbind 0000:01:00.1 from snd_hda_intel',
    '  6. probe 0000:01:00.0',
    '  7. probe 0000:01:00.1',
    '  8. verify 0000:01:00.0: driver vfio-pci, override vfio-pci',
    '  9. verify 0000:01:00.1: driver vfio-pci, override vfio-pci',
  ]);
});

s('summary line counts devices and steps', () => {
  assert.ok(render(gpuHost()).endsWith('Plan: 2 devices to change, 9 steps.\n'));
});

s('a matching host says so', () => {
  const h = host([pci('0000:02:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '2' })]);
  assert.is(render(h, desired([['0000:02:00.0', 'vfio-pci']])), 'No changes. The host matches the state file.\n');
});

s('prune reads as a return to the kernel\'s choice', () => {
  const text = render(gpuHost(), desired([]), false, ['pci/0000:02:00.0']);
  assert.ok(text.includes('~ 0000:02:00.0  8086:1234  group 2  (prune)\n'), text);
  assert.ok(text.includes("    + driver: (kernel's choice)\n"));
  assert.ok(text.includes('set-override 0000:02:00.0 -> (clear)'));
  assert.ok(text.includes("verify 0000:02:00.0: any driver (kernel's choice), override (unset)"));
});

s('blocked items are listed with code and fix, and the summary says so', () => {
  const text = render(gpuHost(), desired([['0000:01:00.0', gpuRule]]));
  assert.match(text, 'Blocked: apply refuses this plan');
  assert.match(text, /x IOMMU group 1 would be split: .* \[group-split\]/);
  assert.match(text, '    fix: add 0000:01:00.1 to a rule');
  assert.match(text, /Plan: 1 device to change, 5 steps\. Blocked: 1 problem\.\n$/);
});

s('warnings are listed', () => {
  const text = render(gpuHost({ modules: { known: false, available: [], loaded: [] } }));
  assert.match(text, /Warnings:\n  ! could not check that module vfio_pci exists/);
});

s('unchanged lines of the diff stay unmarked; VF counts show as a diff', () => {
  const r = rule(0, 'ice', { vfs: { count: 4, target: { kind: 'driver', driver: 'vfio-pci' } } });
  const h = host([pci('0000:06:00.0', { driver: 'ice', iommuGroup: '6', sriov: { totalVfs: 8, numVfs: 0, driversAutoprobe: true } })]);
  const text = render(h, desired([['0000:06:00.0', r]], { vfs: [{ pf: 'pci/0000:06:00.0', count: 4, target: r.vfs!.target, rule: r }] }));
  assert.match(text, '      driver: ice\n      driver_override: (unset)\n    - sriov_numvfs: 0\n    + sriov_numvfs: 4\n');
  assert.match(text, '1. set-numvfs 0000:06:00.0 0 -> 4');
  assert.match(text, '(spec, rule devices[0] line 3)');
});

s('no escape codes without color; colored markers with it', () => {
  const blocked = desired([['0000:01:00.0', gpuRule]]);
  assert.not.ok(render(gpuHost(), blocked).includes(ESC));
  const colored = render(gpuHost(), blocked, true);
  assert.ok(colored.includes(`${ESC}33m~${ESC}39m`), 'yellow ~');
  assert.ok(colored.includes(`${ESC}31m    - driver: nvidia${ESC}39m`), 'red -');
  assert.ok(colored.includes(`${ESC}32m    + driver: vfio-pci${ESC}39m`), 'green +');
  assert.ok(colored.includes(`${ESC}31mBlocked`), 'red blocked');
});

s('step numbers line up past nine', () => {
  const devs = Array.from({ length: 3 }, (_, i) => pci(`0000:0${i + 1}:00.0`, { driver: 'e1000e', iommuGroup: String(i + 1) }));
  const d = desired(devs.map((x) => [x.name, 'vfio-pci'] as [string, string]));
  const text = render(host(devs), d);
  assert.match(text, '   1. load-module vfio_pci\n');
  assert.match(text, '  13. verify 0000:03:00.0');
});

s.run();
