// The kernel model's mediated devices (kernel-abi.md section 7) and how observe reads them, from
// the model and from a real directory tree of it: what the planner and executor rely on.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelModel } from '../../src/kernel/model.js';
import { writeSysfsTree } from '../../src/kernel/tree.js';
import { observe } from '../../src/observe/observe.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { layout } from '../../src/sysfs/layout.js';
import { isPending, outcome } from '../kernel/helpers.js';
import { IGPU, mdevHost, U1, U2, U3 } from './hosts.js';

const s = suite('mdev: kernel model');

const create = (parent: string, type: string) => layout.mdevTypeAttr(parent, type, 'create');
const available = (k: KernelModel, parent: string, type: string) => k.read(layout.mdevTypeAttr(parent, type, 'available_instances'));

s('create takes a 36-character UUID (any case, one newline), refuses others, a UUID in use and no instance left', async () => {
  const k = mdevHost();
  assert.is(await outcome(k.write(create(IGPU, 'i915-GVTg_V5_4'), U1.slice(1))), 'EINVAL');
  assert.is(await outcome(k.write(create(IGPU, 'i915-GVTg_V5_4'), `${U1}x`)), 'EINVAL');
  assert.is(await outcome(k.write(create(IGPU, 'i915-GVTg_V5_4'), `${U1.toUpperCase()}\n`)), 'ok');
  assert.is(k.readLink(layout.mdevAttr(U1, 'mdev_type')), '../mdev_supported_types/i915-GVTg_V5_4');
  assert.is(await outcome(k.write(create('mtty', 'mtty-1'), U1)), 'EEXIST', 'UUIDs are host-wide');
  assert.is(available(k, IGPU, 'i915-GVTg_V5_4'), '1');
  assert.is(await outcome(k.write(create(IGPU, 'i915-GVTg_V5_4'), U2)), 'ok');
  assert.is(available(k, IGPU, 'i915-GVTg_V5_4'), '0');
  assert.is(await outcome(k.write(create(IGPU, 'i915-GVTg_V5_4'), U3)), 'EUSERS');
  assert.equal(k.mdevs().map((m) => [m.uuid, m.parent, m.type, m.driver]), [
    [U1, IGPU, 'i915-GVTg_V5_4', 'vfio_mdev'],
    [U2, IGPU, 'i915-GVTg_V5_4', 'vfio_mdev'],
  ]);
});

s('types sharing a pool use each other up (mtty: a dual-port instance takes two ports)', async () => {
  const k = mdevHost();
  assert.equal([available(k, 'mtty', 'mtty-1'), available(k, 'mtty', 'mtty-2')], ['24', '12']);
  await k.write(create('mtty', 'mtty-2'), U1);
  assert.equal([available(k, 'mtty', 'mtty-1'), available(k, 'mtty', 'mtty-2')], ['22', '11']);
});

s('remove: 1 removes, 0 does nothing; while a VM holds the mdev the write blocks until it lets go', async () => {
  const k = mdevHost();
  await k.write(create(IGPU, 'i915-GVTg_V5_4'), U1);
  assert.is(await outcome(k.write(layout.mdevAttr(U1, 'remove'), '0')), 'ok');
  assert.ok(k.list(layout.mdevDevices).includes(U1));
  const group = k.mdevs()[0]!.group;
  assert.ok(k.vfioNodes().includes(group), 'an mdev has its own /dev/vfio node');
  k.openVfioGroup(group);
  const removal = k.write(layout.mdevAttr(U1, 'remove'), '1');
  assert.ok(await isPending(removal));
  assert.equal(k.blockedWrites().map((w) => w.path), [layout.mdevAttr(U1, 'remove')]);
  k.closeVfioGroup(group);
  await removal;
  assert.equal(k.list(layout.mdevDevices), []);
});

s('a parent leaving its driver takes its mdevs and types along', async () => {
  const k = mdevHost();
  await k.write(create(IGPU, 'i915-GVTg_V5_8'), U1);
  assert.ok(k.list(layout.mdevParents).includes(IGPU));
  await k.write(layout.driverAttr('pci', 'i915', 'unbind'), IGPU);
  assert.equal(k.mdevs(), []);
  assert.equal(k.list(layout.mdevParents), ['matrix', 'mtty']);
  assert.equal(k.list(layout.mdevTypes(IGPU)), []);
});

s('vendor attributes of an mdev are written as given', async () => {
  const k = mdevHost();
  await k.write(create('matrix', 'vfio_ap-passthrough'), U1);
  await k.write(layout.mdevUserAttr(U1, 'assign_adapter'), '5');
  assert.equal(k.mdevs()[0]!.attrs, { assign_adapter: '5' });
  assert.ok(k.list(layout.mdevDevice(U1)).includes('assign_domain'));
});

s('observe reads parents, types and mdevs the same from the model and from its tree on disk', async () => {
  const k = mdevHost();
  await k.write(create(IGPU, 'i915-GVTg_V5_4'), U1);
  await k.write(create('mtty', 'mtty-2'), U2);
  const fromModel = observe(k);
  assert.equal(fromModel.mdevs!.devices.map((m) => [m.uuid, m.parent, m.type, m.driver, m.iommuGroup !== null]), [
    [U1, IGPU, 'i915-GVTg_V5_4', 'vfio_mdev', true],
    [U2, 'mtty', 'mtty-2', 'mtty', true],
  ]);
  const igpu = fromModel.mdevs!.parents.find((p) => p.name === IGPU)!;
  assert.equal(igpu, {
    name: IGPU,
    device: `pci/${IGPU}`,
    types: [
      { id: 'i915-GVTg_V5_4', name: 'GVTg_V5_4', availableInstances: 1, deviceApi: 'vfio-pci' },
      { id: 'i915-GVTg_V5_8', name: 'GVTg_V5_8', availableInstances: 4, deviceApi: 'vfio-pci' },
    ],
  });
  assert.is(fromModel.mdevs!.parents.find((p) => p.name === 'mtty')!.device, undefined, 'a virtual parent is no pci device');
  const dir = mkdtempSync(join(tmpdir(), 'vr-mdev-'));
  try {
    writeSysfsTree(k, dir);
    assert.equal(observe(new FsSysfsPort(dir)).mdevs, fromModel.mdevs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s('a host without mdev support shows no mdevs at all (and no class/ or bus/mdev)', () => {
  const k = new KernelModel().driver('pci', 'e1000e').pci('0000:05:00.0', { vendor: '8086', device: '10d3', driver: 'e1000e' });
  assert.is(observe(k).mdevs, undefined);
  assert.equal(k.list(''), ['bus', 'kernel', 'module']);
});

s('a model rebuilt from an observed host (offline simulation) has the same parents, types and mdevs', async () => {
  const k = mdevHost();
  await k.write(create(IGPU, 'i915-GVTg_V5_4'), U1);
  const host = observe(k, { modules: k, kernelRelease: k.kernel });
  const rebuilt = KernelModel.fromHost(host);
  const again = observe(rebuilt, { modules: rebuilt, kernelRelease: rebuilt.kernel });
  assert.equal(again.mdevs!.parents, host.mdevs!.parents.map((p) => ({ ...p, types: p.types })));
  assert.equal(again.mdevs!.devices.map((m) => [m.uuid, m.parent, m.type, m.driver]), [[U1, IGPU, 'i915-GVTg_V5_4', 'vfio_mdev']]);
});

s.run();
