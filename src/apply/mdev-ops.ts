// The mdev writes apply and rollback share (kernel-abi.md section 7), each read back: a create must
// leave /sys/bus/mdev/devices/<uuid> with the wanted type, a remove must leave nothing there. An
// mdev is removed, never unbound: mdev's match() fails every bind, so unbind/bind would strand it.

import { mdevKey } from '../domain/names.js';
import type { SysfsPort } from '../sysfs/port.js';
import { layout, linkName } from '../sysfs/layout.js';
import { ApplyError, type Io } from './io.js';

/** Where an mdev is now: its parent's name and its type, or null when it does not exist. */
export function mdevPlacement(sysfs: SysfsPort, uuid: string): { parent: string; type: string } | null {
  if (!sysfs.list(layout.mdevDevices).includes(uuid)) return null;
  const parts = (sysfs.readLink(layout.mdevDevice(uuid)) ?? '').split('/').filter(Boolean);
  const type = linkName(sysfs.readLink(layout.mdevAttr(uuid, 'mdev_type')));
  return { parent: parts.length >= 2 ? parts[parts.length - 2]! : '?', type: type ?? '?' };
}

const place = (p: { parent: string; type: string }) => `${p.type} on ${p.parent}`;

export async function createMdev(io: Io, uuid: string, parent: string, type: string): Promise<void> {
  const key = mdevKey(uuid);
  const available = io.sysfs.read(layout.mdevTypeAttr(parent, type, 'available_instances'));
  await io.write(layout.mdevTypeAttr(parent, type, 'create'), uuid, { op: 'mdev-create', uuid, parent, type, available }, key);
  const now = mdevPlacement(io.sysfs, uuid);
  if (now === null || now.parent !== parent || now.type !== type) {
    throw new ApplyError(
      now === null ? `the kernel accepted mdev ${uuid}, but /sys/bus/mdev/devices/${uuid} does not exist` : `mdev ${uuid} was created as ${place(now)}, not ${type} on ${parent}`,
      { device: key },
    );
  }
}

export async function removeMdev(io: Io, uuid: string): Promise<void> {
  const key = mdevKey(uuid);
  await io.write(layout.mdevAttr(uuid, 'remove'), '1', { op: 'mdev-remove', uuid }, key);
  if (mdevPlacement(io.sysfs, uuid) !== null) throw new ApplyError(`mdev ${uuid} still exists after the kernel accepted its removal`, { device: key });
}

/** A vendor attribute, as mdevctl writes them: the attribute must exist on the mdev. */
export async function setMdevAttr(io: Io, uuid: string, attr: string, value: string): Promise<void> {
  const key = mdevKey(uuid);
  if (!io.sysfs.list(layout.mdevDevice(uuid)).includes(attr)) {
    throw new ApplyError(`mdev ${uuid} has no attribute ${attr} (its parent driver does not offer it)`, { device: key });
  }
  await io.write(layout.mdevUserAttr(uuid, attr), value, { op: 'mdev-attr', uuid, attr }, key);
}

/**
 * Puts an mdev back where it was before the apply: removes one the apply created or moved, and
 * creates one it removed again with the same uuid, parent and type (its attributes are not known,
 * so they are not rewritten). Returns whether anything was written.
 */
export async function restoreMdev(io: Io, uuid: string, pre: { parent: string; type: string } | null): Promise<boolean> {
  const now = mdevPlacement(io.sysfs, uuid);
  const same = now === null ? pre === null : pre !== null && now.parent === pre.parent && now.type === pre.type;
  if (same) return false;
  if (now !== null) await removeMdev(io, uuid);
  if (pre !== null) await createMdev(io, uuid, pre.parent, pre.type);
  return true;
}
