// Synthetic sysfs trees for the benchmark, shaped like a NIC-heavy server: a host bridge, 16 root
// ports each holding an SR-IOV PF (Intel X710, i40e) whose VFs (iavf) fill most of the tree, and a
// mix of endpoints (NVMe, GPU + HDMI audio sharing a group, NICs, USB) behind more root ports. Built
// with the kernel model and writeSysfsTree, plus what lspci and driverctl read that the model does
// not render (`config`, `resource`, `irq`). Trees are cached under .bench-cache/, keyed by size and
// a hash of the code that shapes them.
//
// `node dist/bench/generate.js 4096` prints the tree's directory and its state file.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelModel } from '../src/kernel/model.js';
import { isBridgeClass, type KDevice } from '../src/kernel/state.js';
import { writeSysfsTree } from '../src/kernel/tree.js';
import { devicePath } from '../src/kernel/view.js';
import { MARKER } from './peers.js';

export const SIZES = [256, 1024, 4096, 16384] as const;

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = join(REPO, '.bench-cache');
/** Bump when the shape changes in a way the source hash below cannot see. */
const GENERATOR_VERSION = 1;

const PFS = 16;
const VF_DEVICE = '154c';

/** One rule that sends every VF to vfio-pci: the plan rebinds almost the whole tree. */
export const STATE_YAML = `version: 1
devices:
  - name: every-vf
    match: { vendor: "8086", device: "${VF_DEVICE}" }
    driver: vfio-pci
`;

export interface Tree {
  size: number;
  /** The sysfs root (`--sysfs-root`, or what gets bind-mounted over /sys). */
  dir: string;
  state: string;
}

const h2 = (n: number): string => n.toString(16).padStart(2, '0');

/** PCI address of routing ID `rid` (bus << 8 | devfn) in domain 0000. */
function address(rid: number): string {
  return `0000:${h2(rid >> 8)}:${h2((rid & 0xff) >> 3)}.${rid & 7}`;
}

const ENDPOINTS = [
  { vendor: '144d', device: 'a80a', class: '010802', driver: 'nvme' },
  { vendor: '10de', device: '2204', class: '030000', driver: 'nouveau' },
  { vendor: '10de', device: '1aef', class: '040300', driver: 'snd_hda_intel' },
  { vendor: '8086', device: '1521', class: '020000', driver: 'igb' },
  { vendor: '1b21', device: '2142', class: '0c0330', driver: 'xhci_hcd' },
] as const;

/** How a tree of `size` PCI functions divides up: a host bridge, then these. */
export function treeShape(size: number): { pfs: number; vfs: number; endpoints: number; endpointPorts: number } {
  const endpoints = Math.max(8, size >> 4);
  const endpointPorts = Math.ceil(endpoints / 64);
  // Each PF has a root port of its own.
  const vfs = size - 1 - 2 * PFS - endpointPorts - endpoints;
  if (vfs < PFS) throw new Error(`a bench tree needs at least ${size - vfs + PFS} devices, got ${size}`);
  return { pfs: PFS, vfs, endpoints, endpointPorts };
}

/** The ids every PCI function shows (the kernel prints subsystem ids and revision for all of them). */
function fn(vendor: string, device: string, cls: string, subsystemDevice = '0000') {
  return { vendor, device, class: cls, revision: '02', subsystemVendor: subsystemDevice === '0000' ? '0000' : vendor, subsystemDevice };
}

/** The kernel model of a host with `size` PCI functions. */
export function benchModel(size: number): KernelModel {
  const { vfs, endpoints, endpointPorts } = treeShape(size);

  const k = new KernelModel({ kernel: '6.12', modulesKnown: false })
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'iavf', { ids: [['8086', VF_DEVICE]] })
    .driver('pci', 'nvme', { ids: [{ class: '0108' }] })
    .driver('pci', 'nouveau', { ids: [['10de', '2204']] })
    .driver('pci', 'snd_hda_intel', { ids: [{ class: '0403' }] })
    .driver('pci', 'igb', { ids: [['8086', '1521']] })
    .driver('pci', 'xhci_hcd', { builtin: true, ids: [{ class: '0c0330' }] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci(address(0), fn('8086', '09a2', '060000'));

  // Root ports are functions of bus 0 from 00:01.0 on; each opens the next free bus range.
  let port = 8;
  let bus = 1;
  for (let i = 0; i < PFS; i++) {
    const rp = address(port++);
    k.pci(rp, { ...fn('8086', '347a', '060400'), driver: 'pcieport' });
    const count = Math.floor(vfs / PFS) + (i < vfs % PFS ? 1 : 0);
    const pf = address(bus << 8);
    k.pci(pf, { ...fn('8086', '1572', '020000', '0006'), driver: 'i40e', parent: rp, numa: i & 1, sriov: { totalVfs: count, vfDevice: VF_DEVICE } });
    // VF n sits at the PF's routing ID + 1 + n (sriov_offset 1, sriov_stride 1), as the kernel places it.
    for (let n = 0; n < count; n++) k.pci(address((bus << 8) + 1 + n), { ...fn('8086', VF_DEVICE, '020000', '0000'), driver: 'iavf', physfn: pf });
    bus += Math.ceil((count + 1) / 256);
  }
  for (let p = 0; p < endpointPorts; p++) {
    const rp = address(port++);
    k.pci(rp, { ...fn('8086', '347b', '060400'), driver: 'pcieport' });
    let group: string | undefined;
    for (let f = 0; f < 64 && p * 64 + f < endpoints; f++) {
      const e = ENDPOINTS[(p * 64 + f) % ENDPOINTS.length]!;
      const name = address((bus << 8) + f);
      // A GPU's audio function shares its IOMMU group, as on real cards without ACS between them.
      const shared = e.driver === 'snd_hda_intel' && group !== undefined ? { group } : {};
      k.pci(name, { ...fn(e.vendor, e.device, e.class, '1234'), driver: e.driver, parent: rp, ...shared });
      group = k.dev(name).group ?? undefined;
    }
    bus += 1;
  }
  return k;
}

/** A 64-byte type 0 (endpoint) or type 1 (bridge) configuration header, as lspci reads first. */
function configHeader(dev: KDevice, multiFunction: boolean): Buffer {
  const b = Buffer.alloc(64);
  const bridge = isBridgeClass(dev.class);
  // VFs read 0xffff ids from hardware; sysfs `vendor`/`device` carry the real ones, as here.
  b.writeUInt16LE(parseInt(dev.vendor ?? 'ffff', 16), 0);
  b.writeUInt16LE(parseInt(dev.device ?? 'ffff', 16), 2);
  b.writeUInt16LE(0x0406, 4); // memory space + bus master + INTx disabled
  b.writeUInt16LE(0x0010, 6); // capabilities list
  b.writeUInt8(parseInt(dev.revision ?? '01', 16), 8);
  b.writeUIntBE(parseInt(dev.class ?? '000000', 16), 9, 3);
  b.writeUInt8((bridge ? 1 : 0) | (multiFunction ? 0x80 : 0), 0x0e);
  if (!bridge) {
    b.writeUInt16LE(parseInt(dev.subsystemVendor ?? dev.vendor ?? '0000', 16), 0x2c);
    b.writeUInt16LE(parseInt(dev.subsystemDevice ?? '0000', 16), 0x2e);
  }
  return b;
}

// The kernel prints 13 lines (6 BARs, ROM, 6 bridge windows / IOV BARs) of `start end flags`.
const RESOURCE = '0x0000000000000000 0x0000000000000000 0x0000000000000000\n'.repeat(13);

/** Materialise `model` under `dir`, with the attributes lspci needs beside the model's own. */
export function writeBenchTree(model: KernelModel, dir: string): void {
  writeSysfsTree(model, dir);
  const s = model.state;
  const functionsOf = new Map<string, number>();
  for (const dev of s.devices.values()) functionsOf.set(dev.name.slice(0, 10), (functionsOf.get(dev.name.slice(0, 10)) ?? 0) + 1);
  for (const dev of s.devices.values()) {
    if (dev.bus !== 'pci') continue;
    const at = join(dir, devicePath(s, dev));
    writeFileSync(join(at, 'config'), configHeader(dev, (functionsOf.get(dev.name.slice(0, 10)) ?? 0) > 1 && !dev.physfn));
    writeFileSync(join(at, 'resource'), RESOURCE);
    writeFileSync(join(at, 'irq'), dev.physfn ? '0\n' : '16\n');
  }
  writeFileSync(join(dir, MARKER), 'a vfio-reconcile benchmark tree, not a live /sys\n');
}

function sourceHash(): string {
  const h = createHash('sha256').update(String(GENERATOR_VERSION));
  const kernel = readdirSync(join(REPO, 'src/kernel')).filter((f) => f.endsWith('.ts')).sort().map((f) => `src/kernel/${f}`);
  for (const f of ['bench/generate.ts', ...kernel]) h.update(readFileSync(join(REPO, f)));
  return h.digest('hex').slice(0, 12);
}

/** The cached tree of `size` devices, generated first when missing or stale. */
export function benchTree(size: number, log: (line: string) => void = () => undefined): Tree {
  const base = join(CACHE, `tree-${size}-${sourceHash()}`);
  const tree = { size, dir: join(base, 'sys'), state: join(base, 'state.yaml') };
  if (existsSync(join(base, 'complete'))) return tree;
  log(`generating a ${size}-device sysfs tree in ${base}`);
  const started = Date.now();
  // Build beside the final place and rename, so an interrupted run never leaves a half tree behind.
  const tmp = `${base}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeBenchTree(benchModel(size), join(tmp, 'sys'));
  writeFileSync(join(tmp, 'state.yaml'), STATE_YAML);
  writeFileSync(join(tmp, 'complete'), `${new Date().toISOString()}\n`);
  rmSync(base, { recursive: true, force: true });
  renameSync(tmp, base);
  // Trees of this size from older generator code only take space (a 16384-device one is ~1 GB).
  for (const old of readdirSync(CACHE)) {
    if (old.startsWith(`tree-${size}-`) && join(CACHE, old) !== base) rmSync(join(CACHE, old), { recursive: true, force: true });
  }
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return tree;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = process.argv.slice(2).map(Number);
  for (const size of sizes.length ? sizes : SIZES) {
    const t = benchTree(size, (l) => console.error(l));
    console.log(`${size}\t${t.dir}\t${t.state}`);
  }
}
