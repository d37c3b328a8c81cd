import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelModel } from '../../src/kernel/model.js';
import { layout } from '../../src/sysfs/layout.js';
import { outcome } from './helpers.js';
import { board, workstation } from './hosts.js';

const NIC = '0000:00:1c.0';
const GPU = '0000:01:00.0';
const override = (name: string) => layout.attr('pci', name, 'driver_override');
const unbind = (drv: string) => layout.driverAttr('pci', drv, 'unbind');
const bind = (drv: string) => layout.driverAttr('pci', drv, 'bind');
const probe = layout.driversProbe('pci');

// ---------------------------------------------------------------------------------------------
const ovr = suite('driver_override');

ovr('unset reads (null); a value is cut at the first newline', async () => {
  const k = workstation();
  assert.is(k.read(override(NIC)), '(null)');
  assert.is(await outcome(k.write(override(NIC), 'vfio-pci\ntrailing')), 'ok');
  assert.is(k.read(override(NIC)), 'vfio-pci');
  assert.is(k.dev(NIC).override, 'vfio-pci');
});

ovr('a newline clears it; an empty write never reaches the kernel', async () => {
  const k = workstation();
  await k.write(override(NIC), 'vfio-pci');
  await k.write(override(NIC), '');
  assert.is(k.dev(NIC).override, 'vfio-pci', 'a 0-byte write changes nothing');
  await k.write(override(NIC), '\n');
  assert.is(k.dev(NIC).override, null);
  assert.is(k.read(override(NIC)), '(null)');
});

ovr('a value of PAGE_SIZE-1 bytes or more is EINVAL and keeps the old value', async () => {
  const k = workstation();
  assert.is(await outcome(k.write(override(NIC), 'x'.repeat(4095))), 'EINVAL');
  assert.is(await outcome(k.write(override(NIC), 'x'.repeat(4094))), 'ok');
  assert.is(k.dev(NIC).override, 'x'.repeat(4094));
});

ovr('a NUL-only write clears on 6.1+ and 5.10, but stores "" on 5.19-6.0', async () => {
  for (const [kernel, want] of [['6.12', null], ['6.1', null], ['5.10', null], ['5.19', ''], ['6.0', '']] as const) {
    const k = workstation({ kernel });
    await k.write(override(NIC), 'vfio-pci');
    await k.write(override(NIC), '\0');
    assert.is(k.dev(NIC).override, want, kernel);
  }
});

ovr('setting it neither unbinds nor loads anything', async () => {
  const k = workstation();
  await k.write(override(NIC), 'vfio-pci');
  assert.is(k.dev(NIC).driver, 'e1000e');
  assert.equal(k.loads, []);
});

// ---------------------------------------------------------------------------------------------
const ub = suite('unbind');

ub('ENODEV unless the device is bound to that driver', async () => {
  const k = workstation();
  assert.is(await outcome(k.write(unbind('nvidia'), NIC)), 'ENODEV');
  assert.is(await outcome(k.write(unbind('e1000e'), '0000:00:1f.0')), 'ENODEV');
  assert.is(await outcome(k.write(unbind('e1000e'), '0000:00:1C.0')), 'ENODEV', 'names are case-sensitive');
  assert.is(await outcome(k.write(unbind('e1000e'), `${NIC}\n`)), 'ok', 'one trailing newline is fine');
  assert.is(k.dev(NIC).driver, null);
  assert.is(await outcome(k.write(unbind('e1000e'), NIC)), 'ENODEV');
});

ub('unbind never re-probes', async () => {
  const k = workstation();
  await k.write(unbind('e1000e'), NIC);
  assert.is(k.dev(NIC).driver, null);
  assert.is(k.readLink(layout.attr('pci', NIC, 'driver')), null);
});

ub('a driver that is not registered has no unbind file: ENOENT', async () => {
  const k = workstation();
  assert.is(await outcome(k.write(unbind('vfio-pci'), NIC)), 'ENOENT');
});

// ---------------------------------------------------------------------------------------------
const bd = suite('bind');

bd('ENODEV when the ID table does not match or the override names another driver', async () => {
  const k = workstation();
  await k.write(unbind('e1000e'), NIC);
  assert.is(await outcome(k.write(bind('nvidia'), NIC)), 'ENODEV');
  await k.write(override(NIC), 'pci-stub');
  assert.is(await outcome(k.write(bind('e1000e'), NIC)), 'ENODEV');
  await k.write(override(NIC), '\n');
  assert.is(await outcome(k.write(bind('e1000e'), NIC)), 'ok');
  assert.is(k.dev(NIC).driver, 'e1000e');
});

bd('already bound: EBUSY from 5.14, ENODEV before', async () => {
  assert.is(await outcome(workstation({ kernel: '6.12' }).write(bind('e1000e'), NIC)), 'EBUSY');
  assert.is(await outcome(workstation({ kernel: '5.14' }).write(bind('e1000e'), NIC)), 'EBUSY');
  assert.is(await outcome(workstation({ kernel: '5.10' }).write(bind('e1000e'), NIC)), 'ENODEV');
});

bd('an override naming the driver bypasses its ID table; the probe error comes back (e1000 on e1000e: EIO)', async () => {
  const k = workstation().failProbe('e1000', NIC, 'EIO');
  await k.write(override(NIC), 'e1000');
  await k.write(unbind('e1000e'), NIC);
  assert.is(await outcome(k.write(bind('e1000'), NIC)), 'EIO');
  assert.is(k.dev(NIC).driver, null);

  const old = workstation({ kernel: '5.10' }).failProbe('e1000', NIC, 'EIO');
  await old.write(override(NIC), 'e1000');
  await old.write(unbind('e1000e'), NIC);
  assert.is(await outcome(old.write(bind('e1000'), NIC)), 'ENODEV', 'before 5.14 every probe failure is ENODEV');
});

bd('a deferred probe is EAGAIN', async () => {
  const k = workstation().failProbe('e1000e', NIC, 'EPROBE_DEFER');
  await k.write(unbind('e1000e'), NIC);
  assert.is(await outcome(k.write(bind('e1000e'), NIC)), 'EAGAIN');
});

bd('vfio-pci refuses bridges with EINVAL', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  await k.write(override('0000:00:03.0'), 'vfio-pci');
  await k.write(unbind('shpchp'), '0000:00:03.0');
  assert.is(await outcome(k.write(bind('vfio-pci'), '0000:00:03.0')), 'EINVAL');
});

bd('vfio-pci refuses a device without an IOMMU group with EINVAL', async () => {
  const k = new KernelModel().driver('pci', 'vfio-pci').pci('0000:05:00.0', { vendor: '1af4', device: '1041', group: null, override: 'vfio-pci' });
  assert.is(await outcome(k.write(bind('vfio-pci'), '0000:05:00.0')), 'EINVAL');
});

// ---------------------------------------------------------------------------------------------
const dp = suite('drivers_probe');

dp('ENODEV for an unknown device; a bound device is a successful no-op', async () => {
  const k = workstation();
  assert.is(await outcome(k.write(probe, '0000:0a:00.0')), 'ENODEV');
  await k.write(override(NIC), 'pci-stub');
  assert.is(await outcome(k.write(probe, NIC)), 'ok');
  assert.is(k.dev(NIC).driver, 'e1000e');
});

dp('without an override the first matching registered driver binds', async () => {
  const k = workstation();
  await k.write(unbind('e1000e'), NIC);
  await k.write(probe, NIC);
  assert.is(k.dev(NIC).driver, 'e1000e');
});

dp('honours the override, and binds nothing for none or an unloaded driver', async () => {
  const k = workstation();
  await k.write(override(NIC), 'none');
  await k.write(unbind('e1000e'), NIC);
  assert.is(await outcome(k.write(probe, NIC)), 'ok');
  assert.is(k.dev(NIC).driver, null);
  await k.write(override(NIC), 'vfio-pci');
  assert.is(await outcome(k.write(probe, NIC)), 'ok');
  assert.is(k.dev(NIC).driver, null, 'vfio-pci is not loaded');
  await k.load('vfio-pci');
  await k.write(probe, NIC);
  assert.is(k.dev(NIC).driver, 'vfio-pci');
  assert.is(k.readLink(layout.attr('pci', NIC, 'driver')), '../../../bus/pci/drivers/vfio-pci');
});

dp('a failing probe still reports success and leaves the device unbound', async () => {
  const k = workstation().failProbe('e1000', NIC, 'EIO');
  await k.write(override(NIC), 'e1000');
  await k.write(unbind('e1000e'), NIC);
  assert.is(await outcome(k.write(probe, NIC)), 'ok');
  assert.is(k.dev(NIC).driver, null);
  await k.write(override(NIC), '\n');
  await k.write(probe, NIC);
  assert.is(k.dev(NIC).driver, 'e1000e', 'clearing the override lets the kernel pick its own driver again');
});

dp('vfio-pci never binds without an override, on any kernel', async () => {
  for (const kernel of ['5.10', '6.12']) {
    const k = workstation({ kernel });
    await k.load('vfio_pci');
    await k.write(unbind('e1000e'), NIC);
    await k.write(override(NIC), 'vfio-pci\n');
    await k.write(override(NIC), '\n');
    await k.write(probe, NIC);
    assert.is(k.dev(NIC).driver, 'e1000e', kernel);
  }
});

// ---------------------------------------------------------------------------------------------
const mod = suite('modules');

mod('available lists every module; an unknown module is rejected like modprobe', async () => {
  const k = workstation();
  assert.ok(k.available()!.includes('vfio_pci'));
  assert.ok(k.available()!.includes('nouveau'));
  try {
    await k.load('no_such_thing');
    assert.unreachable('load should reject');
  } catch (err) {
    assert.match((err as Error).message, 'modprobe: FATAL: Module no_such_thing not found');
  }
  assert.is(new KernelModel({ modulesKnown: false }).available(), null);
});

mod('a module load registers its drivers', async () => {
  const k = workstation();
  assert.not.ok(k.list(layout.busDrivers('pci')).includes('vfio-pci'));
  await k.load('vfio-pci');
  assert.ok(k.list(layout.busDrivers('pci')).includes('vfio-pci'));
  assert.ok(k.list('module').includes('vfio_pci'));
});

mod('the race: a module load grabs an unbound device unless its override names another driver', async () => {
  const racy = workstation().driver('pci', 'igb-clone', { module: 'igbc', ids: [['8086', '10d3']], loaded: false });
  await racy.write(unbind('e1000e'), NIC);
  await racy.load('igbc');
  assert.is(racy.dev(NIC).driver, 'igb-clone', 'unbind-then-override loses the device');

  const safe = workstation().driver('pci', 'igb-clone', { module: 'igbc', ids: [['8086', '10d3']], loaded: false });
  await safe.write(override(NIC), 'vfio-pci');
  await safe.write(unbind('e1000e'), NIC);
  await safe.load('igbc');
  assert.is(safe.dev(NIC).driver, null);
  await safe.load('vfio_pci');
  assert.is(safe.dev(NIC).driver, 'vfio-pci', 'loading the overridden driver binds it');
});

mod('failModule makes modprobe fail with the given message', async () => {
  const k = workstation().failModule('vfio_pci', 'modprobe: ERROR: could not insert');
  try {
    await k.load('vfio-pci');
    assert.unreachable('load should reject');
  } catch (err) {
    assert.is((err as Error).message, 'modprobe: ERROR: could not insert');
  }
  assert.equal(k.loads, ['vfio_pci']);
});

// ---------------------------------------------------------------------------------------------
const files = suite('sysfs files');

files('attributes read like the kernel prints them, minus the newline', () => {
  const k = workstation();
  assert.is(k.read(layout.attr('pci', GPU, 'vendor')), '0x10de');
  assert.is(k.read(layout.attr('pci', GPU, 'class')), '0x030000');
  assert.is(k.read(layout.attr('pci', GPU, 'modalias')), 'pci:v000010DEd00002204sv00001043sd000087B5bc03sc00i00');
  assert.is(k.read(layout.attr('pci', '0000:00:02.0', 'boot_vga')), '1');
  assert.is(k.read(layout.attr('pci', GPU, 'boot_vga')), '0');
  assert.is(k.read(layout.attr('pci', NIC, 'boot_vga')), null, 'only VGA devices have boot_vga');
});

files('links are relative like the kernel\'s', () => {
  const k = workstation();
  assert.is(k.readLink(layout.attr('pci', GPU, 'driver')), '../../../../bus/pci/drivers/nvidia');
  assert.is(k.readLink(layout.attr('pci', GPU, 'iommu_group')), '../../../../kernel/iommu_groups/1');
  assert.is(k.readLink(layout.device('pci', GPU)), '../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
  assert.equal(k.list(layout.groupDevices('1')), ['0000:01:00.0', '0000:01:00.1']);
});

files('write-only attributes cannot be read; absent ones cannot be written', async () => {
  const k = workstation();
  assert.is(k.read(bind('e1000e')), null);
  assert.is(k.read(probe), null);
  assert.is(await outcome(k.write(layout.attr('pci', NIC, 'vendor'), '0x1234')), 'EACCES');
  assert.is(await outcome(k.write(layout.attr('pci', NIC, 'sriov_numvfs'), '1')), 'ENOENT');
  assert.is(await outcome(k.write('bus/pci/devices/0000:00:1c.0/driver/unbind', NIC)), 'ok', 'unbind through the driver link');
  assert.is(k.dev(NIC).driver, null);
});

files('paths outside the root are refused like FsSysfsPort refuses them', async () => {
  const k = workstation();
  assert.throws(() => k.read('/sys/bus/pci/devices'), /relative/);
  assert.throws(() => k.list('bus/../..'), /climb/);
  await k.write('bus/pci/../../etc/passwd', 'x').then(
    () => assert.unreachable('the write should be refused'),
    (err: Error) => assert.match(err.message, /climb/),
  );
  assert.equal(k.writes, []);
  assert.equal(k.list(''), ['bus', 'kernel', 'module']);
  assert.equal(k.list('kernel'), ['iommu_groups']);
});

files('k.writes logs every write with its result', async () => {
  const k = workstation();
  assert.equal(k.writes, []);
  await outcome(k.write(override(NIC), 'vfio-pci'));
  await outcome(k.write(bind('nvidia'), NIC));
  assert.equal(k.writes, [
    { path: override(NIC), value: 'vfio-pci', result: 'ok' },
    { path: bind('nvidia'), value: NIC, result: 'ENODEV' },
  ]);
});

// ---------------------------------------------------------------------------------------------
const hot = suite('hot-unplug');

hot('a hot-added device probes at once: only an override written before can hold it back', async () => {
  const k = workstation();
  k.hotplug('0000:04:00.0', { vendor: '8086', device: '10d3', class: '020000' });
  assert.is(k.dev('0000:04:00.0').driver, 'e1000e');
  await k.load('vfio_pci');
  k.hotplug('0000:05:00.0', { vendor: '8086', device: '10d3', override: 'vfio-pci' });
  assert.is(k.dev('0000:05:00.0').driver, 'vfio-pci');
});

hot('a removed device and its links vanish; writes naming it fail', async () => {
  const k = workstation();
  k.removeDevice(NIC);
  assert.not.ok(k.has(NIC));
  assert.not.ok(k.list(layout.busDevices('pci')).includes(NIC));
  assert.is(k.read(override(NIC)), null);
  assert.is(await outcome(k.write(unbind('e1000e'), NIC)), 'ENODEV');
  assert.is(await outcome(k.write(probe, NIC)), 'ENODEV');
  assert.is(await outcome(k.write(override(NIC), 'vfio-pci')), 'ENOENT');
  assert.not.ok(k.list(layout.iommuGroups).includes('7'));
});

// ---------------------------------------------------------------------------------------------
const build = suite('builder');

build('refuses names the kernel would not use, and duplicates', () => {
  assert.throws(() => new KernelModel().pci('01:00.0', { vendor: '10de', device: '2204' }), /0000:01:00.0/);
  assert.throws(() => new KernelModel().pci('0000:0A:00.0', { vendor: '10de', device: '2204' }), /lowercase/);
  assert.throws(() => new KernelModel().platform('../x'), /not one the kernel would use/);
  assert.throws(() => workstation().pci(NIC, { vendor: '8086', device: '10d3' }), /declared twice/);
  assert.throws(() => workstation().pci('0000:09:00.0', { vendor: '8086', device: '10d3', driver: 'vfio-pci' }), /not loaded/);
});

build('a driver declared without a table matches the devices the builder bound to it', async () => {
  const k = new KernelModel().pci('0000:07:00.0', { vendor: '10DE', device: '0x2204', driver: 'nvidia' });
  assert.equal(k.registeredDrivers('pci'), ['nvidia']);
  assert.equal(k.loadedModules(), ['nvidia']);
  await k.write(layout.driverAttr('pci', 'nvidia', 'unbind'), '0000:07:00.0');
  await k.write(probe, '0000:07:00.0');
  assert.is(k.dev('0000:07:00.0').driver, 'nvidia');
  assert.is(k.read(layout.attr('pci', '0000:07:00.0', 'vendor')), '0x10de');
});

// ---------------------------------------------------------------------------------------------
const plat = suite('platform bus');

plat('drivers match by compatible or by the name before the instance id; vfio-platform only by override', async () => {
  const k = board()
    .driver('platform', 'alarmtimer', { loaded: false })
    .platform('12cf0000.i2c', { compatible: ['samsung,s3c2440-i2c'], group: '4' });
  const probe = layout.driversProbe('platform');
  await k.write(probe, '12cf0000.i2c');
  assert.is(k.dev('12cf0000.i2c').driver, 's3c-i2c');
  await k.load('alarmtimer');
  assert.is(k.dev('alarmtimer.0.auto').driver, 'alarmtimer', 'alarmtimer.0.auto was registered as alarmtimer');
  await k.load('vfio-platform');
  assert.is(k.dev('12cf0000.i2c').driver, 's3c-i2c');
  await k.write(layout.attr('platform', '12cf0000.i2c', 'driver_override'), 'vfio-platform');
  await k.write(layout.driverAttr('platform', 's3c-i2c', 'unbind'), '12cf0000.i2c');
  await k.write(probe, '12cf0000.i2c');
  assert.is(k.dev('12cf0000.i2c').driver, 'vfio-platform');
  assert.equal(k.vfioNodes(), ['4']);
});

plat('an override allows only an exact driver name', async () => {
  const k = board();
  await k.write(layout.attr('platform', '12ce0000.i2c', 'driver_override'), 's3c-i2c-x');
  await k.write(layout.driverAttr('platform', 's3c-i2c', 'unbind'), '12ce0000.i2c');
  assert.is(await outcome(k.write(layout.driverAttr('platform', 's3c-i2c', 'bind'), '12ce0000.i2c')), 'ENODEV');
  assert.is(k.read(layout.attr('platform', '12ce0000.i2c', 'of_node/compatible')), 'samsung,s3c2440-i2c\0samsung,s3c2410-i2c\0');
});

ovr.run();
ub.run();
bd.run();
dp.run();
mod.run();
files.run();
hot.run();
plat.run();
build.run();
