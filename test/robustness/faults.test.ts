// Fault injection over the kernel model: for every step of a realistic multi-group plan and every
// way the kernel can refuse it, a failed apply leaves the host exactly as it found it (modules it
// loaded stay loaded, by design), ends as "rolled back" (exit 3), and tells the user in words which
// device and which step failed. A write that never returns is the one exception the design makes:
// that device's state is unknown, so it is reported (exit 4) and every other device is restored.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execute } from '../../src/apply/executor.js';
import { applyError, describeStep, type ApplyResult } from '../../src/apply/result.js';
import type { Host, Plan, Step } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { applyWithFault, faultsFor, HANG_MS, stepSubject, type Fault } from './inject.js';
import { labHost, LAB_STATE } from './lab.js';
import { comparable, hostOf, planState, without } from './support.js';

const labPlan = (k: KernelModel): Plan => planState(k, LAB_STATE);

/** The same plan with `bind <driver>` where the planner wrote `probe` (the executor supports both). */
function bindPlan(k: KernelModel): Plan {
  const p = labPlan(k);
  const target = (device: string) => p.steps.find((s): s is Extract<Step, { kind: 'verify' }> => s.kind === 'verify' && s.device === device)!.driver!;
  return { ...p, steps: p.steps.map((s) => (s.kind === 'probe' ? { kind: 'bind', device: s.device, driver: target(s.device), group: s.group } : s)) };
}

interface Run {
  k: KernelModel;
  plan: Plan;
  before: Host;
  result: ApplyResult;
}

async function breakStep(makePlan: (k: KernelModel) => Plan, index: number, fault: Fault): Promise<Run> {
  const k = labHost();
  const plan = makePlan(k);
  const before = hostOf(k);
  const result = await applyWithFault(k, plan, { index, fault });
  return { k, plan, before, result };
}

/** `except`: devices a hung write left in an unknown state, which the rollback reported instead. */
function assertRestored({ k, before, result }: Run, label: string, except: string[] = []): void {
  const after = without(comparable(hostOf(k), result.modulesLoaded), except);
  const want = without(comparable(before, result.modulesLoaded), except);
  const what = except.length ? `devices other than ${except.join(', ')}` : 'host';
  assert.equal(after, want, `${label}: ${what} after the failed apply differs from before`);
}

function assertExplained(run: Run, index: number, fault: Fault, label: string): void {
  const { result, plan } = run;
  const step = plan.steps[index]!;
  assert.ok(result.failure, `${label}: no failure reported`);
  assert.is(result.failure!.index, index, `${label}: failure reported at the wrong step`);
  const message = result.failure!.message;
  // The explanation stands without its errno: a sentence, not a bare code.
  const words = message.replace(/\s*\(E[A-Z]+\)\s*$/, '');
  assert.ok(words.split(/\s+/).length >= 4, `${label}: "${message}" is not an explanation`);
  if (fault === 'EACCES' && step.kind !== 'load-module') assert.match(message, /root/, `${label}: EACCES should say to run as root`);
  if (fault === 'hang' && step.kind !== 'verify') assert.match(message, `did not return within ${HANG_MS} ms`, label);
  const err = applyError(result);
  assert.ok(err, `${label}: a failed apply gives no error`);
  assert.match(err!.message, `apply failed at step ${index + 1} (${describeStep(step)}): ${message}`, label);
  assert.match(err!.message, stepSubject(step), `${label}: the error does not name ${stepSubject(step)}`);
}

async function checkEveryFault(makePlan: (k: KernelModel) => Plan, only?: Step['kind']): Promise<number> {
  const steps = makePlan(labHost()).steps;
  let cases = 0;
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index]!;
    if (only !== undefined && step.kind !== only) continue;
    for (const fault of faultsFor(step)) {
      const label = `step ${index + 1} (${describeStep(step)}) meets ${fault}`;
      const run = await breakStep(makePlan, index, fault);
      assertExplained(run, index, fault, label);
      const hung = run.result.rollback?.failed.find((f) => /never returned/.test(f.message));
      if (fault === 'hang' && 'device' in step) {
        assert.is(run.result.outcome, 'rollback-failed', `${label}: a hung write leaves its device unknown`);
        assert.is(applyError(run.result)!.exitCode, 4, label);
        assert.is(hung?.device, step.device, `${label}: the hung device is not the one reported`);
        // Left behind: the hung device, and for a PF the VFs its stuck VF-count write took along.
        const vfs = run.before.devices.filter((d) => d.physfn === step.device).map((d) => d.key);
        const left = run.result.rollback!.failed.map((f) => f.device);
        assert.ok(left.every((d) => d === step.device || vfs.includes(d)), `${label}: left behind ${left.join(', ')}`);
        assertRestored(run, label, left);
      } else {
        assert.is(run.result.outcome, 'rolled-back', `${label}: ${JSON.stringify(run.result.rollback?.failed)}`);
        assert.is(applyError(run.result)!.exitCode, 3, label);
        assertRestored(run, label);
      }
      cases++;
    }
  }
  return cases;
}

const s = suite('fault injection: every step, every errno');

s('the lab plan has every step kind the planner emits, and applies cleanly without faults', async () => {
  const k = labHost();
  const plan = labPlan(k);
  const kinds = new Set(plan.steps.map((st) => st.kind));
  for (const kind of ['load-module', 'set-numvfs', 'set-override', 'unbind', 'probe', 'verify'] as const) {
    assert.ok(kinds.has(kind), `lab plan has no ${kind} step`);
  }
  assert.ok(plan.applyable, JSON.stringify(plan.blocked));
  const result = await execute(plan, { sysfs: k, modules: k });
  assert.is(result.outcome, 'applied', result.failure?.message);
  assert.equal(labPlan(k).steps, [], 'replanning after the apply is not empty');
});

s('a fault at any step of the lab plan leaves the host as it was', async () => {
  const cases = await checkEveryFault(labPlan);
  assert.ok(cases > 200, `only ${cases} cases ran`);
});

s('a plan that binds instead of probing: every bind fault is rolled back too', async () => {
  const k = labHost();
  const ok = await execute(bindPlan(k), { sysfs: k, modules: k });
  assert.is(ok.outcome, 'applied', ok.failure?.message);
  const cases = await checkEveryFault(bindPlan, 'bind');
  assert.ok(cases >= 50, `only ${cases} bind cases ran`);
});

s('a refused VF count change brings the PF back to its old VF, bound as before', async () => {
  const steps = labPlan(labHost()).steps;
  const second = steps.findIndex((st) => st.kind === 'set-numvfs' && st.to !== 0);
  const run = await breakStep(labPlan, second, 'EIO');
  assert.is(run.result.outcome, 'rolled-back');
  assert.equal(run.k.dev('0000:5e:00.0').virtfns, ['0000:5e:00.1']);
  assert.is(run.k.dev('0000:5e:00.1').driver, 'iavf');
});

s('modules loaded before a failure stay loaded, and the user is told so', async () => {
  const steps = labPlan(labHost()).steps;
  const run = await breakStep(labPlan, steps.findIndex((st) => st.kind === 'probe'), 'EIO');
  assert.equal(run.result.modulesLoaded, ['vfio_pci', 'vfio_platform']);
  assert.equal(run.k.loadedModules().filter((m) => m.startsWith('vfio')), ['vfio_pci', 'vfio_platform']);
  assert.match(applyError(run.result)!.message, 'Modules loaded by this apply stay loaded: vfio_pci, vfio_platform.');
});

s.run();
