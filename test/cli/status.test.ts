// status end to end: tables, groups and JSON from sysfs trees written from example hosts, plus an
// in-process run on the kernel model to see a group verdict change after apply.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { armBoard, gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import { pciNames } from '../../src/cli/names.js';
import Apply from '../../src/commands/apply.js';
import Status from '../../src/commands/status.js';
import { PCI_IDS_FIXTURE, runIn, runOut, sysfsTree, tempDir } from './harness.js';

const gpuTree = sysfsTree(gpuPassthrough());
const armTree = sysfsTree(armBoard());
const tmp = tempDir('status');
const gpu = join(tmp.dir, 'gpu.yaml');
writeFileSync(gpu, 'version: 1\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*" }\n    driver: vfio-pci\n');

const status = (root: string, ...argv: string[]) => runOut(['status', ...argv, '--sysfs-root', root]);
const line = (text: string, address: string): string => text.split('\n').find((l) => l.startsWith(address)) ?? '';

const s = suite('cli status');
s.after(() => {
  gpuTree.cleanup();
  armTree.cleanup();
  tmp.cleanup();
});

s('a table of every device: ids, class, driver, override, group with its other members', () => {
  const r = status(gpuTree.dir);
  assert.is(r.exitCode, 0, r.stderr);
  const [header] = r.stdout.split('\n');
  assert.match(header!, /^ADDRESS\s+IDS\s+CLASS\s+DRIVER\s+OVERRIDE\s+IOMMU GROUP$/);
  assert.match(line(r.stdout, '0000:01:00.0'), /^0000:01:00\.0\s+10de:2204\s+030000\s+nouveau\s+-\s+1 \(with 0000:00:01\.0, 0000:01:00\.1\)$/);
  assert.match(line(r.stdout, '0000:04:00.0'), /nvme\s+-\s+13$/);
});

s('VFIO_RECONCILE_PCI_IDS points at a pci.ids database: a NAME column appears', () => {
  const r = runOut(['status', '--sysfs-root', gpuTree.dir], { VFIO_RECONCILE_PCI_IDS: PCI_IDS_FIXTURE });
  assert.match(r.stdout.split('\n')[0]!, /^ADDRESS\s+IDS\s+NAME\s+CLASS/);
  assert.match(line(r.stdout, '0000:05:00.0'), /ASMedia Technology Inc\. ASM2142\/ASM3142 USB 3\.1 Host Controller/);
  assert.match(line(r.stdout, '0000:00:02.0'), /8086:4680\s+Intel Corporation Device 4680\s+030000/);
});

s('with a state file, each managed device names its rule and line', () => {
  const r = status(gpuTree.dir, gpu);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0]!, /IOMMU GROUP\s+RULE$/);
  assert.match(line(r.stdout, '0000:01:00.1'), /rtx3090 \(line 3\) -> vfio-pci$/);
  assert.match(line(r.stdout, '0000:00:02.0'), /\s-$/);
});

s('--groups gives each IOMMU group a verdict and names the member that blocks it', () => {
  const r = status(gpuTree.dir, '--groups');
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^IOMMU group 1: not viable for VFIO: 0000:01:00\.0 on nouveau, .*; 0000:01:00\.1 on snd_hda_intel/m);
  assert.match(r.stdout, /^IOMMU group 12: viable for VFIO$/m);
  assert.match(r.stdout, /^ {2}0000:00:01\.0\s+8086:460d\s+pcieport$/m);
});

s('--json carries devices and groups', () => {
  const doc = JSON.parse(status(gpuTree.dir, gpu, '--json').stdout);
  const gpuDev = doc.devices.find((d: { address: string }) => d.address === '0000:01:00.0');
  assert.equal(gpuDev.rule, { index: 0, name: 'rtx3090', line: 3, target: 'vfio-pci' });
  assert.equal(gpuDev.groupPeers, ['0000:00:01.0', '0000:01:00.1']);
  const g1 = doc.groups.find((g: { group: string }) => g.group === '1');
  assert.is(g1.viable, false);
  assert.equal(g1.blockers.map((b: { address: string }) => b.address), ['0000:01:00.0', '0000:01:00.1']);
});

s('--bus platform lists platform devices with their compatible', () => {
  const r = status(armTree.dir, '--bus', 'platform');
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(line(r.stdout, 'e0700000.xgmac'), /^e0700000\.xgmac\s+amd,xgbe-seattle-v1a\s+-\s+amd-xgbe/);
  assert.is(status(gpuTree.dir, '--bus', 'platform').stdout.trim(), 'No devices found.');
  assert.is(status(gpuTree.dir, '--bus', 'usb').exitCode, 1);
});

s('after apply the GPU group becomes viable (kernel model); pci.ids names fill a NAME column', async () => {
  const model = gpuPassthrough();
  const names = pciNames([PCI_IDS_FIXTURE]);
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel, ...(names ? { names } : {}) }));
  try {
    assert.is((await runIn(Apply, [gpu])).exitCode, 0);
    const r = await runIn(Status, ['--groups']);
    assert.match(r.stdout, /^IOMMU group 1: viable for VFIO$/m);
    const table = (await runIn(Status, [])).stdout;
    assert.match(table.split('\n')[0]!, /^ADDRESS\s+IDS\s+NAME\s+CLASS/);
    assert.match(line(table, '0000:01:00.0'), /NVIDIA Corporation GA102 \[GeForce RTX 3090\]\s+030000\s+vfio-pci\s+vfio-pci/);
  } finally {
    injectEnv(null);
  }
});

s.run();
