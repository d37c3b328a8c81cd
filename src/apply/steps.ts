// One plan step: its write (at most one) and the read-back that proves it took effect.

import { deviceKey, mdevKey, splitKey } from '../domain/names.js';
import type { DeviceKey, Step } from '../domain/types.js';
import { layout } from '../sysfs/layout.js';
import { explainVanished, showOverride } from './explain.js';
import { ApplyError, deviceExists, readBinding, type Io } from './io.js';
import { createMdev, removeMdev, setMdevAttr } from './mdev-ops.js';
import { bind, probe, setAutoprobe, setNumVfs, setOverride, unbind } from './ops.js';
import { describeBinding } from './result.js';

export interface StepContext {
  io: Io;
  /** Records a device's state before the first write to it, for rollback. */
  touch(device: DeviceKey, opts?: { bystander?: boolean }): void;
  moduleLoaded(module: string): void;
  /** The driver the plan's verify step expects `device` on (undefined: any, or no verify step). */
  expectedDriver(device: DeviceKey): string | null | undefined;
}

/** What the step writes to: a device, an mdev (`mdev/<uuid>`), or nothing in particular (a module load). */
export function stepDevice(step: Step): DeviceKey | undefined {
  if (step.kind === 'load-module') return undefined;
  if (step.kind === 'create-mdev' || step.kind === 'remove-mdev' || step.kind === 'set-mdev-attr') return mdevKey(step.uuid);
  return step.device;
}

export async function runStep(step: Step, ctx: StepContext): Promise<void> {
  const { io } = ctx;
  const target = stepDevice(step);
  if (target !== undefined && step.kind !== 'verify') ctx.touch(target);
  switch (step.kind) {
    case 'load-module': {
      // Loading a driver binds unbound devices that match it (by ID, or by an override naming it)
      // without any step of ours: record them first, so a rollback can put them back too.
      for (const name of io.sysfs.list(layout.busDevices(step.bus))) {
        const key = deviceKey(step.bus, name);
        const now = readBinding(io.sysfs, key);
        if (now.driver === null && (now.override === null || now.override === step.driver)) ctx.touch(key, { bystander: true });
      }
      await io.loadModule(step.module);
      ctx.moduleLoaded(step.module);
      if (!io.sysfs.list(layout.busDrivers(step.bus)).includes(step.driver)) {
        throw new ApplyError(
          `module ${step.module} loaded, but no driver ${step.driver} appeared under bus/${step.bus}/drivers ` +
            `(does the module provide that driver?)`,
        );
      }
      return;
    }
    case 'set-numvfs':
      return setNumVfs(io, step.device, step.to, step.vfs);
    case 'set-autoprobe':
      return setAutoprobe(io, step.device, step.to);
    case 'create-mdev':
      return createMdev(io, step.uuid, step.parent, step.type);
    case 'remove-mdev':
      return removeMdev(io, step.uuid);
    case 'set-mdev-attr':
      return setMdevAttr(io, step.uuid, step.attr, step.value);
    case 'set-override':
      return setOverride(io, step.device, step.to);
    case 'unbind':
      return unbind(io, step.device, step.driver);
    case 'probe': {
      // The override decides what drivers_probe binds; without one, the plan's verify step says.
      const override = readBinding(io.sysfs, step.device).override;
      const wanted = override !== null && override !== 'none' ? override : ctx.expectedDriver(step.device);
      return probe(io, step.device, wanted ?? undefined);
    }
    case 'bind':
      return bind(io, step.device, step.driver);
    case 'verify':
      return verify(io, step);
  }
}

function verify(io: Io, step: Extract<Step, { kind: 'verify' }>): void {
  const { name } = splitKey(step.device);
  if (!deviceExists(io.sysfs, step.device)) {
    throw new ApplyError(explainVanished(name, 'verifying it'), { device: step.device, vanished: true });
  }
  const now = readBinding(io.sysfs, step.device);
  const driverOk = step.driver === undefined || now.driver === step.driver;
  if (driverOk && now.override === step.override) return;
  const wanted =
    step.driver === undefined ? 'any driver' : step.driver === null ? 'unbound' : `on ${step.driver}`;
  throw new ApplyError(
    `${name} is ${describeBinding(now)}; expected ${wanted}, override ${showOverride(step.override)}`,
    { device: step.device },
  );
}
