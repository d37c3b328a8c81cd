// Apply: run a plan's steps through the sysfs port, one write per step, each read back; on the
// first failure (or an abort signal) stop, and put every touched device back as it was.

import { VrError } from '../domain/errors.js';
import type { DeviceKey, Plan, Step } from '../domain/types.js';
import type { ModulePort, SysfsPort } from '../sysfs/port.js';
import { checkSteps } from './check-steps.js';
import { ApplyError, makeIo } from './io.js';
import { lanes, type Indexed } from './lanes.js';
import { capture, rollBack, type Touched } from './restore.js';
import type { ApplyFailure, ApplyHooks, ApplyResult } from './result.js';
import { runStep, stepDevice } from './steps.js';

/** Long enough for a slow driver's remove or a firmware load; short enough that a hang is reported. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;

export interface ExecuteOptions {
  hooks?: ApplyHooks;
  /** Bound on every write and module load. */
  writeTimeoutMs?: number;
  /** On abort the step in flight finishes, then the apply rolls back. */
  signal?: AbortSignal;
}

export async function execute(
  plan: Plan,
  ports: { sysfs: SysfsPort; modules: ModulePort },
  opts: ExecuteOptions = {},
): Promise<ApplyResult> {
  refuseBlocked(plan);
  checkSteps(plan.steps);
  if (plan.steps.length === 0) return { outcome: 'noop', completed: [], modulesLoaded: [] };

  const hooks = opts.hooks ?? {};
  const io = makeIo(ports.sysfs, ports.modules, opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS);
  const total = plan.steps.length;
  const touched = new Map<DeviceKey, Touched>();
  const completed: Step[] = [];
  const modulesLoaded: string[] = [];
  const ctx = {
    io,
    touch(device: DeviceKey, how?: { bystander?: boolean }) {
      const known = touched.get(device);
      if (!known) touched.set(device, { ...capture(ports.sysfs, device), ...(how?.bystander && { bystander: true }) });
      // A step of the plan now writes to it: it is no longer a bystander.
      else if (!how?.bystander) delete known.bystander;
    },
    moduleLoaded(module: string) {
      if (!modulesLoaded.includes(module)) modulesLoaded.push(module);
    },
    expectedDriver(device: DeviceKey) {
      const check = plan.steps.find((s) => s.kind === 'verify' && s.device === device);
      return check?.kind === 'verify' ? check.driver : undefined;
    },
  };

  /** Runs one lane until it fails or the signal fires; returns the failure, if any. */
  const runLane = async (lane: Indexed[]): Promise<ApplyFailure | undefined> => {
    for (const { index, step } of lane) {
      if (opts.signal?.aborted) return interrupted(step, index, opts.signal);
      const started = performance.now();
      try {
        await hooks.onStepStart?.(step, index, total);
        await runStep(step, ctx);
        if (step.kind === 'set-override') touched.get(step.device)!.override = step.to;
        completed.push(step);
        await hooks.onStepDone?.(step, index, total, performance.now() - started);
      } catch (err) {
        const failure = toFailure(step, index, err);
        const rec = err instanceof ApplyError && err.hung && failure.device ? touched.get(failure.device) : undefined;
        if (rec) rec.hung = true;
        // An observer that fails here must not stop the rollback.
        await Promise.resolve(hooks.onStepFailed?.(step, err as Error)).catch(() => undefined);
        return failure;
      }
    }
    return undefined;
  };

  let failure: ApplyFailure | undefined;
  for (const lane of lanes(plan.steps)) {
    failure = await runLane(lane);
    if (failure) break;
  }
  if (!failure) return { outcome: 'applied', completed, modulesLoaded };

  const rollback = await rollBack([...touched.values()], io, hooks);
  const outcome = rollback.failed.length ? 'rollback-failed' : 'rolled-back';
  return { outcome, completed, failure, rollback, modulesLoaded };
}

function toFailure(step: Step, index: number, err: unknown): ApplyFailure {
  const failure: ApplyFailure = { index, step, message: (err as Error).message };
  const device = (err instanceof ApplyError ? err.device : undefined) ?? stepDevice(step);
  if (device !== undefined) failure.device = device;
  if (err instanceof ApplyError && err.errno !== undefined) failure.errno = err.errno;
  return failure;
}

function interrupted(step: Step, index: number, signal: AbortSignal): ApplyFailure {
  const why = typeof signal.reason === 'string' ? ` by ${signal.reason}` : '';
  return { index, step, message: `interrupted${why} before this step; rolling back what was done` };
}

function refuseBlocked(plan: Plan): void {
  if (plan.applyable && plan.blocked.length === 0) return;
  const items = plan.blocked.map((b) => ({
    message: `${b.device ? `${b.device}: ` : ''}${b.message} [${b.code}]`,
    ...(b.fix ? { hint: b.fix } : {}),
  }));
  const lines = items.map((d) => `  - ${d.message}${d.hint ? ` (fix: ${d.hint})` : ''}`);
  throw new VrError('safety', ['refusing to apply a blocked plan; nothing was written.', ...lines].join('\n'), items);
}

/**
 * A plan can come from a saved file: every name it carries must pass the kernel's grammar before
 * the first write, so a bad name is an input error rather than a failure halfway through.
 */
