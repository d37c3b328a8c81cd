// Example hosts as kernel models, shared by tests across the project. Each returns a fresh model.

import { KernelModel, type ModelOptions } from '../../src/kernel/model.js';

/**
 * A passthrough workstation: RTX 3090 (+ HDMI audio) in group 1 on nvidia/snd_hda_intel behind a
 * root port, an e1000e NIC alone in group 7, an SR-IOV NVMe (2 VFs possible) in group 9, a
 * conventional PCI bridge with two e1000 in shared group 12, and vfio-pci available but not loaded.
 */
export function workstation(opts: ModelOptions = {}): KernelModel {
  return new KernelModel(opts)
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'nvidia')
    .driver('pci', 'snd_hda_intel', { ids: [{ class: '0403' }] })
    .driver('pci', 'e1000e', { ids: [['8086', '10d3']] })
    .driver('pci', 'e1000', { ids: [['8086', '100e']] })
    .driver('pci', 'nvme', { ids: [{ class: '0108' }], sriov: true })
    .driver('pci', 'shpchp', { ids: [] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .driver('pci', 'pci-stub', { module: 'pci_stub', loaded: false })
    .module('nouveau')
    .pci('0000:00:01.0', { vendor: '8086', device: '1901', class: '060400', group: '0', driver: 'pcieport' })
    .pci('0000:01:00.0', {
      vendor: '10de',
      device: '2204',
      subsystemVendor: '1043',
      subsystemDevice: '87b5',
      class: '030000',
      group: '1',
      driver: 'nvidia',
      parent: '0000:00:01.0',
      bootVga: false,
      numa: 0,
    })
    .pci('0000:01:00.1', {
      vendor: '10de',
      device: '1aef',
      class: '040300',
      group: '1',
      driver: 'snd_hda_intel',
      parent: '0000:00:01.0',
    })
    .pci('0000:00:02.0', { vendor: '8086', device: '3e92', class: '030000', group: '2', bootVga: true })
    .pci('0000:00:1c.0', { vendor: '8086', device: '10d3', class: '020000', group: '7', driver: 'e1000e' })
    .pci('0000:02:00.0', {
      vendor: '1b36',
      device: '0010',
      class: '010802',
      group: '9',
      driver: 'nvme',
      sriov: { totalVfs: 2 },
    })
    .pci('0000:00:03.0', { vendor: '1b36', device: '000e', class: '060400', group: '12', driver: 'shpchp' })
    .pci('0000:03:01.0', { vendor: '8086', device: '100e', class: '020000', group: '12', driver: 'e1000', parent: '0000:00:03.0' })
    .pci('0000:03:02.0', { vendor: '8086', device: '100e', class: '020000', group: '12', driver: 'e1000', parent: '0000:00:03.0' });
}

/** An ARM board: an i2c controller and a serial port on the platform bus, vfio-platform loadable. */
export function board(opts: ModelOptions = {}): KernelModel {
  return new KernelModel(opts)
    .driver('platform', 's3c-i2c', { module: 'i2c_s3c2410', compatible: ['samsung,s3c2440-i2c'] })
    .driver('platform', 'serial8250', { builtin: true, names: ['serial8250'] })
    .driver('platform', 'vfio-platform', { loaded: false })
    .platform('12ce0000.i2c', { compatible: ['samsung,s3c2440-i2c', 'samsung,s3c2410-i2c'], driver: 's3c-i2c', group: '3' })
    .platform('serial8250', { driver: 'serial8250' })
    .platform('alarmtimer.0.auto');
}
