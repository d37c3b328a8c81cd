// One repository, many hosts: `plan DIR` / `apply DIR` read every state file in DIR, keep the ones
// whose hosts/dmi/machineIds select this host, and merge their rules into one Desired. Each device
// belongs to exactly one file: two selected files that both claim a device are refused, naming both
// places, rather than letting file order decide which one wins.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadStateFile } from '../desire/load.js';
import { deviceLabel, resolve } from '../desire/resolve.js';
import { VrError, type Diagnostic } from '../domain/errors.js';
import type { Desired, Device, DeviceKey, Host, HostIdentity, Rule, StateFile } from '../domain/types.js';
import { describeCriteria, describeIdentity, isFor, mismatches } from './identity.js';

/** What STATE named: one file, or a directory of them. */
export interface StateSource {
  path: string;
  dir: boolean;
  /** Sorted by file name. */
  files: StateFile[];
}

export type Selection =
  | { kind: 'selected'; files: StateFile[] }
  /** A single file for other hosts: nothing to do here (not an error, as before fleets). */
  | { kind: 'elsewhere'; state: StateFile; message: string };

const STATE_FILE = /\.ya?ml$/;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // loadStateFile reports a missing path in its own words
  }
}

/**
 * Parse STATE, or every *.yaml / *.yml directly in it when it is a directory; all problems at once.
 * `text`: the contents of the one file STATE names, already read (a saved plan keeps them).
 */
export function loadSource(path: string, text?: string): StateSource {
  if (text !== undefined || !isDirectory(path)) return { path, dir: false, files: [loadStateFile(path, text)] };
  const names = readdirSync(path).filter((n) => STATE_FILE.test(n) && !n.startsWith('.')).sort();
  if (names.length === 0) {
    throw new VrError('input', `${path} holds no state files (*.yaml)`, [{ file: path, message: 'no *.yaml files in this directory', hint: 'point at a state file, or at the directory holding your hosts/*.yaml' }]);
  }
  const files: StateFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const name of names) {
    try {
      files.push(loadStateFile(join(path, name)));
    } catch (err) {
      if (!(err instanceof VrError)) throw err;
      diagnostics.push(...err.diagnostics);
    }
  }
  if (diagnostics.length) throw new VrError('input', `${path}: ${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'}`, diagnostics);
  return { path, dir: true, files };
}

/**
 * The files for this host. A directory where none is for it is an error: a fleet host that no
 * file describes is missing from the repository, and saying "nothing to do" would hide that.
 */
export function selectFiles(source: StateSource, id: HostIdentity): Selection {
  const chosen = source.files.filter((f) => isFor(f, id));
  if (chosen.length > 0) return { kind: 'selected', files: chosen };
  if (!source.dir) return { kind: 'elsewhere', state: source.files[0]!, message: elsewhereMessage(source.files[0]!, id) };
  throw new VrError(
    'input',
    `no state file in ${source.path} is for this host, ${describeIdentity(id)}`,
    [
      ...source.files.map((f): Diagnostic => ({ file: f.path, message: `for ${describeCriteria(f)}: ${mismatches(f, id).join('; ')}` })),
      { message: 'no file selected', hint: 'add this host to a file (hosts:, dmi:, machineIds:), or add a file for it' },
    ],
  );
}

function elsewhereMessage(state: StateFile, id: HostIdentity): string {
  const why = mismatches({ ...state, hosts: undefined }, id);
  return `${state.path} is for ${describeCriteria(state)}; this host is ${id.hostname}${why.length ? ` (${why.join('; ')})` : ''}: nothing to do here.`;
}

interface Claim {
  file: StateFile;
  rule: Rule;
}

/**
 * Resolve the selected files against the host and merge them. One file resolves exactly as before;
 * several must not claim the same device (a rule's devices, a `vfs:` PF and the VFs it drives) and
 * must agree on `options`.
 */
export function resolveFiles(files: StateFile[], host: Host, sourcePath: string): Desired {
  if (files.length === 1) return resolve(files[0]!, host);
  const resolved: Desired[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const f of files) {
    try {
      resolved.push(resolve(f, host));
    } catch (err) {
      if (!(err instanceof VrError)) throw err;
      diagnostics.push(...err.diagnostics);
    }
  }
  if (diagnostics.length) throw new VrError('selector', `${sourcePath}: ${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'}`, diagnostics);

  const byKey = new Map(host.devices.map((d) => [d.key, d]));
  const claims = new Map<DeviceKey, Claim>();
  const overlap: Diagnostic[] = [];
  const claim = (key: DeviceKey, c: Claim): void => {
    const first = claims.get(key);
    if (!first) return void claims.set(key, c);
    if (first.file === c.file) return; // one file's own rules: resolve already checked they agree
    const d: Device | undefined = byKey.get(key);
    overlap.push({
      file: c.rule.pos.file,
      line: c.rule.pos.line,
      col: c.rule.pos.col,
      message: `${d ? deviceLabel(d) : key} is claimed by ${where(first)} and by ${where(c)}`,
      hint: 'a device belongs to one state file: remove it from one of them, or narrow hosts/dmi/machineIds so they do not both select this host',
    });
  };
  resolved.forEach((desired, i) => {
    const file = files[i]!;
    for (const b of desired.bindings) claim(b.device, { file, rule: b.rule });
    for (const v of desired.vfs) {
      claim(v.pf, { file, rule: v.rule });
      if (v.target.kind !== 'default') for (const vf of byKey.get(v.pf)?.virtfns ?? []) claim(vf, { file, rule: v.rule });
    }
  });
  const policies = new Set(files.map((f) => f.options.iommuGroups));
  if (policies.size > 1) {
    overlap.push({
      file: sourcePath,
      message: `the files for this host disagree on options.iommuGroups: ${files.map((f) => `${f.path} ${f.options.iommuGroups}`).join(', ')} (strict is the default)`,
      hint: 'set the same options.iommuGroups in every file for this host',
    });
  }
  if (overlap.length) throw new VrError('selector', `${sourcePath}: the state files for this host overlap`, overlap);

  const state: StateFile = {
    path: sourcePath,
    version: 1,
    rules: files.flatMap((f) => f.rules),
    mdevs: files.flatMap((f) => f.mdevs),
    options: files[0]!.options,
  };
  const byDevice = (a: DeviceKey, b: DeviceKey): number => (a < b ? -1 : a > b ? 1 : 0);
  return {
    state,
    bindings: resolved.flatMap((d) => d.bindings).sort((a, b) => byDevice(a.device, b.device)),
    vfs: resolved.flatMap((d) => d.vfs).sort((a, b) => byDevice(a.pf, b.pf)),
    warnings: resolved.flatMap((d) => d.warnings ?? []),
    ...(resolved.some((d) => d.created?.length) ? { created: resolved.flatMap((d) => d.created ?? []) } : {}),
    ...(resolved.some((d) => d.mdevs?.length) ? { mdevs: resolved.flatMap((d) => d.mdevs ?? []) } : {}),
  };
}

/** `hosts/gpu.yaml:4 (rule 'rtx3090')` */
function where({ file, rule }: Claim): string {
  return `${file.path}:${rule.pos.line} (rule ${rule.name !== undefined ? `'${rule.name}'` : `devices[${rule.index}]`})`;
}
