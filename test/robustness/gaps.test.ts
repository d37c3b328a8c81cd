// Minimal reproductions of what the property tests found, one test per gap, each written as what
// the user would notice. They fail until the planner (or executor) handles the case; the property
// tests skip exactly these cases (see the predicates in properties.test.ts) so they keep searching
// for anything else.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execute } from '../../src/apply/executor.js';
import { applyError } from '../../src/apply/result.js';
import { KernelModel } from '../../src/kernel/model.js';
import { applyWithFault } from './inject.js';
import { comparable, hostOf, planState, ports } from './support.js';

const PF = '0000:3b:00.0';
const VF = '0000:3b:00.1';

/** An X710 port on i40e with one VF on iavf; vfio-pci is loaded. */
function sriovHost(pfOverride: string | null = null): KernelModel {
  return new KernelModel({ kernel: '6.12' })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'iavf', { ids: [['8086', '154c']] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci' })
    .pci(PF, { vendor: '8086', device: '1572', class: '020000', group: '31', driver: 'i40e', override: pfOverride, sriov: { totalVfs: 4, vfDevice: '154c' } })
    .pci(VF, { vendor: '8086', device: '154c', class: '020000', group: '32', driver: 'iavf', physfn: PF });
}

const s = suite('gaps found by the property tests');

s('a plan that moves a PF to vfio-pci does not also plan steps for the VFs that move destroys', async () => {
  const k = sriovHost();
  // The VF count already matches, so the planner binds the existing VF; but unbinding i40e from
  // the PF destroys that VF first, and the apply fails on a device that is gone.
  const plan = planState(k, `version: 1\ndevices:\n  - match: { address: "${PF}" }\n    driver: vfio-pci\n    vfs: { count: 1, driver: vfio-pci }\n`);
  if (!plan.applyable) return; // refusing such a plan up front is a fine answer too
  const result = await execute(plan, ports(k));
  assert.is(result.outcome, 'applied', `a fault-free apply failed: ${result.failure?.message}`);
});

s('a plan that rebinds a PF whose VF count already matches says the VFs are destroyed', async () => {
  // A stale override naming the PF's own driver: `vfs:` without `driver:` leaves the PF to the
  // kernel's choice, so the planner clears the override by unbinding and re-probing the PF.
  const k = sriovHost('i40e');
  const plan = planState(k, `version: 1\ndevices:\n  - match: { address: "${PF}" }\n    vfs: { count: 1 }\n`);
  const result = await execute(plan, ports(k));
  assert.is(result.outcome, 'applied');
  const warned = plan.warnings.some((w) => w.device === `pci/${PF}` && /VF/.test(w.message));
  assert.ok(
    k.dev(PF).virtfns.length === 1 || warned,
    `"Apply complete", but ${PF} has ${k.dev(PF).virtfns.length} VFs where the rule asks for 1, and the plan did not say the apply destroys them`,
  );
});

s('a PF rule asking for driver none and VFs is refused before anything is written', async () => {
  // A PF with no driver has no VFs: the apply unbinds the PF (destroying its VF), reports success,
  // and the next plan is blocked with "has no driver, and only a PF driver creates VFs".
  const k = sriovHost();
  let plan;
  try {
    plan = planState(k, `version: 1\ndevices:\n  - match: { address: "${PF}" }\n    driver: none\n    vfs: { count: 1 }\n`);
  } catch {
    return; // refused as a contradiction in the state file: fine
  }
  assert.not.ok(plan.applyable && plan.steps.length > 0, `the plan unbinds the PF: ${JSON.stringify(plan.steps.map((st) => st.kind))}`);
});

s('a PF that changes driver refuses now the VFs its next apply could never bind', () => {
  // Deferring the VFs to the next apply is fine; deferring a certain refusal is not: the first apply
  // would move the PF, report success, and the next plan would be blocked.
  const noGroup = new KernelModel({ kernel: '6.12' })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'pci-stub', { module: 'pci_stub' })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci' })
    .pci(PF, { vendor: '8086', device: '1572', class: '020000', group: null, driver: 'i40e', sriov: { totalVfs: 4, vfDevice: '154c' } });
  const vfio = planState(noGroup, `version: 1\ndevices:\n  - match: { address: "${PF}" }\n    driver: pci-stub\n    vfs: { count: 1, driver: vfio-pci }\n`);
  assert.equal(vfio.blocked.map((b) => b.code), ['no-iommu-group']);
  const variant = planState(noGroup, `version: 1\ndevices:\n  - match: { address: "${PF}" }\n    driver: pci-stub\n    vfs: { count: 1, driver: vfio }\n`);
  assert.equal(variant.blocked.map((b) => b.code), ['no-iommu-group'], 'driver: vfio picks a VFIO driver too');
  const unknown = planState(sriovHost(), `version: 1\ndevices:\n  - match: { address: "${PF}" }\n    driver: vfio-pci\n    vfs: { count: 2, driver: no-such-driver }\n`);
  assert.ok(unknown.blocked.some((b) => b.code === 'unknown-driver' && /no-such-driver/.test(b.message)), JSON.stringify(unknown.blocked));
});

s('a VF that vanished before its step and came back with its PF is not reported as left behind', async () => {
  // A saved plan (or one like the first test's) that writes to a VF after the PF's VFs were
  // removed: the VF step fails, the rollback recreates the VF on iavf as it was. Exit 4 would send
  // the user to fix by hand a host that is already whole.
  const k = sriovHost();
  const plan = { fingerprint: 'sha256:saved', changes: [], warnings: [], blocked: [], applyable: true, steps: [
    { kind: 'set-numvfs' as const, device: `pci/${PF}`, from: 1, to: 0, group: '31' },
    { kind: 'set-override' as const, device: `pci/${VF}`, from: null, to: 'vfio-pci', group: '32' },
  ] };
  const result = await execute(plan, ports(k));
  assert.equal([k.dev(VF).driver, k.dev(VF).override], ['iavf', null], 'the VF is back as it was');
  assert.is(result.outcome, 'rolled-back', `reported: ${JSON.stringify(result.rollback?.failed)}`);
});

/** A GPU for a VM, and a NIC someone left unbound with driver_override=vfio-pci (driverctl). */
function staleOverrideHost(): KernelModel {
  return new KernelModel({ kernel: '6.12' })
    .driver('pci', 'nouveau', { ids: [['10de', '2204']] })
    .driver('pci', 'e1000e', { ids: [['8086', '10d3']] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', group: '1', driver: 'nouveau' })
    .pci('0000:02:00.0', { vendor: '8086', device: '10d3', class: '020000', group: '2', override: 'vfio-pci' });
}
const GPU_STATE = 'version: 1\ndevices:\n  - match: { address: "01:00.0" }\n    driver: vfio-pci\n';

s('a plan whose module load binds a device no rule names says so', () => {
  // Loading vfio_pci attaches it to every unbound device whose override names vfio-pci.
  const plan = planState(staleOverrideHost(), GPU_STATE);
  assert.ok(
    plan.warnings.some((w) => w.device === 'pci/0000:02:00.0' || /0000:02:00\.0/.test(w.message)),
    `the plan loads vfio_pci without saying that this binds 0000:02:00.0: ${JSON.stringify(plan.warnings)}`,
  );
});

s('"Rolled back: the host is as it was before" holds when the failed apply had loaded a module', async () => {
  const k = staleOverrideHost();
  const before = hostOf(k);
  const plan = planState(k, GPU_STATE);
  const probe = plan.steps.findIndex((st) => st.kind === 'probe');
  const result = await applyWithFault(k, plan, { index: probe, fault: 'EIO' });
  assert.is(result.outcome, 'rolled-back');
  assert.match(applyError(result)!.message, 'the host is as it was before');
  const nic = (h: ReturnType<typeof hostOf>) => comparable(h, result.modulesLoaded).devices.find((d) => d.name === '0000:02:00.0');
  assert.equal(nic(hostOf(k)), nic(before), 'the NIC no rule names was left bound to vfio-pci');
});

s.run();
