// The writing half of `apply`: execute a plan with progress output, and turn Ctrl-C or a TERM into
// an orderly stop (the step in flight finishes, then everything done is rolled back).

import { execute } from '../apply/executor.js';
import type { ApplyHooks, ApplyResult } from '../apply/result.js';
import type { Plan } from '../domain/types.js';
import type { ApplyJournal } from '../state/session.js';
import type { RunEnv } from './context.js';

export interface ApplyRunOptions {
  writeTimeoutMs: number;
  /** Progress output (BaseCommand.progress): absent for a pipe or --quiet. */
  progress?: ApplyHooks;
  /** The state dir's write-ahead journal (state/session.ts); absent when the run keeps no state. */
  journal?: ApplyJournal;
  /** Stops the apply as SIGINT/SIGTERM do (`watch` stopping); a string reason is recorded as the signal. */
  signal?: AbortSignal;
}

export async function applyPlan(plan: Plan, env: RunEnv, opts: ApplyRunOptions): Promise<ApplyResult> {
  const abort = new AbortController();
  const stop = (signal: string): void => {
    if (abort.signal.aborted) return; // a second signal, or the caller's stop after the signal
    opts.journal?.signal(signal);
    abort.abort(signal);
  };
  const stopped = (): void => stop(typeof opts.signal?.reason === 'string' ? opts.signal.reason : 'abort');
  if (opts.signal?.aborted) stopped();
  opts.signal?.addEventListener('abort', stopped);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const go = (hooks?: ApplyHooks) => execute(plan, env, { writeTimeoutMs: opts.writeTimeoutMs, signal: abort.signal, ...(hooks ? { hooks } : {}) });
  try {
    return await (opts.journal ? opts.journal.run(plan, opts.progress, go) : go(opts.progress));
  } finally {
    opts.signal?.removeEventListener('abort', stopped);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
