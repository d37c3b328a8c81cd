// How the model's state looks in sysfs: directory paths, attribute file contents (exactly as the
// kernel prints them, trailing newline included) and relative symlink targets. The model's read
// side and writeSysfsTree both render from here, so an in-memory read and a read of the
// materialised tree cannot disagree.

import type { Bus } from '../domain/types.js';
import type { KDevice, KDriver, KernelState } from './state.js';

export interface NodeView {
  /** Root-relative directory of the node. */
  path: string;
  /** Attribute name -> file content. Write-only attributes are present with content null. */
  files: Map<string, string | null>;
  /** Entry name -> relative symlink target. */
  links: Map<string, string>;
}

const up = (path: string): string => '../'.repeat(path.split('/').length);

export function devicePath(s: KernelState, dev: KDevice): string {
  if (dev.bus === 'platform') return `devices/platform/${dev.name}`;
  return `${pciParentDir(s, dev, 0)}/${dev.name}`;
}

function pciParentDir(s: KernelState, dev: KDevice, depth: number): string {
  // VFs sit beside their PF; others nest under their upstream bridge when it is known.
  const pf = dev.physfn ? s.device('pci', dev.physfn.pf) : undefined;
  if (pf && depth < 32) return pciParentDir(s, pf, depth + 1);
  const parent = dev.parent === null ? undefined : s.device('pci', dev.parent);
  if (parent && depth < 32) return `${pciParentDir(s, parent, depth + 1)}/${parent.name}`;
  return `devices/pci${dev.name.slice(0, 4)}:00`;
}

/** Devicetree node of a platform device: `12ce0000.i2c` is `/i2c@12ce0000`. */
export function ofNodePath(dev: KDevice): string {
  const m = /^([0-9a-f]+)\.(.+)$/.exec(dev.name);
  return `firmware/devicetree/base/${m ? `${m[2]}@${m[1]}` : dev.name}`;
}

/** NUL-terminated strings, as the devicetree `compatible` property reads. */
export function compatibleFile(compatible: string[]): string {
  return compatible.map((c) => `${c}\0`).join('');
}

const hex = (value: string, width: number): string => `0x${value.padStart(width, '0')}\n`;
const upperHex8 = (value: string | undefined): string => (value ?? '0').toUpperCase().padStart(8, '0');

export function pciModalias(dev: KDevice): string {
  const cls = (dev.class ?? '000000').toUpperCase();
  return (
    `pci:v${upperHex8(dev.vendor)}d${upperHex8(dev.device)}sv${upperHex8(dev.subsystemVendor)}` +
    `sd${upperHex8(dev.subsystemDevice)}bc${cls.slice(0, 2)}sc${cls.slice(2, 4)}i${cls.slice(4, 6)}`
  );
}

function platformModalias(dev: KDevice): string {
  if (!dev.compatible?.length) return `platform:${dev.name}`;
  const node = ofNodePath(dev).split('/').pop()!.replace(/@.*$/, '');
  return `of:N${node}T(null)${dev.compatible.map((c) => `C${c}`).join('')}`;
}

export function renderDevice(s: KernelState, dev: KDevice): NodeView {
  const path = devicePath(s, dev);
  const back = up(path);
  const files = new Map<string, string | null>();
  const links = new Map<string, string>();
  if (dev.bus === 'pci') {
    if (dev.vendor !== undefined) files.set('vendor', hex(dev.vendor, 4));
    if (dev.device !== undefined) files.set('device', hex(dev.device, 4));
    if (dev.subsystemVendor !== undefined) files.set('subsystem_vendor', hex(dev.subsystemVendor, 4));
    if (dev.subsystemDevice !== undefined) files.set('subsystem_device', hex(dev.subsystemDevice, 4));
    if (dev.class !== undefined) files.set('class', hex(dev.class, 6));
    if (dev.revision !== undefined) files.set('revision', hex(dev.revision, 2));
    files.set('modalias', `${dev.modalias ?? pciModalias(dev)}\n`);
    files.set('numa_node', `${dev.numa}\n`);
    if (dev.class?.startsWith('0300')) files.set('boot_vga', dev.bootVga ? '1\n' : '0\n');
    if (dev.sriov) {
      files.set('sriov_totalvfs', `${dev.sriov.totalVfs}\n`);
      files.set('sriov_numvfs', `${dev.sriov.numVfs}\n`);
      files.set('sriov_drivers_autoprobe', dev.sriov.autoprobe ? '1\n' : '0\n');
      files.set('sriov_offset', `${dev.sriov.offset}\n`);
      files.set('sriov_stride', `${dev.sriov.stride}\n`);
      files.set('sriov_vf_device', `${dev.sriov.vfDevice}\n`);
      dev.virtfns.forEach((vf, i) => links.set(`virtfn${i}`, `../${vf}`));
    }
    if (dev.physfn) links.set('physfn', `../${dev.physfn.pf}`);
    files.set('remove', null);
  } else {
    files.set('modalias', `${dev.modalias ?? platformModalias(dev)}\n`);
    if (dev.compatible?.length) links.set('of_node', `${back}${ofNodePath(dev)}`);
  }
  files.set('driver_override', `${dev.override ?? '(null)'}\n`);
  if (dev.driver !== null) links.set('driver', `${back}bus/${dev.bus}/drivers/${dev.driver}`);
  if (dev.group !== null) links.set('iommu_group', `${back}kernel/iommu_groups/${dev.group}`);
  links.set('subsystem', `${back}bus/${dev.bus}`);
  return { path, files, links };
}

export function renderDriver(s: KernelState, drv: KDriver): NodeView {
  const path = `bus/${drv.bus}/drivers/${drv.name}`;
  const back = up(path);
  const files = new Map<string, string | null>([
    ['bind', null],
    ['unbind', null],
    ['uevent', null],
  ]);
  const links = new Map<string, string>();
  if (drv.module !== '') links.set('module', `${back}module/${drv.module}`);
  for (const dev of s.devices.values()) {
    if (dev.bus === drv.bus && dev.driver === drv.name) links.set(dev.name, `${back}${devicePath(s, dev)}`);
  }
  return { path, files, links };
}

/** Bus-level attributes (`bus/<bus>/drivers_probe`, `drivers_autoprobe`). */
export function busFiles(s: KernelState, bus: Bus): Map<string, string | null> {
  return new Map<string, string | null>([
    ['drivers_autoprobe', s.autoprobe[bus] ? '1\n' : '0\n'],
    ['drivers_probe', null],
  ]);
}

export function groupNumbers(s: KernelState): string[] {
  const groups = new Set<string>();
  for (const dev of s.devices.values()) if (dev.group !== null) groups.add(dev.group);
  for (const m of s.mdevs.values()) groups.add(m.group);
  return [...groups].sort(byNumber);
}

export function byNumber(a: string, b: string): number {
  return Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
}
