// Writing a document the tool will read back (a snapshot, a saved plan, an exported state file):
// all at once through a temp file and a rename, so a reader never sees half of one, and an error
// in words rather than an errno.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VrError } from '../domain/errors.js';

export function writeOutput(path: string, text: string, what: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new VrError('input', `cannot write ${what} to ${path}: ${why}`, [{ file: path, message: `cannot write ${what}: ${why}` }]);
  }
}
