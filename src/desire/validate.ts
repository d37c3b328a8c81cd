// Schema validation of a parsed state file, with every ajv error turned into a located message a
// user can act on. Needs the validator built with ajv's `verbose` option (error.parentSchema).

import type { ErrorObject } from 'ajv';
import type { Diagnostic } from '../domain/errors.js';
import { stateValidator } from './schema.js';
import { pointerJoin, type Loc, type ParsedYaml } from './yaml.js';

type SchemaNode = Record<string, unknown>;

function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `/devices/0/match/vendor` -> `devices[0].match.vendor`, the way users think of the file. */
export function displayPath(pointer: string): string {
  let out = '';
  for (const s of segments(pointer)) out += /^\d+$/.test(s) ? `[${s}]` : out ? `.${s}` : s;
  return out || 'the top level';
}

function at(value: unknown, pointer: string): unknown {
  let v = value;
  for (const s of segments(pointer)) v = (v as Record<string, unknown> | undefined)?.[s];
  return v;
}

function setAt(value: unknown, pointer: string, replacement: unknown): void {
  const parts = segments(pointer);
  const last = parts.pop()!;
  (at(value, parts.length ? `/${parts.join('/')}` : '') as Record<string, unknown>)[last] = replacement;
}

/** The schema object holding the failed keyword; its description is the grammar users read. */
function parentSchema(error: ErrorObject): SchemaNode {
  return (error.parentSchema ?? {}) as SchemaNode;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The allowed key the user most likely meant: same letters ignoring case and `-`/`_`, or a near typo. */
export function suggestKey(key: string, allowed: string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const same = allowed.find((a) => norm(a) === norm(key));
  if (same) return same;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const a of allowed) {
    const d = levenshtein(norm(key), norm(a));
    if (d < bestDistance) [best, bestDistance] = [a, d];
  }
  return best;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the text ${JSON.stringify(v)}`;
  return `${typeof v === 'boolean' ? 'the boolean' : 'the number'} ${String(v)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function firstSentence(text: unknown): string {
  return typeof text === 'string' ? text.replace(/(?<=\.)\s.*$/s, '') : '';
}

interface Located {
  message: string;
  loc: Loc | undefined;
  hint?: string;
}

function explain(error: ErrorObject, parsed: ParsedYaml): Located {
  const path = error.instancePath;
  const where = displayPath(path);
  const node = parsed.nodes.get(path);
  const data = at(parsed.value, path);
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = Object.keys((parentSchema(error).properties ?? {}) as SchemaNode);
      const guess = suggestKey(key, allowed);
      const loc = parsed.nodes.get(pointerJoin(path, key))?.key;
      const message = `unknown key '${key}' ${path ? `in ${where}` : 'at the top level'}${guess ? `; did you mean '${guess}'?` : ''}`;
      return guess ? { message, loc } : { message, loc, hint: `allowed here: ${allowed.join(', ')}` };
    }
    case 'required':
      return { message: `${where} is missing '${String(p.missingProperty)}'`, loc: node };
    case 'type': {
      const want = String(p.type);
      const message = data === null ? `${where} has no value; it must be ${TYPE_NAMES[want] ?? want}` : `${where} must be ${TYPE_NAMES[want] ?? want}, got ${describe(data)}`;
      const unquoted = want === 'integer' ? /^\d+$/ : want === 'boolean' ? /^(true|false)$/ : null;
      return typeof data === 'string' && unquoted?.test(data)
        ? { message, loc: node, hint: `write it without quotes: ${segments(path).pop()}: ${data}` }
        : { message, loc: node };
    }
    case 'const':
      return path === '/version'
        ? { message: `unsupported version ${JSON.stringify(data)}; this vfio-reconcile reads version 1`, loc: node, hint: 'write `version: 1`' }
        : { message: `${where} must be ${JSON.stringify(p.allowedValue)}`, loc: node };
    case 'enum':
      return {
        message: `${where} must be one of: ${(p.allowedValues as unknown[]).join(', ')} (got ${describe(data)})`,
        loc: node,
      };
    case 'pattern':
      return { message: `${where}: ${JSON.stringify(data)} is not valid: ${firstSentence(parentSchema(error).description)}`, loc: node };
    case 'minProperties':
      return path.endsWith('/match') || path.endsWith('/parent')
        ? { message: `${where} is empty: give at least one key (an empty match would select every device)`, loc: node }
        : { message: `${where} is empty`, loc: node };
    case 'minItems':
      return { message: `${where} is an empty list${path === '/hosts' ? '; omit hosts to apply on every host' : ''}`, loc: node };
    case 'minimum':
      return { message: `${where} must be at least ${String(p.limit)}, got ${describe(data)}`, loc: node };
    case 'maximum':
      return { message: `${where} must be at most ${String(p.limit)}, got ${describe(data)}`, loc: node };
    default:
      return { message: `${where} ${error.message ?? `fails ${error.keyword}`}`, loc: node };
  }
}

/**
 * A field that wants text but got a YAML number or boolean from an unquoted scalar takes the text
 * as written, so `vendor: 8086`, `vendor: 0x10de` and `device: 00e0` mean what they look like.
 */
function restoreSourceText(errors: ErrorObject[], parsed: ParsedYaml): boolean {
  let changed = false;
  for (const e of errors) {
    const source = parsed.nodes.get(e.instancePath)?.source;
    if (e.keyword === 'type' && (e.params as { type?: string }).type === 'string' && source !== undefined) {
      setAt(parsed.value, e.instancePath, source);
      changed = true;
    }
  }
  return changed;
}

/** Validates (and, for unquoted ids, repairs) parsed.value; returns every problem found. */
export function schemaDiagnostics(parsed: ParsedYaml, file: string): Diagnostic[] {
  const validate = stateValidator();
  if (validate(parsed.value)) return [];
  if (restoreSourceText(validate.errors ?? [], parsed) && validate(parsed.value)) return [];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of validate.errors ?? []) {
    const { message, loc, hint } = explain(e, parsed);
    if (seen.has(message)) continue;
    seen.add(message);
    out.push({ file, ...(loc ? { line: loc.line, col: loc.col } : {}), message, ...(hint ? { hint } : {}) });
  }
  return out;
}
