// Lab scenarios for SR-IOV splits, resizes and rollback on the emulated NVMe PF, and for mediated
// devices on the kernel's mtty sample (built by mdev-module.ts for kernels where that works). Like
// the others they drive the real CLI and return what the kernel shows; sriov-mdev.checks.ts holds
// the expectations. Each cleans up what it made beyond what runner.ts resets (VFs, overrides).

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { basename, join } from 'node:path';
import { cli, stateFile, stateYaml, WORK } from './cli.js';
import { device, LAB } from './kernel.js';
import type { Facts, Scenario } from './scenarios.js';

const PF_DIR = `/sys/bus/pci/devices/${LAB.nvme0}`;
const read = (path: string): string | null => (existsSync(path) ? readFileSync(path, 'utf8').trim() : null);

/** What a scenario needs to know of the PF: its VF count and autoprobe, and each VF slot. */
function pfFacts(): Facts {
  return {
    pf: device(LAB.nvme0),
    numvfs: read(`${PF_DIR}/sriov_numvfs`),
    autoprobe: read(`${PF_DIR}/sriov_drivers_autoprobe`),
    vfs: LAB.nvmeVfs.map(device),
  };
}

/** The NVMe PF's rule with a `vfs:` block, plus further rules. */
function nvmeState(name: string, vfs: string, more: { match: Record<string, string>; driver: string }[] = []): string {
  return stateFile(name, stateYaml([{ match: { address: LAB.nvme0 }, driver: 'nvme', extra: `vfs: ${vfs}` }, ...more]));
}

function restoreAutoprobe(): void {
  if (read(`${PF_DIR}/sriov_drivers_autoprobe`) === '0') writeFileSync(`${PF_DIR}/sriov_drivers_autoprobe`, '1');
}

const MTTY_A = '6a1f1c2e-4b7d-4f3a-9c1e-0d2b3a4c5d01';
const MTTY_B = '6a1f1c2e-4b7d-4f3a-9c1e-0d2b3a4c5d02';
const MTTY_C = '6a1f1c2e-4b7d-4f3a-9c1e-0d2b3a4c5d03';

function mdevState(name: string, entries: { uuid: string; type: string; attrs?: string }[]): string {
  const lines = ['version: 1', 'mdevs:'];
  for (const e of entries) {
    lines.push('  - parent: { name: mtty }', `    type: ${e.type}`, `    uuid: ${e.uuid}`);
    if (e.attrs) lines.push(`    attrs: ${e.attrs}`);
  }
  if (entries.length === 0) lines[1] = 'mdevs: []';
  return stateFile(name, lines.join('\n') + '\n');
}

/** Each mdev as sysfs shows it: type (mdev_type link), parent (the directory above), group and node. */
function mdevFacts(): Facts {
  const dir = '/sys/bus/mdev/devices';
  const mdevs = existsSync(dir)
    ? readdirSync(dir).map((uuid) => {
        const group = existsSync(`${dir}/${uuid}/iommu_group`) ? basename(readlinkSync(`${dir}/${uuid}/iommu_group`)) : null;
        return {
          uuid,
          type: basename(readlinkSync(`${dir}/${uuid}/mdev_type`)),
          parent: basename(join(readlinkSync(`${dir}/${uuid}`), '..')),
          vfioNode: group !== null && existsSync(`/dev/vfio/${group}`),
        };
      })
    : [];
  const types = '/sys/class/mdev_bus/mtty/mdev_supported_types';
  const available = existsSync(types) ? Object.fromEntries(readdirSync(types).map((t) => [t, read(`${types}/${t}/available_instances`)])) : {};
  return { mdevs: mdevs.sort((a, b) => (a.uuid < b.uuid ? -1 : 1)), available };
}

export const SRIOV_MDEV_SCENARIOS: Record<string, Scenario> = {
  // One PF's VFs split by index: VF 0 to vfio-pci, VF 1 left to the kernel (nvme, once autoprobe
  // is back on); then the count goes 2 -> 1 through 0, the VFs unbound before they are destroyed.
  sriovSplit: () => {
    const dir = `${WORK}/state-sriov-split`;
    try {
      const split = nvmeState('sriov-split', '{ count: 2 }', [{ match: { pf: LAB.nvme0, vf: '0' }, driver: 'vfio-pci' }]);
      const plan = cli(['plan', split, '--json']);
      const apply = cli(['apply', split, '--state-dir', dir]);
      const afterSplit = pfFacts();
      const again = cli(['plan', split, '--detailed-exitcode']);
      const shrink = nvmeState('sriov-shrink', '{ count: 1, driver: vfio-pci }');
      const shrinkPlan = cli(['plan', shrink, '--json']);
      const resize = cli(['apply', shrink, '--state-dir', dir]);
      return { plan: { ...plan, stdout: '' }, planDoc: JSON.parse(plan.stdout || 'null'), apply, afterSplit, again, shrinkDoc: JSON.parse(shrinkPlan.stdout || 'null'), resize, afterResize: pfFacts() };
    } finally {
      restoreAutoprobe();
    }
  },

  // A real failure after set-numvfs: the VFs' driver (e1000) refuses NVMe VFs in its probe
  // ("Unknown MAC Type"), so the apply fails on the first VF and must put sriov_numvfs back to 0.
  sriovRollback: () => {
    try {
      const before = pfFacts();
      const state = nvmeState('sriov-rollback', '{ count: 2, driver: e1000 }');
      const apply = cli(['apply', state, '--state-dir', `${WORK}/state-sriov-rollback`]);
      return { before, apply, after: pfFacts() };
    } finally {
      restoreAutoprobe();
    }
  },

  // Mediated devices on mtty: create two, apply again (no-op), prune one, fail on an attribute the
  // driver does not have (the new mdev is removed again), then remove the rest.
  mdevMtty: () => {
    const ko = join(process.cwd(), '.lab-cache/mdev', release(), 'mtty.ko');
    if (!existsSync(ko)) return { unavailable: `no ${ko}: mtty was not built for ${release()}` };
    const modprobe = spawnSync('modprobe', ['-a', 'vfio', 'mdev'], { encoding: 'utf8' });
    const insmod = spawnSync('insmod', [ko], { encoding: 'utf8' });
    if (insmod.status !== 0) return { unavailable: `insmod mtty.ko: ${(insmod.stderr || modprobe.stderr).trim()}` };
    const dir = `${WORK}/state-mdev`;
    try {
      const before = mdevFacts();
      const two = mdevState('mdev-two', [
        { uuid: MTTY_A, type: 'mtty-2' },
        { uuid: MTTY_B, type: 'mtty-1' },
      ]);
      const plan = cli(['plan', two, '--json']);
      const create = cli(['apply', two, '--state-dir', dir]);
      const afterCreate = mdevFacts();
      const again = cli(['apply', two, '--state-dir', dir]);
      const planAgain = cli(['plan', two, '--detailed-exitcode', '--state-dir', dir]);
      const prune = cli(['apply', mdevState('mdev-one', [{ uuid: MTTY_A, type: 'mtty-2' }]), '--state-dir', dir]);
      const afterPrune = mdevFacts();
      const failing = mdevState('mdev-failing', [
        { uuid: MTTY_A, type: 'mtty-2' },
        { uuid: MTTY_C, type: 'mtty-1', attrs: '[ { no_such_attribute: "1" } ]' },
      ]);
      const failed = cli(['apply', failing, '--state-dir', dir]);
      const afterFailed = mdevFacts();
      const clear = cli(['apply', mdevState('mdev-none', []), '--state-dir', dir]);
      return { before, planDoc: JSON.parse(plan.stdout || 'null'), create, afterCreate, again, planAgain, prune, afterPrune, failed, afterFailed, clear, afterClear: mdevFacts() };
    } finally {
      for (const uuid of readdirSync('/sys/bus/mdev/devices')) writeFileSync(`/sys/bus/mdev/devices/${uuid}/remove`, '1');
      spawnSync('rmmod', ['mtty']);
    }
  },
};
