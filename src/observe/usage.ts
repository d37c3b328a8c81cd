// What holds each device right now, as plain facts the planner's in-use guards consume
// (design.md "Safety by default"): mounted file systems and swap however reached, interfaces up
// with addresses or routes, the framebuffer console, and /dev/vfio nodes a process holds open.
// All of it is I/O through one HostEnv; a fact here only describes, the planner decides.

import { isVfioDriver, mdevKey } from '../domain/names.js';
import type { DeviceKey, Host, UsageFact } from '../domain/types.js';
import { layout, linkPath } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import type { HostEnv } from './host-env.js';
import { netUsage } from './net-usage.js';
import { commandLine, openFiles, readMounts, readSwaps } from './procfs.js';
import { storageUsage } from './storage-usage.js';
import { ownerIndex, type AddFact, type OwnerOf } from './usage-common.js';

export function gatherUsage(env: HostEnv, host: Host): Record<DeviceKey, UsageFact[]> {
  const facts = new Map<DeviceKey, UsageFact[]>();
  const add: AddFact = (key, fact) => {
    const list = facts.get(key) ?? [];
    if (!list.some((f) => f.kind === fact.kind && f.detail === fact.detail)) list.push(fact);
    facts.set(key, list);
  };
  const ownerOf = ownerIndex(env.sysfs, host);
  storageUsage(env, ownerOf, { mounts: readMounts(env.procRoot), swaps: readSwaps(env.procRoot) }, add);
  netUsage(env, ownerOf, add);
  consoleUsage(env.sysfs, ownerOf, add);
  vfioUsage(env, host, add);
  return Object.fromEntries([...facts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A framebuffer on the device that the text console (fbcon) draws on. */
function consoleUsage(sysfs: SysfsPort, ownerOf: OwnerOf, add: AddFact): void {
  const fbconBound = sysfs
    .list(layout.classDir('vtconsole'))
    .some((c) => sysfs.read(layout.classEntry('vtconsole', c, 'bind')) === '1' && /frame ?buffer/i.test(sysfs.read(layout.classEntry('vtconsole', c, 'name')) ?? ''));
  if (!fbconBound) return;
  for (const fb of sysfs.list(layout.classDir('graphics'))) {
    if (!/^fb\d+$/.test(fb)) continue;
    const entry = layout.classEntry('graphics', fb);
    const path = linkPath(entry, sysfs.readLink(entry));
    const owner = path === null ? null : ownerOf(path);
    if (owner === null) continue;
    const name = sysfs.read(layout.classEntry('graphics', fb, 'name'));
    add(owner, { kind: 'fbcon', detail: `framebuffer ${fb}${name ? ` (${name})` : ''} carries the text console (fbcon)` });
  }
}

const VFIO_NODE = /^\/dev\/vfio\/(?:(\d+)|devices\/(vfio\d+))$/;

/**
 * Processes holding a group node (/dev/vfio/N: every member of the group) or a device cdev
 * (/dev/vfio/devices/vfioX: that device). Unbinding such a device blocks until they let go
 * (kernel-abi.md section 8), uninterruptibly.
 */
function vfioUsage(env: HostEnv, host: Host, add: AddFact): void {
  const open = openFiles(env.procRoot, (t) => VFIO_NODE.test(t));
  if (open.length === 0) return;
  const cdevOwner = new Map<string, DeviceKey>();
  for (const d of host.devices) {
    if (!isVfioDriver(d.driver)) continue;
    for (const node of env.sysfs.list(layout.attr(d.bus, d.name, 'vfio-dev'))) cdevOwner.set(node, d.key);
  }
  for (const { pid, target } of open) {
    const m = VFIO_NODE.exec(target)!;
    // An mdev has a group of its own (VFIO's emulated IOMMU), keyed `mdev/<uuid>` like in the managed set.
    const mdevs = (host.mdevs?.devices ?? []).filter((d) => d.iommuGroup === m[1]).map((d) => mdevKey(d.uuid));
    const holders = m[1] !== undefined ? [...(host.groups[m[1]] ?? []), ...mdevs] : [cdevOwner.get(m[2]!)].filter((k): k is DeviceKey => k !== undefined);
    const detail = `${target} open by pid ${pid} (${commandLine(env.procRoot, pid)})`;
    for (const key of holders) add(key, { kind: 'vfio-open', detail });
  }
}
