// Plans for executor tests, built the way the CLI builds them: observe the kernel model, resolve a
// desired state, run the real planner.

import type { Desired, Device, Plan, Step } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { plan } from '../../src/plan/planner.js';
import { desired, rule } from '../plan/factory.js';

export const ports = (k: KernelModel) => ({ sysfs: k, modules: k });

/** What a user would see of the devices: every binding-relevant fact observe reads. */
export function devices(k: KernelModel): Device[] {
  return observe(k, { modules: k, kernelRelease: k.kernel }).devices;
}

export function planFor(k: KernelModel, want: Desired): Plan {
  return plan(observe(k, { modules: k, kernelRelease: k.kernel }), want);
}

/** A plan the planner would not make (a bind step, a failing verify), for paths it cannot reach. */
export function handPlan(steps: Step[]): Plan {
  return { fingerprint: 'sha256:hand-built', changes: [], warnings: [], blocked: [], applyable: true, steps };
}

/** `[address, driver | default | none]` for each device. */
export function planTo(k: KernelModel, bindings: [string, string][]): Plan {
  return planFor(k, desired(bindings));
}

export function vfsRule(pf: string, count: number, driver: string): Desired {
  const r = rule(0, driver);
  return desired([], { vfs: [{ pf: `pci/${pf}`, count, target: r.target, rule: r }] });
}

/** The workstation's GPU with its HDMI audio (group 1) and its e1000e NIC (group 7) to vfio-pci. */
export const PASSTHROUGH: [string, string][] = [
  ['0000:01:00.0', 'vfio-pci'],
  ['0000:01:00.1', 'vfio-pci'],
  ['0000:00:1c.0', 'vfio-pci'],
];
