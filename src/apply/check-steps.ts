// The executor's own check of every step before the first write. A plan may come from a file
// (a saved plan) rather than from the planner, so nothing in it is trusted: each step must be a
// known kind whose every name and value follows the kernel's grammar, or nothing is written.

import { VrError } from '../domain/errors.js';
import { isDeviceName, isDriverName, isMdevAttr, isMdevType, isMdevUuid, isModuleName, splitKey } from '../domain/names.js';
import { BUSES, type Bus, type Step } from '../domain/types.js';

const isBus = (bus: unknown): bus is Bus => typeof bus === 'string' && (BUSES as readonly string[]).includes(bus);

export function deviceProblem(device: unknown): string | null {
  if (typeof device !== 'string') return `invalid device ${JSON.stringify(device)}`;
  const { bus, name } = splitKey(device);
  return isBus(bus) && isDeviceName(bus, name) ? null : `invalid device ${JSON.stringify(device)}`;
}

export const driverProblem = (driver: unknown): string | null =>
  typeof driver === 'string' && isDriverName(driver) ? null : `invalid driver ${JSON.stringify(driver)}`;

/** An override value is written as is: it must be a driver name (or `none`), or null to clear. */
export const overrideProblem = (value: unknown): string | null =>
  value === null || (typeof value === 'string' && isDriverName(value)) ? null : `invalid driver_override value ${JSON.stringify(value)}`;

export const mdevProblems = (step: { uuid: unknown; parent?: unknown; type?: unknown }): (string | null)[] => [
  typeof step.uuid === 'string' && isMdevUuid(step.uuid) ? null : `invalid mdev uuid ${JSON.stringify(step.uuid)}`,
  'parent' in step && !(typeof step.parent === 'string' && isDeviceName('platform', step.parent)) ? `invalid mdev parent ${JSON.stringify(step.parent)}` : null,
  'type' in step && !(typeof step.type === 'string' && isMdevType(step.type)) ? `invalid mdev type ${JSON.stringify(step.type)}` : null,
];

/** One line of text without NUL, short enough for one sysfs store. */
const valueProblem = (v: unknown): string | null =>
  typeof v === 'string' && v.length <= 4000 && !/[\0\n]/.test(v) ? null : `invalid mdev attribute value ${JSON.stringify(v)}`;

export const boolProblem = (v: unknown): string | null => (typeof v === 'boolean' ? null : `invalid autoprobe value ${JSON.stringify(v)}`);

export const countProblem = (n: unknown): string | null =>
  Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535 ? null : `invalid VF count ${JSON.stringify(n)} (a whole number from 0 to 65535)`;

function stepProblems(step: Step): (string | null)[] {
  switch (step.kind) {
    case 'load-module':
      return [
        isModuleName(step.module) ? null : `invalid module ${JSON.stringify(step.module)}`,
        driverProblem(step.driver),
        isBus(step.bus) ? null : `invalid bus ${JSON.stringify(step.bus)}`,
      ];
    case 'set-numvfs':
      return [deviceProblem(step.device), countProblem(step.to), ...(step.vfs ?? []).map(deviceProblem)];
    case 'set-autoprobe':
      return [deviceProblem(step.device), boolProblem(step.to)];
    case 'create-mdev':
    case 'remove-mdev':
      return mdevProblems(step);
    case 'set-mdev-attr':
      return [...mdevProblems(step), typeof step.attr === 'string' && isMdevAttr(step.attr) ? null : `invalid mdev attribute ${JSON.stringify(step.attr)}`, valueProblem(step.value)];
    case 'set-override':
      return [deviceProblem(step.device), overrideProblem(step.to)];
    case 'unbind':
    case 'bind':
      return [deviceProblem(step.device), driverProblem(step.driver)];
    case 'probe':
      return [deviceProblem(step.device)];
    case 'verify':
      return [deviceProblem(step.device), step.driver == null ? null : driverProblem(step.driver), overrideProblem(step.override)];
    default:
      return [`unknown step kind ${JSON.stringify((step as { kind: unknown }).kind)}`];
  }
}

/** Every bad name or value in `steps`, as `step <n>: <problem>`; empty when all are sound. */
export function stepsProblems(steps: Step[]): string[] {
  return steps.flatMap((step, i) => stepProblems(step).filter((p) => p !== null).map((p) => `step ${i + 1}: ${p}`));
}

/** Throws VrError 'input' listing every bad step; returns normally when all are sound. */
export function checkSteps(steps: Step[]): void {
  const bad = stepsProblems(steps);
  if (bad.length) throw new VrError('input', `the plan names things the kernel cannot have:\n  ${bad.join('\n  ')}`);
}
