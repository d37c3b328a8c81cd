// The JSON documents vfio-reconcile writes and reads back (snapshots, saved plans): read, parse
// with the error located, tell the kinds apart, and validate against the shipped schema with ajv.
// Every problem is a VrError of kind `input`, naming the file and where in it.

import { readFileSync, statSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { displayPath } from '../desire/validate.js';
import { VrError, type Diagnostic } from '../domain/errors.js';

/** A snapshot of a large host is a few hundred kilobytes; anything far beyond that is not ours. */
const MAX_BYTES = 32 * 1024 * 1024;

export const KINDS = { snapshot: 'vfio-reconcile-snapshot', savedPlan: 'vfio-reconcile-saved-plan' } as const;

export function readText(path: string, what: string): string {
  try {
    // Stat before opening: opening a FIFO (or a device) for reading would block for ever.
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES / 1024 / 1024} MiB`);
    const bytes = readFileSync(path);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new VrError('input', `cannot read ${what} ${path}: ${why}`, [{ file: path, message: `cannot read ${what}: ${why}` }]);
  }
}

/** JSON.parse, with a failure placed at line:col where the parser says where. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string; line?: number; col?: number } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    const position = at ? Number(at[1]) : /end of JSON input/.test(message) ? text.length : null;
    if (position === null) return { ok: false, message };
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    return { ok: false, message, line, col: before.length - before.lastIndexOf('\n') };
  }
}

/** The `kind` of a parsed document, when it has one (state files have none). */
export function kindOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const kind = (value as { kind?: unknown }).kind;
  return typeof kind === 'string' ? kind : undefined;
}

/** `path` as one of the tool's JSON documents (its kind and text), or null for anything else: a state file, a directory. */
export function documentAt(path: string): { kind: string; text: string } | null {
  let text: string;
  try {
    text = readText(path, 'file');
  } catch {
    return null;
  }
  const parsed = parseJson(text);
  const kind = parsed.ok ? kindOf(parsed.value) : undefined;
  return kind === undefined ? null : { kind, text };
}

/** Parse `text` as a document of `kind`, or throw saying what it is instead. */
export function parseDoc(path: string, text: string, kind: string, what: string): Record<string, unknown> {
  const parsed = parseJson(text);
  if (!parsed.ok) {
    throw new VrError('input', `${path} is not a ${what}: it is not valid JSON`, [
      { file: path, ...(parsed.line ? { line: parsed.line, col: parsed.col } : {}), message: parsed.message },
    ]);
  }
  const found = kindOf(parsed.value);
  if (found !== kind) {
    const is = found === KINDS.snapshot ? 'a host snapshot' : found === KINDS.savedPlan ? 'a saved plan' : found ? `a ${JSON.stringify(found)} document` : 'a JSON document without a "kind"';
    throw new VrError('input', `${path} is not a ${what}: it is ${is}`, [{ file: path, message: `"kind" must be "${kind}"` }]);
  }
  const doc = parsed.value as Record<string, unknown>;
  const version = typeof doc.format_version === 'string' ? doc.format_version : '';
  if (!version.startsWith('1.')) {
    throw new VrError('input', `${path}: ${what} format ${JSON.stringify(doc.format_version)} is not one this vfio-reconcile reads (1.x)`, [
      { file: path, message: 'unsupported format_version', hint: 'upgrade vfio-reconcile, or make the file again with this version' },
    ]);
  }
  return doc;
}

/** Throws the validator's errors as located diagnostics (at most 20, with the count of the rest). */
export function validateDoc(validate: ValidateFunction, doc: unknown, path: string, what: string): void {
  if (validate(doc)) return;
  const errors = (validate.errors ?? []) as ErrorObject[];
  const diagnostics: Diagnostic[] = errors.slice(0, 20).map((e) => ({
    file: path,
    message: `${displayPath(e.instancePath)}: ${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}`,
  }));
  if (errors.length > 20) diagnostics.push({ file: path, message: `and ${errors.length - 20} more problems` });
  throw new VrError('input', `${path} is not a valid ${what}`, diagnostics);
}
