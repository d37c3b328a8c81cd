// What the planner's stages share: the host as it will be (VFs this plan creates included), the
// devices wanted and planned so far, and the notices collected. Pure data plus small helpers.

import type { Blocked, Change, ChangeReason, Device, DeviceKey, Host, Notice, Rule, Target } from '../domain/types.js';
import { targetText } from '../desire/resolve.js';
import { compareKeys } from './groups.js';
import type { Transition } from './transition.js';

/** A device some rule (or prune) wants somewhere; `rule` is absent for prune. */
export interface Want {
  device: Device;
  target: Target;
  rule?: Rule;
}

/** A device in the plan; `tr` is null for a PF whose only change is its VF count. */
export interface Planned {
  device: Device;
  change: Change;
  tr: Transition | null;
  /** The rule behind it (absent for prune), for its `force`. */
  rule?: Rule;
}

export interface Ctx {
  host: Host;
  /** Devices by key as they will be: the VFs a count change destroys are gone, the ones it creates are there. */
  byKey: Map<DeviceKey, Device>;
  managed: Set<DeviceKey>;
  applied: Record<DeviceKey, Target>;
  modern: boolean;
  warnings: Notice[];
  blocked: Blocked[];
}

/** Drift: the host moved away from what the last apply set. Spec: the file asks for something new. */
export function reasonFor(ctx: Ctx, w: Want): ChangeReason {
  if (!w.rule) return 'prune';
  if (!ctx.managed.has(w.device.key)) return 'spec';
  const last = ctx.applied[w.device.key];
  return last !== undefined && targetText(last) !== targetText(w.target) ? 'spec' : 'drift';
}

export function planDevice(w: Want, tr: Transition | null, reason: ChangeReason): Planned {
  const { device } = w;
  const change: Change = {
    device: device.key,
    before: { driver: device.driver, override: device.override },
    after: tr ? tr.after : { driver: device.driver, override: device.override },
    target: w.target,
    reason,
    group: device.iommuGroup,
    // Set by checkInUse when force overrides an in-use guard.
    forced: false,
  };
  if (w.rule) change.rule = ruleRef(w.rule);
  if (device.predicted && device.physfn) change.created = { pf: device.physfn, index: device.predicted.index };
  return w.rule ? { device, change, tr, rule: w.rule } : { device, change, tr };
}

export function sorted(planned: Map<DeviceKey, Planned>): Planned[] {
  return [...planned.values()].sort((a, b) => compareKeys(a.device.key, b.device.key));
}

export function mustGet(ctx: Ctx, key: DeviceKey): Device {
  const device = ctx.byKey.get(key);
  // resolve() builds Desired from this host, so a missing device is a bug, not a user error.
  if (!device) throw new Error(`desired state names ${key}, which the host does not have`);
  return device;
}

export function ruleRef(rule: Rule): NonNullable<Change['rule']> {
  return rule.name === undefined ? { index: rule.index, line: rule.pos.line } : { index: rule.index, name: rule.name, line: rule.pos.line };
}

export function warn(ctx: Ctx, message: string, device: Device, rule?: Rule): void {
  ctx.warnings.push({ message, device: device.key, ...(rule && { rule: ruleRef(rule) }) });
}

/** Keeps absent fields absent (not `undefined`), so plans compare and serialise cleanly. */
export function block(ctx: Ctx, { rule, ...rest }: Blocked): void {
  ctx.blocked.push(rule ? { ...rest, rule } : rest);
}
