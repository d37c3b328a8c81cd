// A command's run environment built from a snapshot instead of a sysfs root (`--snapshot FILE`):
// the planner gets the snapshot's Host as it was captured (usage facts included), and the ports are
// a kernel model rebuilt from it, which is what `apply --simulate` writes to. Nothing here can
// reach the machine the command runs on.

import { pciIdsPaths, pciNames } from '../cli/names.js';
import type { RunEnv } from '../cli/context.js';
import { VrError } from '../domain/errors.js';
import type { DeviceKey, Target } from '../domain/types.js';
import type { DefaultBinding } from '../kernel/from-host.js';
import { KernelModel } from '../kernel/model.js';
import type { DefaultDriver } from './document.js';
import { loadSnapshot, type LoadedSnapshot } from './load.js';

/** The defaults the kernel model can use: those with a known driver. */
export function defaultBindings(defaults: Record<DeviceKey, DefaultDriver>): Record<DeviceKey, DefaultBinding> {
  const out: Record<DeviceKey, DefaultBinding> = {};
  for (const [key, d] of Object.entries(defaults)) if (d.driver !== null) out[key] = { driver: d.driver, module: d.module };
  return out;
}

/** What the planner takes from the snapshot's managed set (as state/session.ts planInputs does from the state dir). */
export function snapshotPlanInputs(snapshot: LoadedSnapshot): { managed: DeviceKey[]; applied: Record<DeviceKey, Target> } {
  return { managed: Object.keys(snapshot.applied), applied: snapshot.applied };
}

/** `--hostname` and `--machine-id` win over the snapshot's own, as they do over this machine's. */
export function openSnapshotEnv(path: string, req: { hostname?: string; machineId?: string }): RunEnv {
  const snapshot = loadSnapshot(path);
  // Planned as if on that host, as --hostname does live: the plan document names it too.
  if (req.hostname !== undefined) snapshot.host.hostname = req.hostname;
  let model: KernelModel;
  try {
    model = KernelModel.fromHost(snapshot.host, defaultBindings(snapshot.defaults));
  } catch (err) {
    throw new VrError('input', `${path} describes a host the kernel model cannot rebuild: ${(err as Error).message}`, [{ file: path, message: (err as Error).message }]);
  }
  const names = pciNames(pciIdsPaths(process.env));
  const { host } = snapshot;
  const machineId = req.machineId ?? snapshot.machineId;
  return {
    sysfs: model,
    modules: model,
    hostname: host.hostname ?? '(unknown)',
    ...(host.kernelRelease !== undefined ? { kernelRelease: host.kernelRelease } : {}),
    ...(snapshot.dmiProduct !== undefined ? { dmiProduct: snapshot.dmiProduct } : {}),
    ...(machineId !== undefined ? { machineId } : {}),
    ...(names ? { names } : {}),
    snapshot,
  };
}

/**
 * The managed set a plan starts from: the snapshot's when planning against one (it is that host's
 * state dir, as captured), else the state dir's (state/session.ts).
 */
export async function planInputsFor(
  env: RunEnv,
  stateDir: string | undefined,
  say: (line: string) => void,
): Promise<{ managed: DeviceKey[]; applied: Record<DeviceKey, Target> }> {
  if (env.snapshot) return snapshotPlanInputs(env.snapshot);
  const { peekManaged, planInputs } = await import('../state/session.js');
  return planInputs(peekManaged(env, stateDir, say));
}
