// What `rollback` prints: the verdict, one line per device that moves (or would), and the journal.

import { describeBinding } from '../apply/result.js';
import type { UndoResult } from './undo.js';

export function renderUndo(r: UndoResult): string {
  const lines = [r.message];
  for (const d of r.devices) lines.push(`  ${d.device}: ${d.now === null ? 'gone' : describeBinding(d.now)} -> ${describeBinding(d.to)}`);
  lines.push(`Journal: ${r.journal}`);
  return lines.join('\n');
}
