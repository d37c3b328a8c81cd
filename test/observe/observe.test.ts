import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import type { SysfsPort } from '../../src/sysfs/port.js';
import { board, workstation } from '../kernel/hosts.js';

const obs = suite('observe');

obs('a host as the tool sees it', async () => {
  const k = workstation();
  await k.write('bus/pci/devices/0000:02:00.0/sriov_numvfs', '2');
  const host = observe(k, { modules: k, hostname: 'pve-1', kernelRelease: '6.12.117-amd64' });
  assert.is(host.hostname, 'pve-1');
  assert.is(host.kernelRelease, '6.12.117-amd64');
  const gpu = host.devices.find((d) => d.name === '0000:01:00.0')!;
  assert.equal(gpu, {
    key: 'pci/0000:01:00.0',
    bus: 'pci',
    name: '0000:01:00.0',
    driver: 'nvidia',
    override: null,
    iommuGroup: '1',
    isBridge: false,
    modalias: 'pci:v000010DEd00002204sv00001043sd000087B5bc03sc00i00',
    vendor: '10de',
    device: '2204',
    subsystemVendor: '1043',
    subsystemDevice: '87b5',
    class: '030000',
    numaNode: 0,
  });
  assert.is(host.devices.find((d) => d.name === '0000:00:02.0')!.bootVga, true);
  assert.equal(host.groups['1'], ['pci/0000:01:00.0', 'pci/0000:01:00.1']);
  assert.equal(host.groups['12'], ['pci/0000:00:03.0', 'pci/0000:03:01.0', 'pci/0000:03:02.0']);
  assert.ok(host.devices.find((d) => d.name === '0000:00:03.0')!.isBridge);
  const pf = host.devices.find((d) => d.name === '0000:02:00.0')!;
  assert.equal(pf.sriov, { totalVfs: 2, numVfs: 2, driversAutoprobe: true, offset: 1, stride: 1, vfDevice: '0010' });
  assert.equal(pf.virtfns, ['pci/0000:02:00.1', 'pci/0000:02:00.2']);
  assert.is(host.devices.find((d) => d.name === '0000:02:00.2')!.physfn, 'pci/0000:02:00.0');
  assert.equal(host.drivers.pci, ['e1000', 'e1000e', 'nvidia', 'nvme', 'pcieport', 'shpchp', 'snd_hda_intel']);
  assert.is(host.modules.known, true);
  assert.ok(host.modules.available.includes('vfio_pci'));
  assert.not.ok(host.modules.loaded.includes('vfio_pci'));
  assert.equal(
    host.devices.map((d) => d.key),
    [...host.devices.map((d) => d.key)].sort(),
  );
});

obs('without a module port the module list is unknown', () => {
  const host = observe(board());
  assert.equal(host.modules.available, []);
  assert.is(host.modules.known, false);
  assert.equal(host.drivers.platform, ['s3c-i2c', 'serial8250']);
  assert.equal(host.devices.find((d) => d.name === 'alarmtimer.0.auto'), {
    key: 'platform/alarmtimer.0.auto',
    bus: 'platform',
    name: 'alarmtimer.0.auto',
    driver: null,
    override: null,
    iommuGroup: null,
    isBridge: false,
    modalias: 'platform:alarmtimer.0.auto',
  });
});

obs('a device that vanishes while being read is left out, not fatal', () => {
  const k = workstation();
  let reads = 0;
  const flaky: SysfsPort = {
    root: k.root,
    read: (p) => {
      if (p.includes('0000:00:1c.0') && ++reads === 2) k.removeDevice('0000:00:1c.0');
      return k.read(p);
    },
    readLink: (p) => k.readLink(p),
    list: (p) => k.list(p),
    write: (p, v) => k.write(p, v),
  };
  const host = observe(flaky);
  assert.ok(host.devices.some((d) => d.name === '0000:01:00.0'));
  const nic = host.devices.find((d) => d.name === '0000:00:1c.0');
  assert.ok(nic === undefined || nic.vendor === undefined, 'what vanished is not invented');
});

obs('a model rebuilt from an observed host observes the same', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  await k.write('bus/pci/devices/0000:01:00.1/driver_override', 'vfio-pci');
  await k.write('bus/pci/drivers/snd_hda_intel/unbind', '0000:01:00.1');
  await k.write('bus/pci/drivers_probe', '0000:01:00.1');
  await k.write('bus/pci/devices/0000:02:00.0/sriov_numvfs', '2');
  const host = observe(k, { modules: k, kernelRelease: '6.12.117-amd64' });
  const copy = KernelModel.fromHost(host);
  assert.equal(observe(copy, { modules: copy, kernelRelease: '6.12.117-amd64' }), host);
  // And it behaves: the NIC goes to vfio-pci and back to its own driver; VFs come back at the same addresses.
  await copy.write('bus/pci/devices/0000:00:1c.0/driver_override', 'vfio-pci');
  await copy.write('bus/pci/drivers/e1000e/unbind', '0000:00:1c.0');
  await copy.write('bus/pci/drivers_probe', '0000:00:1c.0');
  assert.is(copy.dev('0000:00:1c.0').driver, 'vfio-pci');
  await copy.write('bus/pci/devices/0000:00:1c.0/driver_override', '\n');
  await copy.write('bus/pci/drivers/vfio-pci/unbind', '0000:00:1c.0');
  await copy.write('bus/pci/drivers_probe', '0000:00:1c.0');
  assert.is(copy.dev('0000:00:1c.0').driver, 'e1000e');
  await copy.write('bus/pci/devices/0000:02:00.0/sriov_numvfs', '0');
  await copy.write('bus/pci/devices/0000:02:00.0/sriov_numvfs', '2');
  assert.equal(copy.dev('0000:02:00.0').virtfns, ['0000:02:00.1', '0000:02:00.2']);
  await copy.load('pci_stub');
  assert.ok(copy.registeredDrivers('pci').includes('pci-stub'));
});

obs('a board rebuilt from its host keeps platform matching and an unknown module list', async () => {
  const host = observe(board());
  const copy = KernelModel.fromHost(host);
  assert.equal(observe(copy), host);
  assert.is(copy.available(), null);
  await copy.write('bus/platform/drivers/s3c-i2c/unbind', '12ce0000.i2c');
  await copy.write('bus/platform/drivers_probe', '12ce0000.i2c');
  assert.is(copy.dev('12ce0000.i2c').driver, 's3c-i2c', 'matched again by its compatible');
});

obs.run();

// ---------------------------------------------------------------------------------------------
const canon = suite<{ dir: string }>('observe canonicalisation', { dir: '' });

canon.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'vr-observe-'));
});
canon.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

function file(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

function link(root: string, path: string, target: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}

canon('hex ids are lowercased without 0x, class padded to 6; an empty override is unset', (ctx) => {
  const dev = 'devices/pci0000:00/0000:00:05.0';
  file(ctx.dir, `${dev}/vendor`, '0x10DE\n');
  file(ctx.dir, `${dev}/device`, '0X2204\n');
  file(ctx.dir, `${dev}/class`, '0x30000\n');
  file(ctx.dir, `${dev}/numa_node`, '-1\n');
  file(ctx.dir, `${dev}/driver_override`, '\n');
  link(ctx.dir, `${dev}/driver`, '../../../bus/pci/drivers/vfio-pci');
  link(ctx.dir, 'bus/pci/devices/0000:00:05.0', `../../../${dev}`);
  mkdirSync(join(ctx.dir, 'bus/pci/drivers/vfio-pci'), { recursive: true });
  const host = observe(new FsSysfsPort(ctx.dir));
  assert.equal(host.devices, [
    {
      key: 'pci/0000:00:05.0',
      bus: 'pci',
      name: '0000:00:05.0',
      driver: 'vfio-pci',
      override: null,
      iommuGroup: null,
      isBridge: false,
      vendor: '10de',
      device: '2204',
      class: '030000',
    },
  ]);
  assert.equal(host.drivers, { pci: ['vfio-pci'], platform: [] });
  assert.equal(host.groups, {});
});

canon('dangling device links and unaddressable names are skipped', (ctx) => {
  link(ctx.dir, 'bus/pci/devices/0000:00:06.0', '../../../devices/pci0000:00/0000:00:06.0');
  file(ctx.dir, 'devices/platform/Fixed MDIO bus.0/driver_override', '(null)\n');
  link(ctx.dir, 'bus/platform/devices/Fixed MDIO bus.0', '../../../devices/platform/Fixed MDIO bus.0');
  assert.equal(observe(new FsSysfsPort(ctx.dir)).devices, []);
});

canon('VFs are ordered by index, not by name', (ctx) => {
  const pf = 'devices/pci0000:00/0000:00:07.0';
  file(ctx.dir, `${pf}/driver_override`, '(null)\n');
  file(ctx.dir, `${pf}/sriov_totalvfs`, '16\n');
  file(ctx.dir, `${pf}/sriov_numvfs`, '11\n');
  file(ctx.dir, `${pf}/sriov_drivers_autoprobe`, '0\n');
  for (let i = 0; i < 11; i++) link(ctx.dir, `${pf}/virtfn${i}`, `../0000:00:08.${i % 8}`.replace(/08\.(\d)$/, (_, f) => (i < 8 ? `08.${f}` : `09.${f}`)));
  link(ctx.dir, 'bus/pci/devices/0000:00:07.0', `../../../${pf}`);
  const [dev] = observe(new FsSysfsPort(ctx.dir)).devices;
  assert.equal(dev!.sriov, { totalVfs: 16, numVfs: 11, driversAutoprobe: false });
  assert.equal(dev!.virtfns!.slice(7), ['pci/0000:00:08.7', 'pci/0000:00:09.0', 'pci/0000:00:09.1', 'pci/0000:00:09.2']);
});

canon.run();
