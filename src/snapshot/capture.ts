// Taking a snapshot: the host as plan sees it (observeHost: devices, drivers, modules, and on the
// live /sys the in-use facts), plus what only a snapshot needs: each device's default driver, the
// host's names, the state dir's managed set, and identifiers when asked for.

import { observeHost } from '../cli/run-plan.js';
import type { RunEnv } from '../cli/context.js';
import type { DeviceKey, Host, Target, UsageFact } from '../domain/types.js';
import { identityOf } from '../fleet/identity.js';
import { defaultDrivers, readAliasTable } from './defaults.js';
import type { CapturedHost, DefaultDriver } from './document.js';
import { readIdentifiers } from './identifiers.js';

export interface CaptureOptions {
  /** The state dir's managed set as the planner takes it (state/session.ts planInputs). */
  applied: Record<DeviceKey, Target>;
  /** MAC addresses and serial numbers too. */
  includeIds: boolean;
}

export function captureHost(env: RunEnv, opts: CaptureOptions): CapturedHost {
  return describeHost(env, observeHost(env), opts);
}

/**
 * What a snapshot holds of `host`, already observed through `env` (a saved plan describes the host
 * it was planned against). A snapshot env keeps the default drivers its file had.
 */
export function describeHost(env: RunEnv, observed: Host, opts: CaptureOptions): CapturedHost {
  const host = structuredClone(observed);
  if (host.usage) {
    for (const facts of Object.values(host.usage)) facts.forEach((f, i) => (facts[i] = withoutArguments(f)));
  }
  const id = identityOf(env);
  const out: CapturedHost = { host, defaults: hostDefaults(env, host), applied: opts.applied };
  if (id.dmiProduct !== undefined) out.dmiProduct = id.dmiProduct;
  if (id.machineId !== undefined) out.machineId = id.machineId;
  if (opts.includeIds) out.identifiers = readIdentifiers(env.sysfs, host);
  return out;
}

/** Each device's default driver: a snapshot's own, else from this host's modules.alias and bound drivers. */
export function hostDefaults(env: RunEnv, host: Host): Record<DeviceKey, DefaultDriver> {
  return env.snapshot?.defaults ?? defaultDrivers(host, env.sysfs, env.hostFiles ? readAliasTable(env.hostFiles.libModules) : null);
}

// observe/usage.ts writes `/dev/vfio/12 open by pid 4242 (<command line>)`.
const OPEN_BY = /^(.* open by pid \d+) \((\S*)(.*)\)$/s;

/**
 * A VM's command line can carry secrets (`-object secret,data=...`, spice passwords): a snapshot
 * keeps only the program. The fact still blocks the same unbind; only its wording is shorter.
 */
export function withoutArguments(fact: UsageFact): UsageFact {
  if (fact.kind !== 'vfio-open') return fact;
  const m = OPEN_BY.exec(fact.detail);
  if (!m) return { kind: fact.kind, detail: 'a /dev/vfio node is open by a process (details left out of the snapshot)' };
  return { kind: fact.kind, detail: `${m[1]} (${m[2]}${m[3] ? ' …' : ''})` };
}
