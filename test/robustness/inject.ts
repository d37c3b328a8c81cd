// Ways to make one step of an apply fail, as the kernel (or the world) would, and an apply that
// arms one of them at a chosen step. Shared by the fault matrix and the property-based tests.

import { execute } from '../../src/apply/executor.js';
import type { ApplyResult } from '../../src/apply/result.js';
import { splitKey } from '../../src/domain/names.js';
import type { Plan, Step } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import type { ModulePort } from '../../src/sysfs/port.js';

/** Every errno kernel-abi.md lists for the attributes the tool writes. */
export const ERRNOS = ['ENODEV', 'EBUSY', 'EINVAL', 'EIO', 'EEXIST', 'ENOENT', 'EACCES', 'EAGAIN', 'ERANGE'] as const;
const STRERROR: Record<string, string> = {
  ENODEV: 'No such device', EBUSY: 'Device or resource busy', EINVAL: 'Invalid argument', EIO: 'Input/output error',
  EEXIST: 'File exists', ENOENT: 'No such file or directory', EACCES: 'Permission denied',
  EAGAIN: 'Resource temporarily unavailable', ERANGE: 'Numerical result out of range',
};

/** The write timeout under test: short, so a hang costs the suite little. */
export const HANG_MS = 20;

/**
 * How a step is made to fail: a kernel errno on its write (a modprobe error for a module load), a
 * write or modprobe that never returns, a probe that binds nothing while drivers_probe succeeds,
 * or another tool changing the device just before it is verified.
 */
export type Fault = (typeof ERRNOS)[number] | 'hang' | 'silent-probe' | 'moved-before-verify';

export function faultsFor(step: Step): Fault[] {
  switch (step.kind) {
    case 'verify':
      return ['moved-before-verify'];
    case 'probe':
      return [...ERRNOS, 'hang', 'silent-probe'];
    default:
      return [...ERRNOS, 'hang'];
  }
}

/** What a step is about, as a user looks for it in a message: the device, module or mdev. */
export function stepSubject(step: Step): string {
  if (step.kind === 'load-module') return step.module;
  if ('uuid' in step) return step.uuid;
  return splitKey(step.device).name;
}

/**
 * Arms `fault` for `step`, about to run (called from onStepStart). An errno or hang is injected
 * on whatever write comes while `during()` holds, so it meets the step's own write and nothing
 * else: a step that fails before writing leaves nothing armed for the rollback.
 */
async function arm(k: KernelModel, step: Step, fault: Fault, plan: Plan, during: () => boolean): Promise<void> {
  if (step.kind === 'load-module') {
    if (fault !== 'hang') k.failModule(step.module, `modprobe: ERROR: could not insert '${step.module}': ${STRERROR[fault]}`);
    return;
  }
  if (fault !== 'silent-probe' && fault !== 'moved-before-verify') {
    k.inject({ path: { test: during } as unknown as RegExp, errno: fault });
    return;
  }
  if (!('device' in step)) return;
  const { bus, name } = splitKey(step.device);
  if (!k.has(name)) return; // gone already: the step fails by itself
  if (fault === 'silent-probe') {
    // drivers_probe succeeds, but the probe of the driver the plan expects fails: nothing binds.
    const verify = plan.steps.find((s) => s.kind === 'verify' && s.device === step.device) as Extract<Step, { kind: 'verify' }> | undefined;
    const driver = verify?.driver ?? k.dev(name).override;
    if (driver) k.failProbe(driver, name, 'ENXIO');
  } else {
    // Something else (udev, another tool) unbinds the device, or rewrites its override, between
    // the apply's last write to it and the check.
    const driver = k.dev(name).driver;
    if (driver !== null) await k.write(`bus/${bus}/drivers/${driver}/unbind`, name);
    else await k.write(`bus/${bus}/devices/${name}/driver_override`, 'someone-else');
  }
}

export interface FaultAt {
  index: number;
  fault: Fault;
}

/** Executes `plan` on `k`, with `at.fault` hitting step `at.index` (no fault when null). */
export function applyWithFault(k: KernelModel, plan: Plan, at: FaultAt | null): Promise<ApplyResult> {
  const step = at === null ? undefined : plan.steps[at.index];
  // A modprobe that never returns (the model's own loads always do).
  const modules: ModulePort =
    step?.kind === 'load-module' && at!.fault === 'hang'
      ? { available: () => k.available(), load: (m) => (m === step.module ? new Promise<void>(() => undefined) : k.load(m)) }
      : k;
  let running = false;
  const ours = (i: number) => at !== null && i === at.index;
  return execute(plan, { sysfs: k, modules }, {
    writeTimeoutMs: HANG_MS,
    hooks: {
      onStepStart: async (s, i) => {
        if (!ours(i)) return;
        await arm(k, s, at!.fault, plan, () => running);
        running = true;
      },
      onStepDone: () => {
        running = false;
      },
      onStepFailed: () => {
        running = false;
      },
    },
  });
}
