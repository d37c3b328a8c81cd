// The planning half shared by `plan` and `apply`: state file -> hosts check -> observe -> resolve ->
// plan -> plan document. No output here; the commands decide how to show it.

import { EXIT } from '../domain/errors.js';
import { identityOf } from '../fleet/identity.js';
import { loadSource, resolveFiles, selectFiles } from '../fleet/select.js';
import type { DeviceKey, Host, Plan, StateFile, Target } from '../domain/types.js';
import { observe } from '../observe/observe.js';
import { gatherUsage } from '../observe/usage.js';
import { toPlanDocument, type PlanDocument } from '../plan/document.js';
import { plan } from '../plan/planner.js';
import { renderPlan } from '../plan/render.js';
import type { RunEnv } from './context.js';
import { planNames } from './names.js';

export type PlanRun =
  /** The file's `hosts:`, `dmi:` or `machineIds:` do not select this host: nothing to do here. */
  | { kind: 'elsewhere'; state: StateFile; hostname: string; message: string }
  /** `state` is the one file, or for a directory the files for this host merged (fleet/select.ts). */
  | { kind: 'planned'; state: StateFile; host: Host; plan: Plan; doc: PlanDocument };

export function observeHost(env: RunEnv): Host {
  if (env.snapshot) return structuredClone(env.snapshot.host);
  const host = observe(env.sysfs, {
    modules: env.modules,
    hostname: env.hostname,
    ...(env.kernelRelease !== undefined ? { kernelRelease: env.kernelRelease } : {}),
  });
  if (env.usage) host.usage = gatherUsage(env.usage, host);
  return host;
}

/**
 * `statePath`: a state file, or a directory whose files for this host are merged (fleet/select.ts).
 * `managed`: devices an earlier apply changed (the state dir's managed set), for prune and drift;
 * `applied`: what it set them to, so a changed rule reads as spec, not drift.
 * `text`: the file's contents when the caller read them already (a saved plan keeps the same text).
 */
export function planState(env: RunEnv, statePath: string, opts: { force: boolean; managed?: DeviceKey[]; applied?: Record<DeviceKey, Target>; text?: string }): PlanRun {
  const selection = selectFiles(loadSource(statePath, opts.text), identityOf(env));
  if (selection.kind === 'elsewhere') return { kind: 'elsewhere', state: selection.state, hostname: env.hostname, message: selection.message };
  const host = observeHost(env);
  const desired = resolveFiles(selection.files, host, statePath);
  const p = plan(host, desired, { force: opts.force, managed: opts.managed ?? [], applied: opts.applied ?? {} });
  return { kind: 'planned', state: desired.state, host, plan: p, doc: toPlanDocument(p, host) };
}

/** What `plan` and `apply` say (and `--json` carries) when the file is for other hosts. */
export function elsewhereNote(run: Extract<PlanRun, { kind: 'elsewhere' }>): { skipped: true; hostname: string; hosts: string[]; message: string } {
  const hosts = run.state.hosts ?? [];
  return { skipped: true, hostname: run.hostname, hosts, message: run.message };
}

/**
 * design.md "Exit codes": a blocked plan is a refusal (1); with --detailed-exitcode, pending
 * changes are 2 so scripts can tell "in sync" from "would change".
 */
export function planExitCode(doc: PlanDocument, detailed: boolean): number {
  if (doc.blocked.length > 0) return EXIT.error;
  if (detailed && (doc.changes.length > 0 || doc.steps.length > 0)) return EXIT.changesPending;
  return EXIT.ok;
}

/** The human plan, with pci.ids names when the host has the database. */
export function planText(doc: PlanDocument, env: RunEnv, color: boolean): string {
  const names = planNames(env.names);
  return renderPlan(doc, { color, ...(names ? { names } : {}) }).trimEnd();
}
