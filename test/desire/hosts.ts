// Plain-data hosts for selector tests: only the fields matching and resolving read.

import type { Device, Host } from '../../src/domain/types.js';
import { VrError } from '../../src/domain/errors.js';

export function pci(name: string, o: Partial<Device> = {}): Device {
  return { key: `pci/${name}`, bus: 'pci', name, vendor: '8086', device: '1234', class: '020000', driver: null, override: null, iommuGroup: null, isBridge: false, ...o };
}

export function platform(name: string, compatible: string[], o: Partial<Device> = {}): Device {
  return { key: `platform/${name}`, bus: 'platform', name, compatible, driver: null, override: null, iommuGroup: null, isBridge: false, ...o };
}

export function host(devices: Device[], hostname = 'pve-1'): Host {
  return {
    hostname,
    devices: [...devices].sort((a, b) => (a.key < b.key ? -1 : 1)),
    drivers: { pci: [], platform: [] },
    groups: {},
    modules: { known: false, available: [], loaded: [] },
  };
}

/** A PF and its existing VFs, linked both ways (physfn, virtfns) as observe links them. */
export function sriov(pfName: string, totalVfs: number, vfNames: string[], o: Partial<Device> = {}): Device[] {
  const pf = pci(pfName, { sriov: { totalVfs, numVfs: vfNames.length, driversAutoprobe: true }, virtfns: vfNames.map((n) => `pci/${n}`), ...o });
  return [pf, ...vfNames.map((n) => pci(n, { physfn: pf.key, device: '154c' }))];
}

/** Run `fn`, which must throw a VrError; return it for inspection. */
export function vrError(fn: () => unknown): VrError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VrError) return e;
    throw e;
  }
  throw new Error('expected a VrError, nothing was thrown');
}
