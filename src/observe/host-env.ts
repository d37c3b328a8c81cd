// Where the in-use guards read the host outside /sys, as mdevctl's Environment does it: one sysfs
// port plus a proc root and a dev root, defaulting to the live host, so a test hands in temp trees
// and never sees the real machine. Interface addresses and routes come from `ip -j` on the live
// host only; anywhere else they are handed in as the same JSON.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SysfsPort } from '../sysfs/port.js';

/** One interface as `ip -j addr` prints it (the fields the guards read). */
export interface IpLink {
  ifname: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

/** One route as `ip -j route` prints it. */
export interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  type?: string;
  /** `kernel` for the connected route of an address. */
  protocol?: string;
}

export interface NetState {
  links: IpLink[];
  routes: IpRoute[];
}

/** Reads addresses and routes now; throws when it cannot (the guards then assume the worst). */
export type NetSource = () => NetState;

export interface HostEnv {
  sysfs: SysfsPort;
  /** procfs: mountinfo, swaps, and every process's open files. */
  procRoot: string;
  /** devtmpfs: resolves `/dev/mapper/...` and other links named in mountinfo and swaps. */
  devRoot: string;
  net: NetSource;
}

export function liveHostEnv(sysfs: SysfsPort): HostEnv {
  return { sysfs, procRoot: '/proc', devRoot: '/dev', net: ipNetState };
}

function ipJson<T>(args: string[]): T[] {
  const out = execFileSync('ip', ['-j', ...args], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  const parsed: unknown = JSON.parse(out.trim() || '[]');
  if (!Array.isArray(parsed)) throw new Error(`ip -j ${args.join(' ')} did not print a JSON array`);
  return parsed as T[];
}

/** The live host's addresses and main-table routes, both families. */
export function ipNetState(): NetState {
  return {
    links: ipJson<IpLink>(['addr', 'show']),
    routes: [...ipJson<IpRoute>(['-4', 'route', 'show']), ...ipJson<IpRoute>(['-6', 'route', 'show'])],
  };
}

/** A saved `{ links, routes }` (the output of `ip -j addr` and `ip -j route`), for tests and snapshots. */
export function netStateFile(path: string): NetSource {
  return () => JSON.parse(readFileSync(path, 'utf8')) as NetState;
}
