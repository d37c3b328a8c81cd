// What `apply` shows while and after it runs. Progress goes to stderr and only to a terminal (a
// log or pipe gets the plan and the outcome, not a ticker); the outcome line goes to stdout.

import { describeStep, type ApplyHooks, type ApplyResult } from '../apply/result.js';
import type { PlanDocument } from '../plan/document.js';
import type { Palette } from './color.js';

/** `step 3/9 unbind pci/0000:01:00.0 from nvidia ... ok`, one line per step, then rollback lines. */
export function progressHooks(write: (text: string) => void, p: Palette): ApplyHooks {
  return {
    onStepStart(step, index, total) {
      write(`step ${index + 1}/${total} ${describeStep(step)} ... `);
    },
    onStepDone() {
      write(`${p.green('ok')}\n`);
    },
    onStepFailed(_step, error) {
      write(`${p.red('failed')}: ${error.message}\n`);
    },
    onRollbackStep(device, what) {
      write(`rollback ${device}: ${what}\n`);
    },
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The line after a successful apply; null for a no-op (the plan already said "No changes"). */
export function appliedSummary(doc: PlanDocument, result: ApplyResult): string | null {
  if (result.outcome !== 'applied') return null;
  const modules = result.modulesLoaded.length ? ` Loaded ${result.modulesLoaded.join(', ')}.` : '';
  return `Apply complete: ${plural(doc.summary.devices, 'device')} changed, ${plural(result.completed.length, 'step')} done, each verified.${modules}`;
}
