// YAML to a plain value plus where every node was written, so each later error (schema, selector,
// conflict) can point at file:line:col. Built directly from js-yaml's event stream because its AST
// carries no positions. State files are small and flat, so anything exotic is refused rather than
// interpreted: aliases and anchors (no use here, and the door to alias bombs), tags other than
// `!!str`, non-scalar keys, several documents, deep nesting, huge or binary input.

import {
  EVENT_ID,
  SCALAR_STYLE,
  YAMLException,
  boolCoreTag,
  floatCoreTag,
  getScalarValue,
  intCoreTag,
  NOT_RESOLVED,
  nullCoreTag,
  parseEvents,
  type Event,
  type ScalarEvent,
} from 'js-yaml';
import type { Diagnostic } from '../domain/errors.js';
import { problems } from './problems.js';

export const MAX_BYTES = 1024 * 1024;
export const MAX_DEPTH = 32;
export const TOO_LARGE = `file is larger than ${MAX_BYTES / 1024} KiB; a state file is a few hundred lines at most`;

export interface Loc {
  line: number;
  col: number;
}

export interface NodeInfo extends Loc {
  /** Where the mapping key naming this node was written (absent for sequence items and the root). */
  key?: Loc;
  /**
   * The source text of a plain scalar that YAML read as a number or boolean (`8086`, `0x10de`,
   * `00e0`), so a field that wants a string can take the text the user wrote.
   */
  source?: string;
}

export interface ParsedYaml {
  value: Record<string, unknown>;
  /** JSON pointer (`/devices/0/match/vendor`, root is ``) -> where it was written. */
  nodes: Map<string, NodeInfo>;
}

/** JSON pointer segment escaping (RFC 6901). */
export function pointerJoin(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Offset -> 1-based line and column. */
function locator(text: string): (offset: number) => Loc {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  };
}

function fail(file: string, diagnostics: Diagnostic[]): never {
  throw problems('input', file, diagnostics);
}

/** Refuse what is not a text file before handing it to the parser, whose messages say less. */
function checkText(text: string, file: string): string {
  if (text.length > MAX_BYTES) {
    fail(file, [{ file, message: TOO_LARGE }]);
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const at = locator(text)(nul);
    fail(file, [{ file, ...at, message: 'file contains a NUL byte: is this a binary file?' }]);
  }
  // A byte-order mark would shift every column on line 1 by one.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Decode file bytes as strict UTF-8 (a binary file fails here rather than as odd YAML). */
export function decodeFile(bytes: Uint8Array, file: string): string {
  if (bytes.length > MAX_BYTES) {
    fail(file, [{ file, message: TOO_LARGE }]);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(file, [{ file, message: 'file is not UTF-8 text: is this a binary file?' }]);
  }
}

const ANCHOR = 'YAML anchors (&name) are not supported in state files; write the value out';
const INT_TAG = 'tag:yaml.org,2002:int';
const PLAIN_RESOLVERS = [nullCoreTag, boolCoreTag, intCoreTag, floatCoreTag];

/** YAML 1.2 core schema resolution of an untagged plain scalar. */
function resolvePlain(text: string): unknown {
  for (const tag of PLAIN_RESOLVERS) {
    const v: unknown = tag.resolve(text, false, tag === intCoreTag ? INT_TAG : tag.tagName);
    if (v !== NOT_RESOLVED) return v;
  }
  return text;
}

export function parseYaml(input: string, file: string): ParsedYaml {
  const text = checkText(input, file);
  const at = locator(text);

  let events: Event[];
  try {
    events = parseEvents(text, { filename: file, maxDepth: MAX_DEPTH });
  } catch (e) {
    if (!(e instanceof YAMLException)) throw e;
    const loc = e.mark ? { line: e.mark.line + 1, col: e.mark.column + 1 } : {};
    const message = /maxDepth/.test(e.reason)
      ? `nested deeper than ${MAX_DEPTH} levels; a state file needs about 5`
      : `YAML syntax: ${e.reason}`;
    return fail(file, [{ file, ...loc, message }]);
  }

  const found: Diagnostic[] = [];
  const problem = (offset: number, message: string): void => {
    found.push({ file, ...(offset >= 0 ? at(offset) : {}), message });
  };
  const nodes = new Map<string, NodeInfo>();
  let i = 0;

  /** Where an event was written; empty scalars (`key:` with nothing after) have no offset. */
  const startOf = (ev: Event): number => {
    switch (ev.type) {
      case EVENT_ID.SCALAR: {
        const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
        const anchorOrTag = [ev.anchorStart - 1, ev.tagStart].filter((o) => o >= 0);
        return anchorOrTag.length ? Math.min(...anchorOrTag) : ev.valueStart - (quoted && ev.valueStart > 0 ? 1 : 0);
      }
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE:
        return ev.start;
      case EVENT_ID.ALIAS:
        return ev.anchorStart - 1;
      default:
        return -1;
    }
  };

  const scalar = (ev: ScalarEvent, info: NodeInfo): unknown => {
    const value = getScalarValue(text, ev);
    if (ev.tagStart >= 0) {
      const tag = text.slice(ev.tagStart, ev.tagEnd);
      if (tag !== '!!str' && tag !== '!') problem(ev.tagStart, `YAML tag ${tag} is not supported; quote the value instead`);
      return value;
    }
    if (ev.style !== SCALAR_STYLE.PLAIN) return value;
    const v = resolvePlain(value);
    if (typeof v === 'number' || typeof v === 'boolean') info.source = value;
    return v;
  };

  /** Consume one node (and its children) starting at events[i]. */
  const node = (pointer: string, fallback: Loc, key?: Loc): unknown => {
    const ev = events[i++]!;
    const offset = startOf(ev);
    const info: NodeInfo = { ...(offset >= 0 ? at(offset) : fallback), ...(key ? { key } : {}) };
    nodes.set(pointer, info);
    if ('anchorStart' in ev && ev.anchorStart >= 0 && ev.type !== EVENT_ID.ALIAS) {
      problem(ev.anchorStart - 1, ANCHOR);
    }
    switch (ev.type) {
      case EVENT_ID.SCALAR:
        return scalar(ev, info);
      case EVENT_ID.ALIAS:
        problem(offset, 'YAML aliases (*name) are not supported in state files; write the value out');
        return null;
      case EVENT_ID.SEQUENCE: {
        if (ev.tagStart >= 0) problem(ev.tagStart, `YAML tag ${text.slice(ev.tagStart, ev.tagEnd)} is not supported`);
        const out: unknown[] = [];
        while (events[i]!.type !== EVENT_ID.POP) out.push(node(pointerJoin(pointer, out.length), info));
        i++;
        return out;
      }
      case EVENT_ID.MAPPING: {
        if (ev.tagStart >= 0) problem(ev.tagStart, `YAML tag ${text.slice(ev.tagStart, ev.tagEnd)} is not supported`);
        const out: Record<string, unknown> = {};
        const seen = new Map<string, Loc>();
        while (events[i]!.type !== EVENT_ID.POP) {
          const kev = events[i]!;
          const kOffset = startOf(kev);
          const kLoc = kOffset >= 0 ? at(kOffset) : info;
          let name: string;
          if (kev.type === EVENT_ID.SCALAR) {
            name = String(scalar(kev, { ...kLoc }));
            i++;
            if (kev.anchorStart >= 0) problem(kev.anchorStart - 1, ANCHOR);
          } else {
            problem(kOffset, 'mapping keys must be plain names');
            node('/#key', kLoc); // consumed only to stay in step with the event stream
            name = `#key${seen.size}`;
          }
          const first = seen.get(name);
          if (first) problem(kOffset, `duplicate key '${name}' (first written at line ${first.line})`);
          else seen.set(name, kLoc);
          const value = node(pointerJoin(pointer, name), kLoc, kLoc);
          // defineProperty so a key named __proto__ stays data and never reaches the prototype.
          if (!first) Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
        }
        i++;
        return out;
      }
      default:
        throw new Error(`unexpected YAML event ${ev.type}`);
    }
  };

  const docs: number[] = [];
  events.forEach((ev, n) => ev.type === EVENT_ID.DOCUMENT && docs.push(n));
  const emptyDoc = (n: number): boolean => {
    const ev = events[n + 1];
    return ev?.type === EVENT_ID.SCALAR && ev.valueStart < 0 && ev.tagStart < 0 && ev.anchorStart < 0;
  };
  if (docs.length === 0 || (docs.length === 1 && emptyDoc(docs[0]!))) {
    fail(file, [{ file, message: 'file is empty; a state file starts with `version: 1`' }]);
  }
  if (docs.length > 1) {
    const second = events[docs[1]! + 1]!;
    const offset = startOf(second);
    fail(file, [{ file, ...(offset >= 0 ? at(offset) : {}), message: 'more than one YAML document (---); a state file holds exactly one' }]);
  }

  i = docs[0]! + 1;
  const root = node('', { line: 1, col: 1 });
  if (found.length) fail(file, found);
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    const where = nodes.get('')!;
    fail(file, [{ file, line: where.line, col: where.col, message: 'the top level must be a mapping (`version: 1`, `devices: ...`)' }]);
  }
  return { value: root as Record<string, unknown>, nodes };
}
