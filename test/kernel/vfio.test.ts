import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelModel } from '../../src/kernel/model.js';
import { layout } from '../../src/sysfs/layout.js';
import { isPending, outcome } from './helpers.js';
import { workstation } from './hosts.js';

const NIC = '0000:00:1c.0';

/** The documented rebind recipe: override, unbind, probe. */
async function toVfio(k: KernelModel, name: string, from: string): Promise<void> {
  await k.write(layout.attr('pci', name, 'driver_override'), 'vfio-pci');
  await k.write(layout.driverAttr('pci', from, 'unbind'), name);
  await k.write(layout.driversProbe('pci'), name);
}

const vfio = suite('vfio groups');

vfio('/dev/vfio/N exists while a group member is bound to a vfio driver', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  assert.equal(k.vfioNodes(), []);
  await toVfio(k, NIC, 'e1000e');
  assert.equal(k.vfioNodes(), ['7']);
  await k.write(layout.driverAttr('pci', 'vfio-pci', 'unbind'), NIC);
  assert.equal(k.vfioNodes(), []);
});

vfio('a GPU group is viable only once its audio function leaves snd_hda_intel', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  await toVfio(k, '0000:01:00.0', 'nvidia');
  assert.equal(k.vfioNodes(), ['1'], 'the bind itself succeeds');
  assert.not.ok(k.groupViable('1'));
  assert.throws(() => k.openVfioGroup('1'), /not viable/);
  await toVfio(k, '0000:01:00.1', 'snd_hda_intel');
  assert.ok(k.groupViable('1'));
});

vfio('a bridge on shpchp blocks its group on 5.19+ but not before', async () => {
  for (const [kernel, viable] of [['6.12', false], ['5.10', true]] as const) {
    const k = workstation({ kernel });
    await k.load('vfio_pci');
    await toVfio(k, '0000:03:01.0', 'e1000');
    await toVfio(k, '0000:03:02.0', 'e1000');
    assert.is(k.groupViable('12'), viable, kernel);
  }
});

vfio('unbinding a device whose group is held hangs until the holder closes it', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  await toVfio(k, NIC, 'e1000e');
  k.openVfioGroup('7', { pid: 999, command: 'qemu' });
  assert.equal(k.vfioHolders().get('7'), { pid: 999, command: 'qemu' });
  const w = k.write(layout.driverAttr('pci', 'vfio-pci', 'unbind'), NIC);
  assert.ok(await isPending(w));
  assert.is(k.dev(NIC).driver, 'vfio-pci');
  assert.equal(k.blockedWrites().map((r) => r.result), ['pending']);
  k.closeVfioGroup('7');
  assert.is(await outcome(w), 'ok');
  assert.is(k.dev(NIC).driver, null);
  assert.is(k.writes.at(-1)!.result, 'ok');
});

vfio('while a group is held a DMA driver on a sibling gets EBUSY (5.19+); pci-stub is fine', async () => {
  const k = workstation();
  await k.load('vfio_pci');
  await k.load('pci_stub');
  await toVfio(k, '0000:01:00.0', 'nvidia');
  await k.write(layout.driverAttr('pci', 'snd_hda_intel', 'unbind'), '0000:01:00.1');
  k.openVfioGroup('1');
  assert.is(await outcome(k.write(layout.driverAttr('pci', 'snd_hda_intel', 'bind'), '0000:01:00.1')), 'EBUSY');
  await k.write(layout.driversProbe('pci'), '0000:01:00.1');
  assert.is(k.dev('0000:01:00.1').driver, null, 'drivers_probe swallows the refusal');
  await k.write(layout.attr('pci', '0000:01:00.1', 'driver_override'), 'pci-stub');
  await k.write(layout.driversProbe('pci'), '0000:01:00.1');
  assert.is(k.dev('0000:01:00.1').driver, 'pci-stub');
});

vfio('before 5.19 the same bind hits the kernel BUG and the model hangs for good', async () => {
  const k = workstation({ kernel: '5.10' });
  await k.load('vfio_pci');
  await toVfio(k, '0000:01:00.0', 'nvidia');
  await k.write(layout.driverAttr('pci', 'snd_hda_intel', 'unbind'), '0000:01:00.1');
  k.openVfioGroup('1');
  const w = k.write(layout.driverAttr('pci', 'snd_hda_intel', 'bind'), '0000:01:00.1');
  assert.ok(await isPending(w));
  assert.match(k.panicked ?? '', /kernel BUG/);
  k.release();
  assert.ok(await isPending(w));
  assert.ok(await isPending(k.write(layout.attr('pci', NIC, 'driver_override'), 'x')));
});

vfio('a device the builder put on vfio-pci without an override came there by a dynamic ID, which still matches', async () => {
  const k = new KernelModel()
    .driver('pci', 'vfio-pci')
    .pci('0000:08:00.0', { vendor: '10de', device: '2204', group: '20', driver: 'vfio-pci' })
    .pci('0000:09:00.0', { vendor: '10de', device: '1aef', group: '21', driver: null });
  await k.write(layout.driverAttr('pci', 'vfio-pci', 'unbind'), '0000:08:00.0');
  await k.write(layout.driversProbe('pci'), '0000:08:00.0');
  assert.is(k.dev('0000:08:00.0').driver, 'vfio-pci');
  await k.write(layout.driversProbe('pci'), '0000:09:00.0');
  assert.is(k.dev('0000:09:00.0').driver, null, 'other IDs still need an override');
});

vfio.run();

const faults = suite('fault injection');

faults('an injected errno fails the matching write once by default, without effect', async () => {
  const path = layout.attr('pci', NIC, 'driver_override');
  const k = workstation().inject({ path, errno: 'ENOMEM' });
  assert.is(await outcome(k.write(path, 'vfio-pci')), 'ENOMEM');
  assert.is(k.dev(NIC).override, null);
  assert.is(await outcome(k.write(path, 'vfio-pci')), 'ok');
});

faults('patterns, values and times select the writes', async () => {
  const k = workstation().inject({ path: /\/unbind$/, value: /^0000:00:1c/, errno: 'EIO', times: 2 });
  const unbind = layout.driverAttr('pci', 'e1000e', 'unbind');
  assert.is(await outcome(k.write(layout.driverAttr('pci', 'nvidia', 'unbind'), '0000:01:00.0')), 'ok');
  assert.is(await outcome(k.write(unbind, NIC)), 'EIO');
  assert.is(await outcome(k.write(unbind, NIC)), 'EIO');
  assert.is(await outcome(k.write(unbind, NIC)), 'ok');
});

faults('an injected hang blocks until release(), then the write takes effect', async () => {
  const unbind = layout.driverAttr('pci', 'e1000e', 'unbind');
  const k = workstation().inject({ path: unbind, errno: 'hang' });
  const w = k.write(unbind, NIC);
  assert.ok(await isPending(w));
  assert.is(k.dev(NIC).driver, 'e1000e');
  k.release();
  assert.is(await outcome(w), 'ok');
  assert.is(k.dev(NIC).driver, null);
});

faults('open errors come before injected faults: an absent path is ENOENT', async () => {
  const k = workstation().inject({ path: /.*/, errno: 'EIO', times: Infinity });
  assert.is(await outcome(k.write('bus/pci/devices/0000:00:1c.0/nonexistent', '1')), 'ENOENT');
});

faults.run();
