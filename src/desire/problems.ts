// How the desire layer reports: all problems of one kind at once, in file order, each located.

import { VrError, type Diagnostic, type ErrorKind } from '../domain/errors.js';

export function byPosition(a: Diagnostic, b: Diagnostic): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
}

/** One error carrying every diagnostic, so a user fixes the file in one pass, not one per run. */
export function problems(kind: ErrorKind, file: string, diagnostics: Diagnostic[]): VrError {
  const sorted = [...diagnostics].sort(byPosition);
  const n = sorted.length;
  return new VrError(kind, `${file}: ${n} problem${n === 1 ? '' : 's'}`, sorted);
}
