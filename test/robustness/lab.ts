// The realistic host the robustness suites break things on, as a kernel model, and the state file
// that asks for every kind of step on it: module loads on both buses, a GPU + HDMI audio pair
// sharing an IOMMU group behind a root port, a lone NIC, an SR-IOV PF whose two VFs move from iavf
// to vfio-pci, a second PF whose VF count goes 1 -> 0 -> 3 (its VF on iavf must come back on a
// rollback), a platform device, and bystanders (NVMe, serial port) nothing may touch.

import { KernelModel } from '../../src/kernel/model.js';

export const GPU = '0000:01:00.0';
export const AUDIO = '0000:01:00.1';
export const NIC = '0000:00:1c.0';
export const PF = '0000:3b:00.0';
export const PF_VFS = ['0000:3b:00.1', '0000:3b:00.2'];
export const PF2 = '0000:5e:00.0';
export const PF2_VF = '0000:5e:00.1';
export const XGMAC = 'e0700000.xgmac';

export function labHost(): KernelModel {
  return new KernelModel({ kernel: '6.12.117-amd64' })
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'nouveau', { ids: [['10de', '2204']] })
    .driver('pci', 'snd_hda_intel', { ids: [{ class: '0403' }] })
    .driver('pci', 'e1000e', { ids: [['8086', '10d3']] })
    .driver('pci', 'nvme', { ids: [{ class: '0108' }] })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'iavf', { ids: [['8086', '154c']] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .driver('platform', 'amd-xgbe', { module: 'amd_xgbe', compatible: ['amd,xgbe-seattle-v1a'] })
    .driver('platform', 'vfio-platform', { module: 'vfio_platform', loaded: false })
    .driver('platform', 'serial8250', { builtin: true, names: ['serial8250'] })
    .pci('0000:00:01.0', { vendor: '8086', device: '1901', class: '060400', group: '1', driver: 'pcieport' })
    .pci(GPU, { vendor: '10de', device: '2204', class: '030000', group: '1', driver: 'nouveau', parent: '0000:00:01.0' })
    .pci(AUDIO, { vendor: '10de', device: '1aef', class: '040300', group: '1', driver: 'snd_hda_intel', parent: '0000:00:01.0' })
    .pci(NIC, { vendor: '8086', device: '10d3', class: '020000', group: '7', driver: 'e1000e' })
    .pci('0000:04:00.0', { vendor: '144d', device: 'a80a', class: '010802', group: '13', driver: 'nvme' })
    .pci(PF, { vendor: '8086', device: '1572', class: '020000', group: '31', driver: 'i40e', sriov: { totalVfs: 8, vfDevice: '154c' } })
    .pci(PF_VFS[0]!, { vendor: '8086', device: '154c', class: '020000', group: '32', driver: 'iavf', physfn: PF })
    .pci(PF_VFS[1]!, { vendor: '8086', device: '154c', class: '020000', group: '33', driver: 'iavf', physfn: PF })
    .pci(PF2, { vendor: '8086', device: '1572', class: '020000', group: '40', driver: 'i40e', sriov: { totalVfs: 8, vfDevice: '154c' } })
    .pci(PF2_VF, { vendor: '8086', device: '154c', class: '020000', group: '41', driver: 'iavf', physfn: PF2 })
    .platform(XGMAC, { compatible: ['amd,xgbe-seattle-v1a'], driver: 'amd-xgbe', group: '4' })
    .platform('serial8250', { driver: 'serial8250' });
}

export const LAB_STATE = `version: 1
devices:
  - name: gpu
    match: { address: "01:00.*" }
    count: 2
    driver: vfio-pci
  - name: nic
    match: { address: "00:1c.0" }
    driver: vfio-pci
  - name: dpdk
    match: { address: "3b:00.0" }
    vfs: { count: 2, driver: vfio-pci }
  - name: more-vfs
    match: { address: "5e:00.0" }
    vfs: { count: 3 }
  - name: xgmac
    match: { compatible: "amd,xgbe-seattle-v1a" }
    driver: vfio-platform
`;
