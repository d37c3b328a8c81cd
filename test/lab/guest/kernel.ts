// What the guest kernel shows, read straight from its /sys and /dev, plus the raw writes that put
// the lab's devices back to how they booted between scenarios. This runs inside the lab guest
// only: assertInsideLab() refuses anywhere else, because these writes would hit a real host.

import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

export function assertInsideLab(): void {
  const cmdline = existsSync('/proc/cmdline') ? readFileSync('/proc/cmdline', 'utf8') : '';
  if (process.env.VRLAB !== '1' || !cmdline.includes('vrlab_job=')) {
    console.error('lab guest runner: refusing to run outside the QEMU lab guest (it writes to /sys)');
    process.exit(2);
  }
}

/** Guest addresses of the lab layout (see qemu.ts). */
export const LAB = {
  rootShare: '0000:00:01.0',
  nic0: '0000:00:03.0',
  bridge: '0000:00:04.0',
  leg1: '0000:01:01.0',
  leg2: '0000:01:02.0',
  nvme0: '0000:02:00.0',
  nvmeVfs: ['0000:02:00.1', '0000:02:00.2'],
  hot0: '0000:03:00.0',
  pcspkr: 'pcspkr',
} as const;

export interface DeviceFacts {
  present: boolean;
  driver: string | null;
  /** null when unset, whether the kernel prints `(null)` or an empty line. */
  override: string | null;
  group: string | null;
  /** Whether /dev/vfio/<group> exists. */
  vfioNode: boolean;
}

const busOf = (name: string): string => (/^[0-9a-f]{4}:/.test(name) ? 'pci' : 'platform');
const devDir = (name: string): string => `/sys/bus/${busOf(name)}/devices/${name}`;

function link(path: string): string | null {
  try {
    return basename(readlinkSync(path));
  } catch {
    return null;
  }
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').replace(/\n$/, '');
  } catch {
    return null;
  }
}

export function device(name: string): DeviceFacts {
  const dir = devDir(name);
  if (!existsSync(dir)) return { present: false, driver: null, override: null, group: null, vfioNode: false };
  const override = read(`${dir}/driver_override`);
  const group = link(`${dir}/iommu_group`);
  return {
    present: true,
    driver: link(`${dir}/driver`),
    override: override === '(null)' || override === '' ? null : override,
    group,
    vfioNode: group !== null && existsSync(`/dev/vfio/${group}`),
  };
}

/** Every PCI device plus the platform devices the scenarios use. */
export function snapshot(): Record<string, DeviceFacts> {
  const names = [...readdirSync('/sys/bus/pci/devices').sort(), LAB.pcspkr];
  return Object.fromEntries(names.map((n) => [n, device(n)]));
}

export const moduleLoaded = (name: string): boolean => existsSync(`/sys/module/${name}`);

/** The driver each lab device booted with. */
const NATIVE: Record<string, string> = {
  [LAB.nic0]: 'e1000e',
  [LAB.leg1]: 'e1000',
  [LAB.leg2]: 'e1000',
  [LAB.nvme0]: 'nvme',
  [LAB.hot0]: 'e1000e',
  [LAB.pcspkr]: 'pcspkr',
};

function write(path: string, value: string): void {
  try {
    writeFileSync(path, value, { flag: 'w' });
  } catch (e) {
    throw new Error(`reset: write ${JSON.stringify(value)} to ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** Puts every lab device back on its boot driver with no override, and destroys the NVMe VFs. */
export function resetToBoot(): void {
  const numvfs = `${devDir(LAB.nvme0)}/sriov_numvfs`;
  if (existsSync(numvfs) && read(numvfs) !== '0') write(numvfs, '0');
  for (const [name, native] of Object.entries(NATIVE)) {
    const facts = device(name);
    if (!facts.present) continue;
    const dir = devDir(name);
    if (facts.override !== null) write(`${dir}/driver_override`, '\n');
    if (facts.driver !== null && facts.driver !== native) write(`${dir}/driver/unbind`, name);
    if (device(name).driver === null) write(`/sys/bus/${busOf(name)}/drivers_probe`, name);
    const after = device(name);
    if (after.driver !== native || after.override !== null) throw new Error(`reset: ${name} is on ${after.driver} (override ${after.override}), not ${native}`);
  }
}
