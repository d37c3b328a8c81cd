// Writing and removing the installed files under a root (`/`, or an image being built), with a
// manifest of exactly what was written, so `uninstall` removes those files and nothing else, and
// refuses to remove (or `install` to overwrite) a file someone else wrote or edited since.

import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VrError } from '../domain/errors.js';
import { openStateDir } from '../state/dir.js';

/** A file as it is on the target system: absolute `path`, and either text or a symlink target. */
export type InstallFile = { path: string; content: string } | { path: string; link: string };

interface ManifestEntry {
  path: string;
  sha256?: string;
  link?: string;
}

export interface Manifest {
  format: 1;
  files: ManifestEntry[];
}

export const MANIFEST_NAME = 'install.json';

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');
const entryOf = (f: InstallFile): ManifestEntry => ('link' in f ? { path: f.path, link: f.link } : { path: f.path, sha256: sha256(f.content) });
const under = (root: string, path: string): string => join(root, path);

export function readManifest(file: string): Manifest | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const m = JSON.parse(text) as Manifest;
  if (m.format !== 1 || !Array.isArray(m.files)) throw new VrError('input', `${file} is not a manifest vfio-reconcile install wrote`);
  return m;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What is at `path` now, against what the manifest says was written; null when it matches. */
function difference(root: string, e: ManifestEntry): string | null {
  const at = under(root, e.path);
  let st;
  try {
    st = lstatSync(at);
  } catch {
    return 'missing';
  }
  if (e.link !== undefined) return st.isSymbolicLink() && readlinkSync(at) === e.link ? null : 'no longer the symlink install made';
  if (!st.isFile()) return 'no longer a regular file';
  return sha256(readFileSync(at)) === e.sha256 ? null : 'changed since install wrote it';
}

/**
 * Writes `files` under `root`, and the manifest into `manifestDir` (under root too). A file already
 * there is replaced only if the previous install wrote it and nobody changed it since.
 */
export function writeInstall(root: string, files: InstallFile[], manifestDir: string): void {
  const previous = new Map((readManifest(join(root, manifestDir, MANIFEST_NAME))?.files ?? []).map((e) => [e.path, e]));
  const blocked: string[] = [];
  for (const f of files) {
    const known = previous.get(f.path);
    if (exists(under(root, f.path)) && (!known || difference(root, known) !== null)) blocked.push(f.path);
  }
  if (blocked.length) {
    throw new VrError('safety', `refusing to install: ${blocked.join(', ')} ${blocked.length === 1 ? 'exists and was' : 'exist and were'} not written by vfio-reconcile install (or changed since); nothing was written`, [
      { message: 'files in the way', hint: 'move them aside (or run `vfio-reconcile uninstall --force` if an earlier install wrote them), then install again' },
    ]);
  }
  for (const f of files) {
    const at = under(root, f.path);
    mkdirSync(dirname(at), { recursive: true });
    if ('link' in f) {
      rmSync(at, { force: true });
      symlinkSync(f.link, at);
    } else {
      // Replace by rename, so a unit or rules file is never seen half-written.
      writeFileSync(`${at}.vr-tmp`, f.content, { mode: 0o644 });
      renameSync(`${at}.vr-tmp`, at);
    }
  }
  const dir = openStateDir(join(root, manifestDir), { create: true })!;
  writeFileSync(join(dir.path, MANIFEST_NAME), JSON.stringify({ format: 1, files: files.map(entryOf) } satisfies Manifest, null, 2) + '\n', { mode: 0o600 });
}

export interface Removal {
  removed: string[];
  /** Listed in the manifest but already gone. */
  missing: string[];
}

/** Removes what the manifest lists (refusing files changed since, unless `force`), then the manifest. */
export function removeInstall(root: string, manifestDir: string, opts: { force: boolean; dryRun: boolean }): Removal | null {
  const manifestFile = join(root, manifestDir, MANIFEST_NAME);
  const manifest = readManifest(manifestFile);
  if (!manifest) return null;
  const state = manifest.files.map((e) => ({ e, diff: difference(root, e) }));
  const changed = state.filter((s) => s.diff !== null && s.diff !== 'missing');
  if (changed.length && !opts.force) {
    throw new VrError('safety', `refusing to uninstall; nothing was removed:\n${changed.map((s) => `  ${s.e.path}: ${s.diff}`).join('\n')}`, [
      { message: 'installed files were changed', hint: 'keep your copy elsewhere, then run `vfio-reconcile uninstall --force`' },
    ]);
  }
  const removal: Removal = { removed: state.filter((s) => s.diff !== 'missing').map((s) => s.e.path), missing: state.filter((s) => s.diff === 'missing').map((s) => s.e.path) };
  if (opts.dryRun) return removal;
  for (const path of removal.removed) rmSync(under(root, path), { force: true });
  rmSync(manifestFile, { force: true });
  return removal;
}
