// Errors a user can cause or meet carry a kind; one function maps kinds to exit codes
// (documented in README "Exit codes"), so no caller ever decides an exit code from a message.

export type ErrorKind =
  | 'input' // bad YAML, schema violation, bad flag: before anything was written
  | 'selector' // a rule's selector does not resolve as the file demands (count, conflicts)
  | 'safety' // a guard refused the plan
  | 'lock' // another apply holds the lock
  | 'stale' // a saved plan no longer matches the host
  | 'environment' // not root, missing sysfs root, missing tool
  | 'rolled-back' // apply failed and the host is as it was before
  | 'rollback-failed'; // apply failed and the undo did not complete

export const EXIT = {
  ok: 0,
  error: 1,
  changesPending: 2,
  rolledBack: 3,
  rollbackFailed: 4,
} as const;

export function exitCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case 'rolled-back':
      return EXIT.rolledBack;
    case 'rollback-failed':
      return EXIT.rollbackFailed;
    default:
      return EXIT.error;
  }
}

/** One located problem in a state file or other input. */
export interface Diagnostic {
  message: string;
  file?: string;
  line?: number;
  col?: number;
  /** What the user can do about it. */
  hint?: string;
}

export class VrError extends Error {
  readonly kind: ErrorKind;
  readonly diagnostics: Diagnostic[];
  constructor(kind: ErrorKind, message: string, diagnostics: Diagnostic[] = []) {
    super(message);
    this.name = 'VrError';
    this.kind = kind;
    this.diagnostics = diagnostics;
  }
  get exitCode(): number {
    return exitCodeFor(this.kind);
  }
}

/** `file:line:col: message` the way compilers print it, so editors can jump there. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}${d.col ? `:${d.col}` : ''}` : ''}: ` : '';
  return `${where}${d.message}${d.hint ? `\n  hint: ${d.hint}` : ''}`;
}

/** A sysfs write the kernel refused. `code` is the errno name (ENODEV, EBUSY, ...). */
export class KernelWriteError extends Error {
  readonly code: string;
  readonly path: string;
  readonly value: string;
  constructor(code: string, path: string, value: string, detail?: string) {
    super(`write ${JSON.stringify(value)} to ${path}: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'KernelWriteError';
    this.code = code;
    this.path = path;
    this.value = value;
  }
}
