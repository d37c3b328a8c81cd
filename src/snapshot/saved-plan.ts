// Saved plans, as Terraform has them: `plan --out FILE` keeps the reviewed plan with everything
// apply needs to execute exactly it, and `apply FILE` refuses it once it is stale. Apply re-plans
// against the live host from the saved state-file text and requires the same host fingerprint and
// the same steps, so the in-use guards (not part of the fingerprint) are checked again at apply
// time, and a hand-edited plan can never do more than the state file asks of the host.

import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { checkSteps } from '../apply/check-steps.js';
import type { RunEnv } from '../cli/context.js';
import { elsewhereNote, observeHost, planState, type PlanRun } from '../cli/run-plan.js';
import { readStateText } from '../desire/load.js';
import { VrError, type Diagnostic } from '../domain/errors.js';
import { fingerprint } from '../domain/fingerprint.js';
import type { DeviceKey, Host, Step, Target } from '../domain/types.js';
import type { PlanDocument } from '../plan/document.js';
import { describeHost } from './capture.js';
import { appliedToText, toSnapshotDocument, type SnapshotDocument } from './document.js';
import { hostChanges } from './host-changes.js';
import { documentAt, KINDS, parseDoc, readText, validateDoc } from './json-doc.js';
import { checkedCapture } from './load.js';
import { savedPlanValidator } from './schemas.js';
import { writeOutput } from './write.js';

export const SAVED_PLAN_FORMAT_VERSION = '1.0';

export interface SavedPlanDocument {
  kind: typeof KINDS.savedPlan;
  format_version: string;
  created: string;
  tool: string;
  state: { path: string; sha256: string; text: string };
  options: { force: boolean; hostname: string; snapshot: string | null };
  /** The host as planned, as a snapshot holds it (its managed set included). */
  host: SnapshotDocument;
  plan: PlanDocument;
  steps: Step[];
}

export interface LoadedSavedPlan {
  path: string;
  doc: SavedPlanDocument;
  /** `doc.host` read back: the planned host, for telling what changed since. */
  host: Host;
}

const WHAT = 'saved plan';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export interface SaveContext {
  statePath: string;
  /** The state file's text exactly as planned. */
  text: string;
  force: boolean;
  /** The managed set the plan was made with (PlanOptions.applied; its keys are .managed). */
  applied: Record<DeviceKey, Target>;
  /** The snapshot planned against, if any. */
  snapshot: string | null;
  created: Date;
  tool: string;
}

export function savedPlanDocument(env: RunEnv, run: Extract<PlanRun, { kind: 'planned' }>, ctx: SaveContext): SavedPlanDocument {
  const meta = { created: ctx.created, tool: ctx.tool };
  return {
    kind: KINDS.savedPlan,
    format_version: SAVED_PLAN_FORMAT_VERSION,
    created: ctx.created.toISOString(),
    tool: ctx.tool,
    state: { path: ctx.statePath, sha256: sha256(ctx.text), text: ctx.text },
    options: { force: ctx.force, hostname: run.host.hostname ?? '', snapshot: ctx.snapshot },
    host: toSnapshotDocument(describeHost(env, run.host, { applied: ctx.applied, includeIds: false }), meta),
    plan: run.doc,
    steps: run.plan.steps,
  };
}

/** The state file's text for `plan --out`, read once so the saved plan holds what was planned. */
export function stateTextForSaving(path: string): string {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    // readStateText says what is wrong with the path
  }
  if (dir) {
    throw new VrError('input', `plan --out saves the plan of one state file; ${path} is a directory`, [
      { file: path, message: 'a directory of state files cannot be saved as one plan', hint: 'plan the file for this host: plan hosts/<host>.yaml --out plan.json' },
    ]);
  }
  return readStateText(path);
}

/** Write the saved plan; a blocked plan is not saved (apply would refuse it). Returns what to tell the user. */
export function savePlan(env: RunEnv, out: string, run: Extract<PlanRun, { kind: 'planned' }>, ctx: SaveContext): string {
  if (!run.plan.applyable) return `Not saved to ${out}: the plan is blocked, and apply refuses a blocked plan.`;
  writeOutput(out, `${JSON.stringify(savedPlanDocument(env, run, ctx), null, 2)}\n`, 'the plan');
  return `Saved the plan to ${out}. Apply exactly this plan with: vfio-reconcile apply ${out}`;
}

/**
 * What STATE of `plan` or `apply` is when it is not a state file: a saved plan, which apply takes;
 * or a snapshot (or a saved plan given to plan), refused with what to run instead. Null for a
 * state file or a directory, which the state loader reads.
 */
export function savedPlanAt(path: string, command: 'plan' | 'apply'): LoadedSavedPlan | null {
  const found = documentAt(path);
  if (found?.kind === KINDS.savedPlan && command === 'apply') return loadSavedPlan(path, found.text);
  if (found?.kind === KINDS.savedPlan) {
    throw new VrError('input', `${path} is a saved plan, not a state file`, [
      { file: path, message: 'plan takes a state file', hint: `vfio-reconcile apply ${path} --dry-run shows the saved plan against this host` },
    ]);
  }
  if (found?.kind === KINDS.snapshot) {
    throw new VrError('input', `${path} is a host snapshot, not a state file`, [
      { file: path, message: `${command} takes a state file`, hint: `plan against it with: vfio-reconcile ${command} STATE ${command === 'apply' ? '--simulate ' : ''}--snapshot ${path}` },
    ]);
  }
  return null;
}

/**
 * Full validation before anything else looks at it: the schema, the executor's own check of every
 * step, and the plan's internal seals (the state text's hash, the planned host's fingerprint), so
 * an edited file is refused as such rather than misreported as stale.
 */
export function loadSavedPlan(path: string, text?: string): LoadedSavedPlan {
  const raw = parseDoc(path, text ?? readText(path, WHAT), KINDS.savedPlan, WHAT);
  validateDoc(savedPlanValidator(), raw, path, WHAT);
  const doc = raw as unknown as SavedPlanDocument;
  try {
    checkSteps(doc.steps);
  } catch (err) {
    throw new VrError('input', `${path}: ${(err as Error).message}`, [{ file: path, message: 'the saved plan has steps no plan makes' }]);
  }
  const { host } = checkedCapture(doc.host, path, WHAT);
  const edited: string[] = [];
  if (sha256(doc.state.text) !== doc.state.sha256) edited.push('state.text does not match state.sha256');
  if (fingerprint(host) !== doc.plan.fingerprint) edited.push('the planned host does not match the plan fingerprint');
  if (edited.length > 0) {
    throw new VrError('input', `${path} was edited after plan wrote it; refusing it`, edited.map((message) => ({ file: path, message, hint: 'run plan --out again' })));
  }
  return { path, doc, host };
}

function stale(why: string, details: string[], hint = 'run plan --out again and review the new plan'): VrError {
  const shown = details.slice(0, 3).join('; ') + (details.length > 3 ? `; and ${details.length - 3} more` : '');
  const diagnostics: Diagnostic[] = details.map((message) => ({ message }));
  diagnostics.push({ message: why, hint });
  return new VrError('stale', `Saved plan is stale: ${why}${shown ? ` (${shown})` : ''} — run plan again`, diagnostics);
}

/**
 * The saved plan, re-planned on this host: a PlanRun whose steps are exactly the saved ones, or a
 * `stale` refusal saying what moved. A plan the in-use guards block now comes back blocked, and
 * apply refuses it like any blocked plan. `force`: --force given to apply, which must agree.
 */
export function replanSaved(
  env: RunEnv,
  saved: LoadedSavedPlan,
  opts: { managed: DeviceKey[]; applied: Record<DeviceKey, Target>; force: boolean },
): Extract<PlanRun, { kind: 'planned' }> {
  const { doc } = saved;
  if (opts.force && !doc.options.force) {
    throw new VrError('input', `${saved.path} was planned without --force; --force cannot widen a reviewed plan`, [
      { message: '--force given to apply with a saved plan', hint: 'run plan --force --out again and review that plan' },
    ]);
  }
  if (env.hostname !== doc.options.hostname) {
    throw stale(`it was made for host ${doc.options.hostname}, and this host is ${env.hostname}`, [], 'apply it on that host, or make a plan for this one');
  }
  let run: PlanRun;
  try {
    run = planState(env, doc.state.path, { force: doc.options.force, managed: opts.managed, applied: opts.applied, text: doc.state.text });
  } catch (err) {
    // The rules no longer resolve (a device gone, a count off): most likely the host moved.
    const moved = err instanceof VrError && err.kind === 'selector' ? hostChanges(saved.host, observeHost(env)) : [];
    if (moved.length > 0) throw stale('the host changed since it was made', moved);
    throw err;
  }
  if (run.kind === 'elsewhere') throw stale(`its state file is not for this host: ${elsewhereNote(run).message}`, []);
  if (run.plan.fingerprint !== doc.plan.fingerprint) throw stale('the host changed since it was made', hostChanges(saved.host, run.host));
  if (JSON.stringify(run.plan.steps) !== JSON.stringify(doc.steps) || !isDeepStrictEqual(run.doc.changes, doc.plan.changes)) {
    const managedNow = appliedToText(opts.applied);
    const show = (m: Record<DeviceKey, string>): string => Object.entries(m).map(([k, t]) => `${k} ${t}`).join(', ') || 'none';
    const details = isDeepStrictEqual(managedNow, doc.host.managed)
      ? ['the same host and state file now give different steps']
      : [`the state dir's managed devices changed: ${show(doc.host.managed)} → ${show(managedNow)}`];
    throw stale('planning again gives a different plan', details);
  }
  return run;
}
