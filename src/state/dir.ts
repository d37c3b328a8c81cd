// The state dir (design.md "Where state lives"): the lock, the journals and managed.json. Whatever
// is in it steers writes to /sys as root, so a directory someone else could plant files in (a
// symlink, world-writable, owned by another user) is refused rather than trusted.

import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VrError } from '../domain/errors.js';

export const DEFAULT_STATE_DIR = '/var/lib/vfio-reconcile';

export interface StateDir {
  path: string;
  lockFile: string;
  journalDir: string;
  managedFile: string;
}

/**
 * The state dir for a run: `--state-dir` when given; otherwise the default, but only for the live
 * /sys. A copy of a tree under another --sysfs-root is not this host, and its journal and managed
 * set must not mix with the host's: without --state-dir such a run keeps no state (null).
 */
export function stateDirPath(flag: string | undefined, sysfsRoot: string): string | null {
  if (flag !== undefined) return flag;
  return sysfsRoot === '/sys' ? DEFAULT_STATE_DIR : null;
}

const layout = (path: string): StateDir => ({
  path,
  lockFile: join(path, 'lock'),
  journalDir: join(path, 'journal'),
  managedFile: join(path, 'managed.json'),
});

/**
 * The checked state dir. Missing: created (0700, with journal/) when `create`, else null, since a
 * read-only command has nothing to read there yet.
 */
export function openStateDir(path: string, opts: { create: boolean }): StateDir | null {
  if (!checkDir(path, 'state dir')) {
    if (!opts.create) return null;
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new VrError('environment', `cannot create state dir ${path}: ${(err as Error).message}`, [
        { message: `mkdir ${path} failed`, hint: 'run as root, or point --state-dir at a directory you own' },
      ]);
    }
    checkDir(path, 'state dir');
  }
  const dir = layout(path);
  if (!checkDir(dir.journalDir, 'journal dir') && opts.create) {
    mkdirSync(dir.journalDir, { mode: 0o700 });
    checkDir(dir.journalDir, 'journal dir');
  }
  return dir;
}

/** False when absent; throws for anything that must not be trusted. */
function checkDir(path: string, what: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw refuse(path, `${what} ${path} cannot be read: ${(err as Error).message}`, 'run as root (the state dir is 0700)');
  }
  if (st.isSymbolicLink()) throw refuse(path, `${what} ${path} is a symlink`, 'point --state-dir at the real directory');
  if (!st.isDirectory()) throw refuse(path, `${what} ${path} is not a directory`, 'point --state-dir at a directory');
  if (st.mode & 0o002) throw refuse(path, `${what} ${path} is world-writable (mode ${(st.mode & 0o7777).toString(8)})`, `chmod 700 ${path}`);
  // Root's directory is trusted by everyone; any other owner only by itself.
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw refuse(path, `${what} ${path} belongs to uid ${st.uid}, neither this user (uid ${uid}) nor root`, `chown ${uid} ${path}, or use another --state-dir`);
  }
  return true;
}

function refuse(path: string, message: string, hint: string): VrError {
  return new VrError('environment', `refusing to use ${message}: anyone who can change it could steer what apply writes`, [
    { message: `untrusted state dir ${path}`, hint },
  ]);
}

/** Flags for every file the tool opens in its state dir: a symlink planted there is never followed. */
export const NOFOLLOW = constants.O_NOFOLLOW;

/** A state file's text, or null when absent. */
export function readStateFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `text` to `fd` and flushes it to disk. */
export function writeDurable(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
  fsyncSync(fd);
}

/** Makes a directory entry change (create, rename, unlink) durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` with `text` so that a crash leaves either the old or the new content. */
export function writeAtomic(path: string, text: string): void {
  const dir = join(path, '..');
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW, 0o600);
  try {
    writeDurable(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  syncDir(dir);
}
