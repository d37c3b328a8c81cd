// MAC addresses and serial numbers: identifiers that say which physical card a device is. A
// snapshot leaves them out unless asked (`--include-ids`): snapshots end up in git and CI logs.

import type { DeviceKey, Host } from '../domain/types.js';
import { ownerIndex } from '../observe/usage-common.js';
import { linkPath } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import type { DeviceIdentifiers } from './document.js';

/** Interface and controller names come from listing sysfs; still, no path is built from a name with a slash. */
const ENTRY = /^[^/\0\n]{1,255}$/;

export function readIdentifiers(sysfs: SysfsPort, host: Host): Record<DeviceKey, DeviceIdentifiers> {
  const ownerOf = ownerIndex(sysfs, host);
  const out: Record<DeviceKey, DeviceIdentifiers> = {};
  const of = (key: DeviceKey): DeviceIdentifiers => (out[key] ??= { macs: [], serial: null });
  const owner = (cls: string, name: string): DeviceKey | null => {
    const entry = `class/${cls}/${name}`;
    const path = linkPath(entry, sysfs.readLink(entry));
    return path === null ? null : ownerOf(path);
  };
  for (const ifname of sysfs.list('class/net').filter((n) => ENTRY.test(n))) {
    const key = owner('net', ifname);
    const address = sysfs.read(`class/net/${ifname}/address`);
    if (key !== null && address) of(key).macs.push({ interface: ifname, address });
  }
  for (const ctrl of sysfs.list('class/nvme').filter((n) => ENTRY.test(n))) {
    const key = owner('nvme', ctrl);
    const serial = sysfs.read(`class/nvme/${ctrl}/serial`)?.trim();
    if (key !== null && serial) of(key).serial = serial;
  }
  return out;
}
