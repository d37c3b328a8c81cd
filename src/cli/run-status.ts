// `status`: observe, and with a state file resolve it so each device can name the rule behind it.

import { identityOf } from '../fleet/identity.js';
import { loadSource, resolveFiles, selectFiles } from '../fleet/select.js';
import type { Bus } from '../domain/types.js';
import type { RunEnv } from './context.js';
import { observeHost } from './run-plan.js';
import { buildStatus, type StatusDocument } from './status-view.js';

/** `statePath`: a state file, or a directory whose files for this host are merged (fleet/select.ts). */
export function statusOf(env: RunEnv, statePath: string | undefined, bus: Bus | undefined): { doc: StatusDocument; note?: string } {
  const selection = statePath === undefined ? undefined : selectFiles(loadSource(statePath), identityOf(env));
  const host = observeHost(env);
  const opts = { ...(bus === undefined ? {} : { bus }), ...(env.names ? { names: env.names } : {}) };
  if (!selection) return { doc: buildStatus(host, opts) };
  if (selection.kind === 'elsewhere') return { doc: buildStatus(host, opts), note: selection.message };
  return { doc: buildStatus(host, { ...opts, desired: resolveFiles(selection.files, host, statePath!) }) };
}
