// The one place where an error becomes an exit code and a message (human or JSON). Exit codes come
// from the error's kind (domain/errors.ts), never from its text.

import { EXIT, formatDiagnostic, VrError, type Diagnostic } from '../domain/errors.js';

export interface ErrorReport {
  exitCode: number;
  /** VrError kinds, `input` for command-line parse errors, `unexpected` for anything else. */
  kind: string;
  message: string;
  diagnostics: Diagnostic[];
}

/** oclif's parser errors (unknown flag, missing argument) carry the parse they came from. */
function isUsageError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'parse' in err && 'oclif' in err;
}

export function reportFor(err: unknown): ErrorReport {
  if (err instanceof VrError) {
    return { exitCode: err.exitCode, kind: err.kind, message: err.message, diagnostics: err.diagnostics };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.error, kind: isUsageError(err) ? 'input' : 'unexpected', message, diagnostics: [] };
}

/** The document `--json` prints on failure; the exit code still applies. */
export function errorJson(r: ErrorReport): { error: Omit<ErrorReport, 'exitCode'> } {
  return { error: { kind: r.kind, message: r.message, diagnostics: r.diagnostics } };
}

/**
 * Human form: the message, then each located diagnostic as `file:line:col: message` (with its hint).
 * An unlocated diagnostic restates part of the message for --json readers (the executor's refusals
 * and rollback reports, a missing sysfs root), so only a hint the message lacks is added for it.
 */
export function errorText(r: ErrorReport, stack?: string): string {
  const lines = [`Error: ${r.message}`];
  for (const d of r.diagnostics) {
    if (d.file) lines.push(formatDiagnostic(d));
    else if (d.hint && !r.message.includes(d.hint)) lines.push(`  hint: ${d.hint}`);
  }
  if (stack) lines.push(stack);
  return lines.join('\n');
}
