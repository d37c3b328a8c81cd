// A state file from disk to a canonical, schema-valid StateFile: parse with positions, validate,
// then the checks a schema cannot express (contradictory selectors, duplicate mdev UUIDs).
// Every problem is reported at once, each with file:line:col.

import { readFileSync, statSync } from 'node:fs';
import type { Diagnostic } from '../domain/errors.js';
import type { GroupPolicy, MdevSpec, Rule, RuleTarget, Selector, SourcePos, StateFile } from '../domain/types.js';
import { canonicalAddress, canonicalGroup, hexId, vfRanges } from './match.js';
import { problems } from './problems.js';
import { displayPath, schemaDiagnostics } from './validate.js';
import { MAX_BYTES, TOO_LARGE, decodeFile, parseYaml, pointerJoin, type ParsedYaml } from './yaml.js';

/** The shape the schema guarantees once validation passed (a match block is a Selector as written). */
interface RawRule {
  name?: string;
  match: Selector;
  count?: number;
  driver?: string;
  vfs?: { count: number; driver?: string };
  force?: boolean;
}
interface RawState {
  version: 1;
  hosts?: string[];
  dmi?: { product: string };
  machineIds?: string[];
  devices?: RawRule[];
  mdevs?: { parent: Selector; type: string; uuid: string; attrs?: Record<string, string>[] }[];
  options?: { iommuGroups?: GroupPolicy };
}

/** `driver:` grammar: the three keywords, else a driver name (the schema checked its characters). */
export function parseTarget(text: string): RuleTarget {
  if (text === 'default') return { kind: 'default' };
  if (text === 'none') return { kind: 'none' };
  if (text === 'vfio') return { kind: 'vfio' };
  return { kind: 'driver', driver: text };
}

function canonicalSelector(raw: Selector): Selector {
  const s: Selector = {};
  if (raw.address !== undefined) s.address = canonicalAddress(raw.address);
  if (raw.pf !== undefined) s.pf = canonicalAddress(raw.pf);
  for (const k of ['vendor', 'device', 'subsystemVendor', 'subsystemDevice', 'class'] as const) {
    if (raw[k] !== undefined) s[k] = hexId(raw[k]);
  }
  if (raw.iommuGroup !== undefined) s.iommuGroup = canonicalGroup(raw.iommuGroup);
  if (raw.bus !== undefined) s.bus = raw.bus;
  if (raw.name !== undefined) s.name = raw.name;
  if (raw.compatible !== undefined) s.compatible = raw.compatible;
  if (raw.vf !== undefined) s.vf = raw.vf;
  return s;
}

const isGlob = (s: string): boolean => /[*?]/.test(s);

/** Keys that can never match together, reported at the later key. */
function selectorContradictions(s: Selector, base: string, report: (pointer: string, message: string) => void): void {
  const pciOnly = s.address !== undefined ? 'address' : s.pf !== undefined ? 'pf' : undefined;
  if (s.compatible !== undefined && s.bus === 'pci') {
    report(`${base}/bus`, `${displayPath(base)}: compatible selects platform devices, but bus is pci`);
  }
  if (pciOnly && s.bus === 'platform') {
    report(`${base}/bus`, `${displayPath(base)}: ${pciOnly} selects PCI devices, but bus is platform`);
  }
  if (pciOnly && s.compatible !== undefined) {
    report(`${base}/compatible`, `${displayPath(base)}: compatible selects platform devices, but ${pciOnly} selects PCI devices; nothing can match both`);
  }
  if (s.address !== undefined && s.pf !== undefined && !isGlob(s.address) && s.address === s.pf) {
    report(`${base}/pf`, `${displayPath(base)}: address and pf name the same device, which is never its own VF`);
  }
  if (s.vf !== undefined) {
    if (vfRanges(s.vf) === null) report(`${base}/vf`, `${displayPath(base)}.vf: a range ends before it starts in "${s.vf}" (write low-high, like 0-3)`);
    if (s.bus === 'platform' || s.compatible !== undefined) report(`${base}/vf`, `${displayPath(base)}: vf selects SR-IOV VFs, which exist only on PCI`);
  }
}

function positionOf(parsed: ParsedYaml, pointer: string, file: string): SourcePos {
  const n = parsed.nodes.get(pointer) ?? { line: 1, col: 1 };
  return { file, line: n.line, col: n.col };
}

/** Build the StateFile from a schema-valid value, collecting what the schema cannot check. */
function toStateFile(parsed: ParsedYaml, file: string, diagnostics: Diagnostic[]): StateFile {
  const raw = parsed.value as unknown as RawState;
  const report = (pointer: string, message: string): void => {
    const n = parsed.nodes.get(pointer);
    diagnostics.push({ file, ...(n ? { line: n.line, col: n.col } : {}), message });
  };

  const rules: Rule[] = (raw.devices ?? []).map((r, index) => {
    const base = pointerJoin('/devices', index);
    const match = canonicalSelector(r.match);
    selectorContradictions(match, pointerJoin(base, 'match'), report);
    if (r.driver === undefined && r.vfs === undefined) {
      report(base, `${displayPath(base)} says nothing to do: give a driver (a driver name, default or none) or vfs`);
    }
    if (r.vfs) {
      const vfsAt = pointerJoin(base, 'vfs');
      if (match.pf !== undefined || match.vf !== undefined) {
        report(vfsAt, `${displayPath(vfsAt)}: this rule selects VFs (${match.pf !== undefined ? 'pf' : 'vf'}), and VFs have no VFs of their own`);
      }
      else if (match.bus === 'platform' || match.compatible !== undefined) {
        report(vfsAt, `${displayPath(vfsAt)}: SR-IOV VFs exist only on PCI physical functions`);
      }
    }
    const rule: Rule = {
      index,
      match,
      // A vfs-only rule leaves the PF to the kernel's choice: its own driver, which SR-IOV needs.
      target: parseTarget(r.driver ?? 'default'),
      force: r.force ?? false,
      pos: positionOf(parsed, base, file),
    };
    if (r.name !== undefined) rule.name = r.name;
    if (r.count !== undefined) rule.count = r.count;
    if (r.vfs) rule.vfs = { count: r.vfs.count, target: parseTarget(r.vfs.driver ?? 'default') };
    return rule;
  });

  const uuids = new Map<string, number>();
  const mdevs: MdevSpec[] = (raw.mdevs ?? []).map((m, index) => {
    const base = pointerJoin('/mdevs', index);
    const parent = canonicalSelector(m.parent);
    selectorContradictions(parent, pointerJoin(base, 'parent'), report);
    const uuid = m.uuid.toLowerCase();
    const first = uuids.get(uuid);
    if (first !== undefined) {
      report(pointerJoin(base, 'uuid'), `${displayPath(base)}: uuid ${uuid} is already used by mdevs[${first}] (line ${positionOf(parsed, pointerJoin('/mdevs', first), file).line})`);
    } else uuids.set(uuid, index);
    const spec: MdevSpec = { index, parent, type: m.type, uuid, pos: positionOf(parsed, base, file) };
    // The schema lets each attrs item hold exactly one key: mdevctl's `{ name: value }` list.
    if (m.attrs) spec.attrs = m.attrs.map((a) => ({ name: Object.keys(a)[0]!, value: Object.values(a)[0]! }));
    return spec;
  });

  const state: StateFile = {
    path: file,
    version: 1,
    rules,
    mdevs,
    options: { iommuGroups: raw.options?.iommuGroups ?? 'strict' },
  };
  if (raw.hosts) state.hosts = raw.hosts;
  if (raw.dmi) state.dmi = { product: raw.dmi.product };
  if (raw.machineIds) state.machineIds = raw.machineIds.map((id) => id.toLowerCase());
  return state;
}

export function readStateText(path: string): string {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw problems('input', path, [{ file: path, message: 'not a regular file' }]);
    if (st.size > MAX_BYTES) throw problems('input', path, [{ file: path, message: TOO_LARGE }]);
    return decodeFile(readFileSync(path), path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!code) throw e;
    // Other codes in words too (ELOOP, ENOTDIR, ENAMETOOLONG, EIO): Node's message is
    // `CODE: description, syscall 'path'`, and the path is already in the diagnostic.
    const words = (e as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/s, '');
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `${words} (${code})`;
    throw problems('input', path, [{ file: path, message: `cannot read the state file: ${why}` }]);
  }
}

/**
 * Parse and validate a state file. `text` skips the read (tests, stdin). Throws VrError kind
 * `input` listing every problem with file:line:col.
 */
export function loadStateFile(path: string, text?: string): StateFile {
  const parsed = parseYaml(text ?? readStateText(path), path);
  const diagnostics = schemaDiagnostics(parsed, path);
  if (diagnostics.length) throw problems('input', path, diagnostics);
  const state = toStateFile(parsed, path, diagnostics);
  if (diagnostics.length) throw problems('input', path, diagnostics);
  return state;
}
