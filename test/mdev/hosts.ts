// The mdev tests' host: parents of the three kinds mdevctl users meet.

import { KernelModel } from '../../src/kernel/model.js';

export const IGPU = '0000:00:02.0';
export const U1 = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001';
export const U2 = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1002';
export const U3 = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1003';

/** An Intel iGPU with GVT-g (two types), mtty's virtual parent (24 ports shared), vfio-ap's matrix. */
export function mdevHost(): KernelModel {
  return new KernelModel()
    .driver('pci', 'i915', { ids: [['8086', '3e92']] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci(IGPU, { vendor: '8086', device: '3e92', class: '030000', group: '0', driver: 'i915' })
    .mdevParent(IGPU, { types: [{ id: 'i915-GVTg_V5_4', name: 'GVTg_V5_4', instances: 2 }, { id: 'i915-GVTg_V5_8', name: 'GVTg_V5_8', instances: 4 }] })
    .mdevParent('mtty', { pool: 24, mdevDriver: 'mtty', types: [{ id: 'mtty-1', name: 'Single port serial', cost: 1 }, { id: 'mtty-2', name: 'Dual port serial', cost: 2 }] })
    .mdevParent('matrix', {
      mdevDriver: 'vfio_ap_mdev',
      types: [{ id: 'vfio_ap-passthrough', name: 'VFIO AP Passthrough Device', deviceApi: 'vfio-ap', instances: 4 }],
      attrs: ['assign_adapter', 'assign_domain', 'assign_control_domain'],
    });
}
