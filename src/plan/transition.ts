// What one device needs to go from its observed binding to a target, or nothing when the target
// already holds: planning again after a successful apply must give an empty plan.

import { isVfioDriver } from '../domain/names.js';
import type { Change, Device, Target } from '../domain/types.js';

export interface Transition {
  after: Change['after'];
  /** Write `after.override` to driver_override. */
  setOverride: boolean;
  /** The driver to unbind from, or null to leave the device where it is. */
  unbind: string | null;
  /** Ask the bus to match the device again (drivers_probe). */
  probe: boolean;
}

export function transition(device: Device, target: Target): Transition | null {
  const { driver, override } = device;
  switch (target.kind) {
    case 'driver': {
      const want = target.driver;
      if (driver === want && (override === null || override === want)) return null;
      // Bound to the right driver under a foreign override: fixing the override is enough.
      const rebind = driver !== want;
      return {
        after: { driver: want, override: want },
        setOverride: override !== want,
        unbind: rebind ? driver : null,
        probe: rebind,
      };
    }
    case 'none':
      if (driver === null && override === 'none') return null;
      // No probe: with override `none` it would match nothing.
      return { after: { driver: null, override: 'none' }, setOverride: override !== 'none', unbind: driver, probe: false };
    case 'default': {
      if (override === null) return null;
      // Clearing the override only affects the next match. The device leaves its driver when that
      // driver is there because of the override (or is a VFIO driver, which binds only by override or
      // id); a host driver that holds it despite a stale override is already the kernel's choice.
      const steered = driver !== null && (driver === override || isVfioDriver(driver));
      const reprobe = steered || driver === null;
      return {
        after: { driver: reprobe ? undefined : driver, override: null },
        setOverride: true,
        unbind: steered ? driver : null,
        probe: reprobe,
      };
    }
  }
}
