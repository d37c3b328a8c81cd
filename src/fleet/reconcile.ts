// One reconcile pass of `watch`: exactly what `apply STATE` does (the state dir's lock, plan against
// the managed set, the journaled apply), or with `reportOnly` what `plan STATE` does. Each pass takes
// and releases the lock, so a manual apply or rollback can run between passes.

import type { ApplyResult } from '../apply/result.js';
import type { RunEnv } from '../cli/context.js';
import { applyPlan } from '../cli/run-apply.js';
import { planState, type PlanRun } from '../cli/run-plan.js';
import { openApplyState, peekManaged, planInputs, type Say } from '../state/session.js';

export interface PassOptions {
  /** A state file or a fleet directory. */
  statePath: string;
  /** `--state-dir` as given. */
  stateDir: string | undefined;
  force: boolean;
  /** Plan only: no lock, no writes. */
  reportOnly: boolean;
  lockTimeoutMs: number;
  writeTimeoutMs: number;
  /** For the lock and the journal: the command line and `vfio-reconcile <version>`. */
  command: string;
  tool: string;
  say: Say;
}

export interface PassResult {
  run: PlanRun;
  /** Present when the pass executed a plan (it had steps). */
  result?: ApplyResult;
}

/** `signal` stops an apply in flight: the step running finishes, then everything done is rolled back. */
export async function reconcileOnce(env: RunEnv, opts: PassOptions, signal: AbortSignal): Promise<PassResult> {
  if (opts.reportOnly) {
    const run = planState(env, opts.statePath, { force: opts.force, ...planInputs(peekManaged(env, opts.stateDir, opts.say)) });
    return { run };
  }
  const state = await openApplyState(env, { dir: opts.stateDir, lockTimeoutMs: opts.lockTimeoutMs, command: opts.command, tool: opts.tool, say: opts.say });
  try {
    const inputs = state ?? planInputs({});
    const run = planState(env, opts.statePath, { force: opts.force, managed: inputs.managed, applied: inputs.applied });
    // A blocked plan goes to the executor too: it refuses with the message that lists the blockers.
    if (run.kind !== 'planned' || (run.plan.steps.length === 0 && run.plan.applyable)) return { run };
    const result = await applyPlan(run.plan, env, {
      writeTimeoutMs: opts.writeTimeoutMs,
      signal,
      ...(state ? { journal: state.journal } : {}),
    });
    return { run, result };
  } finally {
    state?.release();
  }
}
