// `status`: observe, and with a state file resolve it so each device can name the rule behind it.

import { loadStateFile } from '../desire/load.js';
import { hostMatches, resolve } from '../desire/resolve.js';
import type { Bus } from '../domain/types.js';
import type { RunEnv } from './context.js';
import { observeHost } from './run-plan.js';
import { buildStatus, type StatusDocument } from './status-view.js';

export function statusOf(env: RunEnv, statePath: string | undefined, bus: Bus | undefined): { doc: StatusDocument; note?: string } {
  const state = statePath === undefined ? undefined : loadStateFile(statePath);
  const host = observeHost(env);
  const opts = { ...(bus === undefined ? {} : { bus }), ...(env.names ? { names: env.names } : {}) };
  if (!state) return { doc: buildStatus(host, opts) };
  if (!hostMatches(state, env.hostname)) {
    return { doc: buildStatus(host, opts), note: `${state.path} is for hosts ${state.hosts!.join(', ')}, not ${env.hostname}: no rule applies here.` };
  }
  return { doc: buildStatus(host, { ...opts, desired: resolve(state, host) }) };
}
