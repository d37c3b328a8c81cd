// Which machine this is, for picking state files in a fleet repository: the hostname, the DMI
// product name and the machine-id. A state file's `hosts`, `dmi` and `machineIds` are matched
// against these; a fact the host cannot supply (no DMI on many ARM boards, no machine-id in a
// copied tree) never matches, so a file pinned to it is not applied by accident.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nameRegExp } from '../desire/match.js';
import type { HostCriteria, HostIdentity } from '../domain/types.js';
import type { SysfsPort } from '../sysfs/port.js';

/** Under the sysfs root, like every other attribute the tool reads (so a copied tree carries its own). */
export const DMI_PRODUCT_PATH = 'class/dmi/id/product_name';

/** Firmware pads DMI strings with blanks; an empty value counts as absent. */
export function readDmiProduct(sysfs: SysfsPort): string | undefined {
  const value = sysfs.read(DMI_PRODUCT_PATH)?.trim();
  return value ? value : undefined;
}

/** `<etcRoot>/machine-id` (machine-id(5)): 32 hex digits; anything else (empty in an image, unreadable) is absent. */
export function readMachineId(etcRoot: string): string | undefined {
  try {
    const id = readFileSync(join(etcRoot, 'machine-id'), 'utf8').trim().toLowerCase();
    return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Why `criteria` do not select `id`, one clause per criterion that fails; [] when they do. */
export function mismatches(criteria: HostCriteria, id: HostIdentity): string[] {
  const out: string[] = [];
  if (criteria.hosts && !criteria.hosts.some((glob) => nameRegExp(glob, 'i').test(id.hostname))) {
    out.push(`hostname ${id.hostname} is not ${orList(criteria.hosts)}`);
  }
  if (criteria.dmi) {
    const want = criteria.dmi.product;
    if (id.dmiProduct === undefined) out.push(`the host has no DMI product name to match '${want}'`);
    else if (!nameRegExp(want, 'i').test(id.dmiProduct)) out.push(`DMI product '${id.dmiProduct}' is not '${want}'`);
  }
  if (criteria.machineIds) {
    if (id.machineId === undefined) out.push('the host has no machine-id to match');
    else if (!criteria.machineIds.includes(id.machineId)) out.push(`machine-id ${id.machineId} is not listed`);
  }
  return out;
}

export function isFor(criteria: HostCriteria, id: HostIdentity): boolean {
  return mismatches(criteria, id).length === 0;
}

/** `hosts pve-* or lab1, DMI product 'R750*'`: who a file is for, as a reviewer reads it. */
export function describeCriteria(criteria: HostCriteria): string {
  const parts: string[] = [];
  if (criteria.hosts) parts.push(`hosts ${orList(criteria.hosts)}`);
  if (criteria.dmi) parts.push(`DMI product '${criteria.dmi.product}'`);
  if (criteria.machineIds) parts.push(`machine-id ${orList(criteria.machineIds)}`);
  return parts.length ? parts.join(', ') : 'every host';
}

/** `pve-1 (DMI product 'X', machine-id abc…)`: this host as the messages name it. */
export function describeIdentity(id: HostIdentity): string {
  const facts = [id.dmiProduct !== undefined ? `DMI product '${id.dmiProduct}'` : 'no DMI product', id.machineId !== undefined ? `machine-id ${id.machineId}` : 'no machine-id'];
  return `${id.hostname} (${facts.join(', ')})`;
}

const orList = (items: string[]): string => (items.length === 1 ? items[0]! : `${items.slice(0, -1).join(', ')} or ${items.at(-1)!}`);

/**
 * This host's identity from a command's run environment (cli/context.ts RunEnv): facts handed in
 * (flags, a snapshot) first, else read from the sysfs tree and, for the live host only, /etc.
 */
export function identityOf(env: { hostname: string; sysfs: SysfsPort; dmiProduct?: string; machineId?: string; hostFiles?: { etc: string } }): HostIdentity {
  const dmiProduct = env.dmiProduct ?? readDmiProduct(env.sysfs);
  const machineId = env.machineId?.trim().toLowerCase() || (env.hostFiles ? readMachineId(env.hostFiles.etc) : undefined);
  return { hostname: env.hostname, ...(dmiProduct !== undefined ? { dmiProduct } : {}), ...(machineId ? { machineId } : {}) };
}
