// The example hosts bundled with vfio-reconcile, described as kernel models. `npm run examples`
// writes each as a sysfs tree under examples/<name>/sysfs, so `plan --sysfs-root` works on a
// machine with none of this hardware, and as examples/<name>/snapshot.json (snapshots.ts) for
// `plan --snapshot`; tests check the committed files match these models.

import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelModel } from '../src/kernel/model.js';
import { writeSysfsTree } from '../src/kernel/tree.js';
import { writeExampleSnapshots } from './snapshots.js';

/**
 * A Proxmox workstation: boot GPU is the Intel iGPU, the RTX 3090 and its HDMI audio share IOMMU
 * group 1 behind a root port, an ASMedia USB controller sits alone in group 14, and the host keeps
 * its NVMe boot disk, its I219 NIC and its own USB controller. vfio-pci is available, not loaded.
 */
export function gpuPassthrough(): KernelModel {
  return new KernelModel({ kernel: '6.8.12-4-pve', modulesKnown: false })
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'i915', { ids: [['8086', '4680']] })
    .driver('pci', 'nouveau', { ids: [['10de', '2204']] })
    .driver('pci', 'snd_hda_intel', { ids: [{ class: '0403' }] })
    .driver('pci', 'nvme', { ids: [{ class: '0108' }] })
    .driver('pci', 'e1000e', { ids: [['8086', '1a1c']] })
    .driver('pci', 'xhci_hcd', { builtin: true, ids: [{ class: '0c0330' }] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci('0000:00:00.0', { vendor: '8086', device: '4660', class: '060000', group: '0' })
    .pci('0000:00:02.0', { vendor: '8086', device: '4680', class: '030000', group: '2', driver: 'i915', bootVga: true })
    .pci('0000:00:01.0', { vendor: '8086', device: '460d', class: '060400', group: '1', driver: 'pcieport' })
    .pci('0000:01:00.0', {
      vendor: '10de', device: '2204', subsystemVendor: '1043', subsystemDevice: '87b5',
      class: '030000', group: '1', driver: 'nouveau', parent: '0000:00:01.0', numa: 0,
    })
    .pci('0000:01:00.1', {
      vendor: '10de', device: '1aef', subsystemVendor: '1043', subsystemDevice: '87b5',
      class: '040300', group: '1', driver: 'snd_hda_intel', parent: '0000:00:01.0',
    })
    .pci('0000:00:14.0', { vendor: '8086', device: '7ae0', class: '0c0330', group: '5', driver: 'xhci_hcd' })
    .pci('0000:00:1f.6', { vendor: '8086', device: '1a1c', class: '020000', group: '11', driver: 'e1000e' })
    .pci('0000:00:1b.0', { vendor: '8086', device: '7ac0', class: '060400', group: '12', driver: 'pcieport' })
    .pci('0000:04:00.0', { vendor: '144d', device: 'a80a', class: '010802', group: '13', driver: 'nvme', parent: '0000:00:1b.0' })
    .pci('0000:00:1c.0', { vendor: '8086', device: '7ab8', class: '060400', group: '14', driver: 'pcieport' })
    .pci('0000:05:00.0', { vendor: '1b21', device: '2142', class: '0c0330', group: '14', driver: 'xhci_hcd', parent: '0000:00:1c.0' });
}

/**
 * A DPDK packet host: an Intel X710 dual-port NIC (one group per port, i40e) for the data plane,
 * an I350 (igb) for management that must stay on the host.
 */
export function dpdkNic(): KernelModel {
  return new KernelModel({ kernel: '6.1.0-28-amd64', modulesKnown: false })
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'igb', { ids: [['8086', '1521']], sriov: true })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci('0000:3a:00.0', { vendor: '8086', device: '2030', class: '060400', group: '30', driver: 'pcieport' })
    .pci('0000:3b:00.0', {
      vendor: '8086', device: '1572', subsystemVendor: '8086', subsystemDevice: '0006',
      class: '020000', group: '31', driver: 'i40e', parent: '0000:3a:00.0', numa: 0, sriov: { totalVfs: 64 },
    })
    .pci('0000:3b:00.1', {
      vendor: '8086', device: '1572', subsystemVendor: '8086', subsystemDevice: '0006',
      class: '020000', group: '32', driver: 'i40e', parent: '0000:3a:00.0', numa: 0, sriov: { totalVfs: 64 },
    })
    .pci('0000:19:00.0', { vendor: '8086', device: '1521', class: '020000', group: '20', driver: 'igb', numa: 0, sriov: { totalVfs: 7 } });
}

/**
 * An ARM server board (AMD Seattle class): the 10G XGBE block and a spare DMA engine on the
 * platform bus, each in its own SMMU group; vfio-platform is built as a module, not loaded.
 */
export function armBoard(): KernelModel {
  return new KernelModel({ kernel: '6.12.9-arm64', modulesKnown: false })
    .driver('platform', 'amd-xgbe', { module: 'amd_xgbe', compatible: ['amd,xgbe-seattle-v1a'] })
    .driver('platform', 'pl330', { compatible: ['arm,pl330', 'arm,primecell'] })
    .driver('platform', 'serial8250', { builtin: true, names: ['serial8250'] })
    .driver('platform', 'vfio-platform', { module: 'vfio_platform', loaded: false })
    .platform('e0700000.xgmac', { compatible: ['amd,xgbe-seattle-v1a'], driver: 'amd-xgbe', group: '4' })
    .platform('e0900000.xgmac', { compatible: ['amd,xgbe-seattle-v1a'], driver: 'amd-xgbe', group: '5' })
    .platform('e0700000.dma', { compatible: ['arm,pl330', 'arm,primecell'], driver: 'pl330', group: '6' })
    .platform('serial8250', { driver: 'serial8250' });
}

/**
 * A VDI host carving GPUs into mediated devices: the Intel UHD 630 iGPU with GVT-g (i915 loaded with
 * enable_gvt=1) and an NVIDIA Tesla T4 with the vGPU host driver; its NVMe boot disk and NIC stay
 * on the host. Type ids, names and descriptions are as those drivers print them; the numbers of
 * instances are the ones a UHD 630 with 256 MB of aperture and a 16 GB T4 offer.
 */
export function mdevGpu(): KernelModel {
  const T4 = (id: number, name: string, fb: number, instances: number, heads: number) => ({
    id: `nvidia-${id}`,
    name: `GRID T4-${name}`,
    instances,
    description: `num_heads=${heads}, frl_config=${name.endsWith('Q') ? 60 : 45}, framebuffer=${fb}M, max_resolution=${name.endsWith('Q') ? '7680x4320' : '5120x2880'}, max_instance=${instances}`,
  });
  return new KernelModel({ kernel: '6.8.12-4-pve', modulesKnown: false })
    .driver('pci', 'i915', { ids: [['8086', '3e92']] })
    .driver('pci', 'nvidia', { ids: [['10de', '1eb8']] })
    .driver('pci', 'nvme', { ids: [{ class: '0108' }] })
    .driver('pci', 'e1000e', { ids: [['8086', '15bc']] })
    .pci('0000:00:02.0', { vendor: '8086', device: '3e92', subsystemVendor: '1462', subsystemDevice: '7b98', class: '030000', group: '0', driver: 'i915', bootVga: true })
    .pci('0000:3b:00.0', { vendor: '10de', device: '1eb8', subsystemVendor: '10de', subsystemDevice: '12a2', class: '030200', group: '30', driver: 'nvidia', numa: 0 })
    .pci('0000:01:00.0', { vendor: '144d', device: 'a808', class: '010802', group: '12', driver: 'nvme' })
    .pci('0000:00:1f.6', { vendor: '8086', device: '15bc', class: '020000', group: '9', driver: 'e1000e' })
    .mdevParent('0000:00:02.0', {
      types: [
        { id: 'i915-GVTg_V5_4', name: 'GVTg_V5_4', instances: 2, description: 'low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4' },
        { id: 'i915-GVTg_V5_8', name: 'GVTg_V5_8', instances: 4, description: 'low_gm_size: 64MB\nhigh_gm_size: 384MB\nfence: 4\nresolution: 1024x768\nweight: 2' },
      ],
    })
    .mdevParent('0000:3b:00.0', {
      mdevDriver: 'nvidia-vgpu-vfio',
      types: [T4(222, '1B', 1024, 16, 4), T4(223, '2B', 2048, 8, 4), T4(230, '4Q', 4096, 4, 4), T4(231, '8Q', 8192, 2, 4)],
    });
}

export const EXAMPLE_HOSTS: Record<string, () => KernelModel> = {
  'gpu-passthrough': gpuPassthrough,
  'dpdk-nic': dpdkNic,
  'arm-board': armBoard,
  'mdev-gpu': mdevGpu,
};

/** Write every example host's tree under `base/<name>/sysfs`, replacing what was there. */
export function writeExampleTrees(base: string): void {
  for (const [name, make] of Object.entries(EXAMPLE_HOSTS)) {
    const dir = join(base, name, 'sysfs');
    rmSync(dir, { recursive: true, force: true });
    writeSysfsTree(make(), dir);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // dist/examples/hosts.js -> the source examples/ folder two levels up.
  const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
  writeExampleTrees(examples);
  writeExampleSnapshots(examples, EXAMPLE_HOSTS);
}
