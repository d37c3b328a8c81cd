// File systems a device carries, however they are reached: its block devices and their partitions,
// device-mapper / LVM / md / multipath devices stacked on them (followed through `holders/`), swap,
// and 9p / virtio-fs shares exported through its virtio functions (matched by mount tag).

import { realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { layout, linkName, linkPath } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import type { HostEnv } from './host-env.js';
import type { MountEntry } from './procfs.js';
import { listed, type AddFact, type OwnerOf } from './usage-common.js';

interface BlockDev {
  name: string;
  /** Canonical root-relative directory (`devices/pci0000:00/0000:00:02.0/virtio1/block/vda`). */
  path: string;
  devno: string | null;
  holders: string[];
  dmName: string | null;
}

export interface StorageFacts {
  mounts: MountEntry[];
  swaps: string[];
}

export function storageUsage(env: HostEnv, ownerOf: OwnerOf, facts: StorageFacts, add: AddFact): void {
  const blocks = readBlocks(env.sysfs);
  // Each source resolved once: hosts with many containers have thousands of mounts.
  const mounts = facts.mounts.map((m) => ({ ...m, names: deviceNames(env.devRoot, m.source) }));
  const swaps = facts.swaps.map((f) => deviceNames(env.devRoot, f));
  const named = (names: string[], b: BlockDev): boolean => names.includes(b.name) || (b.dmName !== null && names.includes(b.dmName));
  const mountPoints = (b: BlockDev): string[] =>
    unique(mounts.filter((m) => (b.devno !== null && m.devno === b.devno) || named(m.names, b)).map((m) => m.mountPoint));
  const swapped = (b: BlockDev): boolean => swaps.some((names) => named(names, b));

  for (const disk of blocks.values()) {
    if (!/\/block\/[^/]+$/.test(disk.path)) continue; // partitions are reached from their disk
    const owner = ownerOf(disk.path);
    if (owner === null) continue;
    const seen = new Set<string>();
    // Returns whether anything at or below `b` holds the disk, so a holder is reported only where
    // the chain ends unused (an LVM volume handed to a VM, an md array nothing mounts).
    const walk = (b: BlockDev, chain: string[], isHolder: boolean): boolean => {
      if (seen.has(b.name)) return false;
      seen.add(b.name);
      const where = chain.join(' → ');
      const mps = mountPoints(b);
      if (mps.length > 0) add(owner, { kind: 'mount', detail: `${where} mounted on ${listed(mps)}` });
      const swap = swapped(b);
      if (swap) add(owner, { kind: 'swap', detail: `${where} in use as swap` });
      let below = false;
      for (const part of blocks.values()) {
        if (part.path === `${b.path}/${part.name}`) below = walk(part, [...chain, part.name], false) || below;
      }
      for (const h of b.holders) {
        const holder = blocks.get(h);
        if (holder) below = walk(holder, [...chain, label(holder)], true) || below;
      }
      if (isHolder && mps.length === 0 && !swap && !below) {
        add(owner, { kind: 'holder', detail: `${where} is active (nothing mounted from it, but a VM or service may be using it)` });
        return true;
      }
      return mps.length > 0 || swap || below;
    };
    walk(disk, [`/dev/${disk.name}`], false);
  }
  sharesUsage(env.sysfs, ownerOf, facts.mounts, add);
}

function readBlocks(sysfs: SysfsPort): Map<string, BlockDev> {
  const out = new Map<string, BlockDev>();
  for (const name of sysfs.list(layout.classDir('block'))) {
    const entry = layout.classEntry('block', name);
    const path = linkPath(entry, sysfs.readLink(entry)) ?? entry;
    out.set(name, {
      name,
      path,
      devno: sysfs.read(layout.classEntry('block', name, 'dev')),
      holders: sysfs.list(layout.classEntry('block', name, 'holders')),
      dmName: sysfs.read(layout.classEntry('block', name, 'dm/name')),
    });
  }
  return out;
}

function label(b: BlockDev): string {
  return b.dmName !== null ? `${b.name} (${b.dmName})` : b.name;
}

/**
 * The kernel names a `/dev/...` path in mountinfo or swaps may stand for: its own base name and,
 * through devtmpfs links (`/dev/mapper/vg-root` -> `../dm-0`), the node it points at.
 */
function deviceNames(devRoot: string, source: string): string[] {
  if (!source.startsWith('/dev/')) return [];
  const names = [basename(source)];
  try {
    names.push(basename(realpathSync(join(devRoot, source.slice('/dev/'.length)))));
  } catch {
    // not there (a fake /dev, a node that went away): the base name is all there is
  }
  return names;
}

/** 9p and virtio-fs shares of the device's virtio functions, matched to mounts by tag. */
function sharesUsage(sysfs: SysfsPort, ownerOf: OwnerOf, mounts: MountEntry[], add: AddFact): void {
  const fsTags = new Map<string, string>(); // virtio device path -> virtio-fs tag (Linux 6.10+)
  for (const inst of sysfs.list(layout.virtiofsDir)) {
    const dev = linkPath(layout.virtiofsAttr(inst, 'device'), sysfs.readLink(layout.virtiofsAttr(inst, 'device')));
    const tag = sysfs.read(layout.virtiofsAttr(inst, 'tag'));
    if (dev !== null && tag !== null) fsTags.set(dev, tag);
  }
  for (const v of sysfs.list(layout.virtioDevices)) {
    const entry = `${layout.virtioDevices}/${v}`;
    const path = linkPath(entry, sysfs.readLink(entry));
    const owner = path === null ? null : ownerOf(path);
    if (owner === null) continue;
    // 9p prints its tag NUL-terminated, without a newline.
    const ninep = sysfs.read(layout.virtioAttr(v, 'mount_tag'))?.replace(/\0+$/, '');
    if (ninep) {
      const mps = unique(mounts.filter((m) => m.fstype === '9p' && m.source === ninep).map((m) => m.mountPoint));
      if (mps.length > 0) add(owner, { kind: 'mount', detail: `9p share "${ninep}" (${v}) mounted on ${listed(mps)}` });
    }
    if (linkName(sysfs.readLink(layout.virtioAttr(v, 'driver'))) !== 'virtiofs') continue;
    const tag = fsTags.get(path!);
    const shares = mounts.filter((m) => m.fstype === 'virtiofs' && (tag === undefined || m.source === tag));
    const mps = unique(shares.map((m) => m.mountPoint));
    if (mps.length === 0) continue;
    add(owner, {
      kind: 'mount',
      // Before 6.10 the kernel does not say which device a tag belongs to: any virtio-fs mount may be this one's.
      detail: tag !== undefined
        ? `virtio-fs share "${tag}" (${v}) mounted on ${listed(mps)}`
        : `virtio-fs device ${v}, and this kernel does not show its tag; virtio-fs shares are mounted on ${listed(mps)}`,
    });
  }
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
