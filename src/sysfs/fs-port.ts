// SysfsPort over a real directory: /sys on a live host, a temp tree in tests, a --sysfs-root
// snapshot. Reads are synchronous on purpose: observe reads thousands of tiny files and sync calls
// are markedly faster than promises for that. Writes are async so that a write the kernel blocks
// (unbind of a busy device) does not freeze the event loop and the caller can bound it.

import { constants, promises as fsp, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { KernelWriteError } from '../domain/errors.js';
import type { SysfsPort } from './port.js';

// O_WRONLY: write-only attributes (bind, unbind, drivers_probe) refuse a read open with EACCES.
// No O_CREAT: an absent attribute must fail with ENOENT as on sysfs, not appear as a new file in
// a tree. O_TRUNC so a value written into a plain-file tree replaces the previous one.
const WRITE_FLAGS = constants.O_WRONLY | constants.O_TRUNC;

export class FsSysfsPort implements SysfsPort {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** Absolute path of a root-relative sysfs path; throws for anything that could leave the root. */
  resolve(path: string): string {
    if (path.startsWith('/') || path.includes('\0')) {
      throw new Error(`sysfs path must be relative to the root: ${JSON.stringify(path)}`);
    }
    if (path.split('/').some((part) => part === '..')) {
      throw new Error(`sysfs path must not climb out of the root: ${JSON.stringify(path)}`);
    }
    return path === '' ? this.root : join(this.root, path);
  }

  read(path: string): string | null {
    const file = this.resolve(path);
    try {
      const text = readFileSync(file, 'utf8');
      return text.endsWith('\n') ? text.slice(0, -1) : text;
    } catch {
      return null;
    }
  }

  readLink(path: string): string | null {
    const file = this.resolve(path);
    try {
      return readlinkSync(file);
    } catch {
      return null;
    }
  }

  list(path: string): string[] {
    const dir = this.resolve(path);
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  }

  async write(path: string, value: string): Promise<void> {
    const file = this.resolve(path);
    let handle: fsp.FileHandle | undefined;
    try {
      handle = await fsp.open(file, WRITE_FLAGS);
      // One write(2) is one ->store() call: the whole value must go in a single write.
      const { bytesWritten } = await handle.write(value);
      if (bytesWritten !== Buffer.byteLength(value)) {
        throw new KernelWriteError('EIO', path, value, `short write: ${bytesWritten} bytes`);
      }
    } catch (err) {
      if (err instanceof KernelWriteError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new KernelWriteError(code, path, value);
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
}
