// The loop as the CLI runs it, on the kernel model: observe -> load + resolve a state file -> plan
// -> execute. Shared by the SR-IOV, variant-driver and mdev tests.

import { execute, type ExecuteOptions } from '../../src/apply/executor.js';
import type { ApplyResult } from '../../src/apply/result.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import type { Host, Plan, PlanOptions } from '../../src/domain/types.js';
import { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { toPlanDocument, type PlanDocument } from '../../src/plan/document.js';
import { plan } from '../../src/plan/planner.js';
import { renderPlan } from '../../src/plan/render.js';

export interface Planned {
  host: Host;
  plan: Plan;
  doc: PlanDocument;
  text: string;
}

export function observed(k: KernelModel): Host {
  return observe(k, { modules: k, kernelRelease: k.kernel });
}

/** `tweak` edits the observed host before planning (what another host would have shown). */
export function planYaml(k: KernelModel, yaml: string, opts: PlanOptions = {}, tweak?: (h: Host) => void): Planned {
  const host = observed(k);
  tweak?.(host);
  const p = plan(host, resolve(loadStateFile('state.yaml', yaml), host), opts);
  const doc = toPlanDocument(p, host);
  return { host, plan: p, doc, text: renderPlan(doc, { color: false }) };
}

export function applyPlan(k: KernelModel, p: Plan, opts: ExecuteOptions = {}): Promise<ApplyResult> {
  return execute(p, { sysfs: k, modules: k }, opts);
}

/** Plans and applies; then planning again must find nothing to do. */
export async function converge(k: KernelModel, yaml: string): Promise<{ first: Planned; result: ApplyResult; again: Planned }> {
  const first = planYaml(k, yaml);
  const result = await applyPlan(k, first.plan);
  return { first, result, again: planYaml(k, yaml) };
}

/** Steps as the human plan numbers them, without the numbers. */
export function stepTexts(p: Planned): string[] {
  return p.text
    .split('\n')
    .filter((l) => /^\s+\d+\. /.test(l))
    .map((l) => l.replace(/^\s+\d+\. /, ''));
}

/** What a VM host cares about for each device: driver, override, and a PF's VF count and autoprobe. */
export function bindings(k: KernelModel): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of observed(k).devices) {
    out[d.name] = { driver: d.driver, override: d.override, ...(d.sriov ? { numVfs: d.sriov.numVfs, autoprobe: d.sriov.driversAutoprobe } : {}) };
  }
  return out;
}

/**
 * An NVMe controller like the lab's emulated one: SR-IOV PF on nvme (whose ID table takes its VFs
 * too), VFs at offset 1 stride 1; vfio-pci loadable, not loaded.
 */
export function nvmeHost(opts: { totalVfs?: number; numVfs?: number; offset?: number; autoprobe?: boolean } = {}): KernelModel {
  return new KernelModel()
    .driver('pci', 'nvme', { ids: [{ class: '0108' }], sriov: true })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci('0000:02:00.0', {
      vendor: '1b36',
      device: '0010',
      class: '010802',
      group: '9',
      driver: 'nvme',
      sriov: { totalVfs: opts.totalVfs ?? 4, numVfs: opts.numVfs ?? 0, offset: opts.offset ?? 1, stride: 1, autoprobe: opts.autoprobe ?? true },
    });
}

export const PF = '0000:02:00.0';
