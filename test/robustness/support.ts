// Shared checks for the robustness suites: what a host looks like to a user (observe), whether two
// such views are the same host, planning a state text against a model, and a byte-exact snapshot
// of a sysfs directory tree (files, symlinks, modes) to prove a command wrote nothing.

import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import { moduleNameOf } from '../../src/domain/names.js';
import type { Host, Plan } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { plan } from '../../src/plan/planner.js';

export const ports = (k: KernelModel) => ({ sysfs: k, modules: k });

export function hostOf(k: KernelModel): Host {
  return observe(k, { modules: k, kernelRelease: k.kernel });
}

export function planState(k: KernelModel, stateText: string): Plan {
  const host = hostOf(k);
  return plan(host, resolve(loadStateFile('state.yaml', stateText), host));
}

/**
 * The host as it must look after a failed apply, compared with before: everything observe sees,
 * except that modules the apply loaded stay loaded by design (and so do the drivers they register).
 */
export function comparable(host: Host, modulesLoaded: string[]): Host {
  const keep = (drivers: string[]) => drivers.filter((d) => !modulesLoaded.includes(moduleNameOf(d)));
  // A VF destroyed and recreated by a rollback (a PF's count going through 0 and back) is the same
  // VF at the same address, but the kernel gives it a fresh IOMMU group number, as it would any new
  // device: VF groups are compared by who is in them, not by number.
  const vfGroup = new Map<string, string>();
  for (const d of host.devices) {
    if (d.physfn !== undefined && d.iommuGroup !== null) vfGroup.set(d.iommuGroup, `group of ${host.groups[d.iommuGroup]!.join(' ')}`);
  }
  const group = (g: string | null) => (g === null ? null : (vfGroup.get(g) ?? g));
  return {
    ...host,
    devices: host.devices.map((d) => ({ ...d, iommuGroup: group(d.iommuGroup) })),
    groups: Object.fromEntries(Object.entries(host.groups).map(([g, members]) => [group(g)!, members]).sort(([a], [b]) => (a! < b! ? -1 : 1))),
    drivers: { pci: keep(host.drivers.pci), platform: keep(host.drivers.platform) },
    modules: { ...host.modules, loaded: host.modules.loaded.filter((m) => !modulesLoaded.includes(m)) },
  };
}

/** `host` without `keys`: for comparing the rest of a host when those devices are accounted for. */
export function without(host: Host, keys: string[]): Host {
  const groups = Object.entries(host.groups)
    .map(([g, members]) => [g, members.filter((m) => !keys.includes(m))] as const)
    .filter(([, members]) => members.length > 0);
  return { ...host, devices: host.devices.filter((d) => !keys.includes(d.key)), groups: Object.fromEntries(groups) };
}

export type TreeSnapshot = Map<string, string>;

/** Every entry under `dir` with its kind, mode and content (or link target), by relative path. */
export function snapshotTree(dir: string): TreeSnapshot {
  const out: TreeSnapshot = new Map();
  const walk = (rel: string): void => {
    const abs = rel ? join(dir, rel) : dir;
    const st = lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(abs)}`);
    else if (st.isFile()) out.set(rel, `file ${mode} ${readFileSync(abs).toString('base64')}`);
    else if (st.isDirectory()) {
      out.set(rel, `dir ${mode}`);
      for (const name of readdirSync(abs).sort()) walk(rel ? `${rel}/${name}` : name);
    } else out.set(rel, `other ${mode}`);
  };
  walk('');
  return out;
}

/** Paths whose entry differs between two snapshots (added, removed or changed). */
export function treeChanges(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}
