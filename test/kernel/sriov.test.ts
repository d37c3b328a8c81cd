import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelModel } from '../../src/kernel/model.js';
import { layout } from '../../src/sysfs/layout.js';
import { outcome } from './helpers.js';
import { workstation } from './hosts.js';

const PF = '0000:02:00.0';
const numvfs = layout.attr('pci', PF, 'sriov_numvfs');
const autoprobe = layout.attr('pci', PF, 'sriov_drivers_autoprobe');

const sriov = suite('sriov_numvfs');

sriov('above sriov_totalvfs is ERANGE; not a number is EINVAL; the current value is a no-op', async () => {
  const k = workstation();
  assert.is(k.read(layout.attr('pci', PF, 'sriov_totalvfs')), '2');
  assert.is(await outcome(k.write(numvfs, '3')), 'ERANGE');
  assert.is(await outcome(k.write(numvfs, 'two')), 'EINVAL');
  assert.is(await outcome(k.write(numvfs, '0\n')), 'ok');
  assert.is(k.dev(PF).numVfs, 0);
});

sriov('ENOENT without a PF driver, or with one that has no sriov_configure', async () => {
  const k = workstation();
  await k.write(layout.driverAttr('pci', 'nvme', 'unbind'), PF);
  assert.is(await outcome(k.write(numvfs, '1')), 'ENOENT');
  const plain = new KernelModel()
    .driver('pci', 'e1000e')
    .pci('0000:04:00.0', { vendor: '8086', device: '10d3', driver: 'e1000e', sriov: { totalVfs: 7 } });
  assert.is(await outcome(plain.write(layout.attr('pci', '0000:04:00.0', 'sriov_numvfs'), '1')), 'ENOENT');
});

sriov('VFs appear inside the write, with physfn/virtfn links and a group each, and probe', async () => {
  const k = workstation();
  assert.is(await outcome(k.write(numvfs, '2')), 'ok');
  assert.equal(k.dev(PF).virtfns, ['0000:02:00.1', '0000:02:00.2']);
  assert.is(k.readLink(layout.attr('pci', PF, 'virtfn1')), '../0000:02:00.2');
  assert.is(k.readLink(layout.attr('pci', '0000:02:00.1', 'physfn')), `../${PF}`);
  const [g1, g2] = [k.dev('0000:02:00.1').group, k.dev('0000:02:00.2').group];
  assert.ok(g1 !== null && g2 !== null && g1 !== g2 && g1 !== '9' && g2 !== '9');
  assert.is(k.dev('0000:02:00.1').driver, 'nvme', 'autoprobe on: VFs bind like any new device');
  assert.is(k.read(layout.attr('pci', '0000:02:00.1', 'device')), '0x0010');
});

sriov('VFs of a PF without an IOMMU group have none either', async () => {
  const k = new KernelModel()
    .driver('pci', 'ixgbe', { sriov: true })
    .pci('0000:04:00.0', { vendor: '8086', device: '10fb', group: null, driver: 'ixgbe', sriov: { totalVfs: 4, vfDevice: '10ed' } });
  await k.write(layout.attr('pci', '0000:04:00.0', 'sriov_numvfs'), '2');
  assert.is(k.dev('0000:04:00.1').group, null);
  assert.equal(k.list(layout.iommuGroups), []);
});

sriov('nonzero to a different nonzero is EBUSY; 0 first', async () => {
  const k = workstation();
  await k.write(numvfs, '1');
  assert.is(await outcome(k.write(numvfs, '2')), 'EBUSY');
  assert.is(await outcome(k.write(numvfs, '0')), 'ok');
  assert.not.ok(k.has('0000:02:00.1'));
  assert.is(await outcome(k.write(numvfs, '2')), 'ok');
  assert.is(k.dev(PF).numVfs, 2);
});

sriov('with autoprobe off VFs stay unbound until an override and a probe', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  assert.is(await outcome(k.write(autoprobe, 'n')), 'ok');
  assert.is(await outcome(k.write(autoprobe, 'maybe')), 'EINVAL');
  await k.write(numvfs, '2');
  const vf = '0000:02:00.1';
  assert.is(k.dev(vf).driver, null);
  assert.is(await outcome(k.write(layout.driverAttr('pci', 'nvme', 'bind'), vf)), 'ENODEV', 'a VF without autoprobe or override refuses to probe');
  await k.write(layout.attr('pci', vf, 'driver_override'), 'vfio-pci');
  await k.write(layout.driversProbe('pci'), vf);
  assert.is(k.dev(vf).driver, 'vfio-pci');
  assert.ok(k.vfioNodes().includes(k.dev(vf).group!));
});

sriov('unbinding the PF destroys its VFs (and their overrides)', async () => {
  const k = workstation();
  await k.write(numvfs, '2');
  await k.write(layout.attr('pci', '0000:02:00.1', 'driver_override'), 'vfio-pci');
  await k.write(layout.driverAttr('pci', 'nvme', 'unbind'), PF);
  assert.is(k.dev(PF).numVfs, 0);
  assert.not.ok(k.has('0000:02:00.1'));
});

sriov('offset and stride place VFs like an Intel NIC (03:10.0, 03:10.2, ...)', async () => {
  const k = new KernelModel()
    .driver('pci', 'igb', { sriov: true })
    .driver('pci', 'igbvf', { ids: [['8086', '10ca']] })
    .pci('0000:03:00.0', { vendor: '8086', device: '10c9', driver: 'igb', sriov: { totalVfs: 7, vfDevice: '10ca', offset: 0x80, stride: 2 } });
  await k.write(layout.attr('pci', '0000:03:00.0', 'sriov_numvfs'), '3');
  assert.equal(k.dev('0000:03:00.0').virtfns, ['0000:03:10.0', '0000:03:10.2', '0000:03:10.4']);
  assert.is(k.dev('0000:03:10.2').driver, 'igbvf');
});

sriov('vfio-pci as PF driver captures its VFs with an override', async () => {
  const k = new KernelModel()
    .driver('pci', 'vfio-pci', { sriov: true })
    .pci('0000:05:00.0', { vendor: '15b3', device: '101b', driver: 'vfio-pci', override: 'vfio-pci', sriov: { totalVfs: 4, vfDevice: '101c' } });
  await k.write(layout.attr('pci', '0000:05:00.0', 'sriov_numvfs'), '1');
  assert.equal(k.dev('0000:05:00.1'), {
    bus: 'pci',
    name: '0000:05:00.1',
    driver: 'vfio-pci',
    override: 'vfio-pci',
    group: k.dev('0000:05:00.1').group,
    virtfns: [],
    physfn: '0000:05:00.0',
  });
});

sriov('vfio-pci refuses a PF whose VFs are enabled: EBUSY', async () => {
  const m = new KernelModel()
    .driver('pci', 'vfio-pci')
    .pci('0000:06:00.0', { vendor: '1b36', device: '0010', override: 'vfio-pci', sriov: { totalVfs: 2, numVfs: 1 } });
  assert.is(await outcome(m.write(layout.driverAttr('pci', 'vfio-pci', 'bind'), '0000:06:00.0')), 'EBUSY');
});

sriov.run();
