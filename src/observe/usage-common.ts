// What the usage readers (storage, net, graphics, vfio) share: finding which device a sysfs class
// entry belongs to, and how they list things in a fact.

import type { DeviceKey, Host, UsageFact } from '../domain/types.js';
import { layout, linkPath } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';

/** The deepest device whose sysfs directory holds `path`, or null. */
export type OwnerOf = (path: string) => DeviceKey | null;

export type AddFact = (key: DeviceKey, fact: UsageFact) => void;

/**
 * Class entries (`class/block/vda`) link into the device tree below the device that carries them
 * (`devices/pci0000:00/0000:00:02.0/virtio1/block/vda`). The deepest device directory on that path
 * is the owner: a bridge's directory holds everything behind it, and bridges are not the answer.
 */
export function ownerIndex(sysfs: SysfsPort, host: Host): OwnerOf {
  const byDir = new Map<string, DeviceKey>();
  for (const d of host.devices) {
    const entry = layout.device(d.bus, d.name);
    byDir.set(linkPath(entry, sysfs.readLink(entry)) ?? entry, d.key);
  }
  return (path) => {
    for (let dir = path; dir.includes('/'); dir = dir.slice(0, dir.lastIndexOf('/'))) {
      const key = byDir.get(dir);
      if (key !== undefined) return key;
    }
    return null;
  };
}

/** `/`, `/, /boot`, `/, /boot, /home and 2 more`: enough to recognise, short enough to read. */
export function listed(items: string[], max = 3): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
