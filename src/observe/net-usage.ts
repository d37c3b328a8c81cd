// Network interfaces a device carries that are up with addresses or routes, including through the
// interfaces stacked on them (a bridge or bond it is a port of, VLANs on it): unbinding a bridge
// port takes the bridge's addresses off the network just the same.

import { layout, linkPath } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import type { HostEnv, NetState } from './host-env.js';
import { listed, type AddFact, type OwnerOf } from './usage-common.js';

const IFF_UP = 0x1;

export function netUsage(env: HostEnv, ownerOf: OwnerOf, add: AddFact): void {
  const { sysfs } = env;
  let net: NetState | Error | undefined; // read once, and only when some device has an interface
  for (const ifname of sysfs.list(layout.classDir('net'))) {
    const entry = layout.classEntry('net', ifname);
    const path = linkPath(entry, sysfs.readLink(entry));
    const owner = path === null ? null : ownerOf(path);
    if (owner === null) continue;
    if (net === undefined) {
      try {
        net = env.net();
      } catch (err) {
        net = err instanceof Error ? err : new Error(String(err));
      }
    }
    for (const iface of stacked(sysfs, ifname)) {
      if (!isUp(sysfs, iface)) continue;
      const via = iface === ifname ? `interface ${ifname}` : `interface ${ifname} (under ${iface})`;
      if (net instanceof Error) {
        // Without addresses we cannot tell an idle interface from the management one: assume the worst.
        add(owner, { kind: 'netif', detail: `${via} is up; its addresses could not be read (${net.message})` });
        continue;
      }
      const what = carried(net, iface);
      if (what) add(owner, { kind: 'netif', detail: `${via} up ${what}` });
    }
  }
}

/** The interface and, transitively, every interface stacked on it (`upper_<name>` links). */
function stacked(sysfs: SysfsPort, ifname: string): string[] {
  const out: string[] = [];
  const visit = (name: string): void => {
    if (out.includes(name) || out.length > 64) return;
    out.push(name);
    for (const e of sysfs.list(layout.classEntry('net', name))) if (e.startsWith('upper_')) visit(e.slice('upper_'.length));
  };
  visit(ifname);
  return out;
}

function isUp(sysfs: SysfsPort, ifname: string): boolean {
  const flags = Number.parseInt(sysfs.read(layout.classEntry('net', ifname, 'flags')) ?? '', 16);
  return Number.isInteger(flags) && (flags & IFF_UP) !== 0;
}

/**
 * `with 192.0.2.2/24, fd00::2/64, carrying the default route`, or null when the interface carries
 * nothing. Link-local addresses and their routes do not count: every up interface has them.
 */
function carried(net: NetState, ifname: string): string | null {
  const addrs = (net.links.find((l) => l.ifname === ifname)?.addr_info ?? [])
    .filter((a) => a.local && a.scope !== 'link' && a.scope !== 'host')
    .map((a) => (a.prefixlen === undefined ? a.local! : `${a.local}/${a.prefixlen}`));
  const routes = net.routes.filter(
    (r) => r.dev === ifname && r.type !== 'multicast' && !r.dst.startsWith('fe80:') && !r.dst.startsWith('ff'),
  );
  const parts: string[] = [];
  if (addrs.length > 0) parts.push(`with ${listed(addrs, 4)}`);
  if (routes.some((r) => r.dst === 'default')) parts.push('carrying the default route');
  // Connected routes (protocol kernel) come with the addresses already named.
  const other = routes.filter((r) => r.dst !== 'default' && r.protocol !== 'kernel');
  if (other.length > 0) parts.push(`with routes to ${listed(other.map((r) => r.dst), 4)}`);
  return parts.length > 0 ? parts.join(', ') : null;
}
