// What an apply did, as data for the CLI, the journal and --json; and the one place that turns a
// failed apply into the VrError whose kind gives exit code 3 or 4.

import { VrError, type Diagnostic } from '../domain/errors.js';
import { mdevUuidOf } from '../domain/names.js';
import type { BindingState, DeviceKey, Step } from '../domain/types.js';
import { showOverride } from './explain.js';

export interface ApplyFailure {
  /** Position of the step in plan.steps. */
  index: number;
  step: Step;
  device?: DeviceKey;
  message: string;
  /** Errno name when the kernel refused a write. */
  errno?: string;
}

export interface RollbackFailure {
  device: DeviceKey;
  message: string;
  /** Where the device is now (for a device whose write hung: the driver link and the last override written). */
  state: BindingState;
  /** Where rollback meant to put it: its state before the apply. */
  wanted: BindingState;
}

export interface RollbackReport {
  restored: DeviceKey[];
  failed: RollbackFailure[];
  /** Devices that left the host while the apply ran (hot-unplug): nothing to restore. */
  gone: DeviceKey[];
}

export interface ApplyResult {
  outcome: 'applied' | 'rolled-back' | 'rollback-failed' | 'noop';
  completed: Step[];
  failure?: ApplyFailure;
  rollback?: RollbackReport;
  /** Modules this apply loaded. Rollback leaves them loaded: unloading could disturb other devices. */
  modulesLoaded: string[];
}

/**
 * Observers of execution, the only ones: progress output and the write-ahead journal. onStepStart
 * runs before the step's write, and a hook that throws fails its step (a journal that cannot record
 * a write must stop it); onRollbackStep throwing fails that device's restore; an onStepFailed
 * that throws is ignored, so that nothing keeps the rollback from running.
 */
export interface ApplyHooks {
  onStepStart?(step: Step, index: number, total: number): void | Promise<void>;
  onStepDone?(step: Step, index: number, total: number, ms: number): void | Promise<void>;
  onStepFailed?(step: Step, error: Error): void | Promise<void>;
  /** Before each rollback write; `what` is the write in words. */
  onRollbackStep?(device: DeviceKey, what: string): void | Promise<void>;
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'load-module':
      return `load module ${step.module} (driver ${step.driver})`;
    case 'set-numvfs':
      return `set sriov_numvfs of ${step.device} ${step.from} -> ${step.to}`;
    case 'set-autoprobe':
      return `set sriov_drivers_autoprobe of ${step.device} ${step.from ? 1 : 0} -> ${step.to ? 1 : 0}`;
    case 'create-mdev':
      return `create mdev ${step.uuid} (${step.type} on ${step.parent})`;
    case 'remove-mdev':
      return `remove mdev ${step.uuid} (${step.type} on ${step.parent})`;
    case 'set-mdev-attr':
      return `set ${step.attr} of mdev ${step.uuid}`;
    case 'set-override':
      return `set driver_override of ${step.device} ${showOverride(step.from)} -> ${showOverride(step.to)}`;
    case 'unbind':
      return `unbind ${step.device} from ${step.driver}`;
    case 'probe':
      return `probe ${step.device}`;
    case 'bind':
      return `bind ${step.device} to ${step.driver}`;
    case 'verify':
      return `verify ${step.device}`;
  }
}

export function describeBinding(b: BindingState): string {
  const driver = b.driver === null ? 'unbound' : `on ${b.driver}`;
  return `${driver}, ${b.override === null ? 'no override' : `override ${b.override}`}`;
}

/** The error for a failed apply (null when it succeeded), with a message that says what is left. */
export function applyError(result: ApplyResult): VrError | null {
  const { failure, rollback } = result;
  if ((result.outcome !== 'rolled-back' && result.outcome !== 'rollback-failed') || !failure || !rollback) return null;
  const lines = [`apply failed at step ${failure.index + 1} (${describeStep(failure.step)}): ${failure.message}`];
  const diagnostics: Diagnostic[] = [];
  if (result.outcome === 'rolled-back') {
    lines.push(
      rollback.restored.length
        ? `Rolled back: the host is as it was before (restored ${rollback.restored.join(', ')}).`
        : 'Nothing had changed: the host is as it was before.',
    );
  } else {
    lines.push('The rollback did not complete. Left behind:');
    for (const f of rollback.failed) {
      // An mdev has no binding: its message says where it is.
      lines.push(mdevUuidOf(f.device) !== null ? `  ${f.device}: not restored` : `  ${f.device}: ${describeBinding(f.state)}; before the apply: ${describeBinding(f.wanted)}`);
      lines.push(`    ${f.message}`);
      diagnostics.push({
        message: `${f.device} is ${describeBinding(f.state)}, was ${describeBinding(f.wanted)}: ${f.message}`,
        hint: `restore ${f.device} by hand (driver_override, unbind, bind), then run plan again`,
      });
    }
    if (rollback.restored.length) lines.push(`Restored: ${rollback.restored.join(', ')}.`);
  }
  if (rollback.gone.length) {
    lines.push(
      `Gone from the host while the apply ran (hot-unplug?), nothing to restore: ${rollback.gone.join(', ')}. ` +
        'If it comes back it has no driver_override; run plan again then.',
    );
  }
  if (result.modulesLoaded.length) {
    lines.push(`Modules loaded by this apply stay loaded: ${result.modulesLoaded.join(', ')}.`);
  }
  return new VrError(result.outcome, lines.join('\n'), diagnostics);
}
