// SysfsPort over a real directory: /sys on a live host, a temp tree in tests, a --sysfs-root
// snapshot. Reads are synchronous on purpose: observe reads thousands of tiny files and sync calls
// are markedly faster than promises for that. Writes are async so that a write the kernel blocks
// (unbind of a busy device) does not freeze the event loop and the caller can bound it; the CLI
// hands in a WriteWorker so that such a write blocks a child process, not this one.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { KernelWriteError } from '../domain/errors.js';
import type { SysfsPort } from './port.js';
import { inProcessWriter, type AttrWriter } from './write-attr.js';

export class FsSysfsPort implements SysfsPort {
  readonly root: string;
  private readonly writer: AttrWriter;

  constructor(root: string, opts: { writer?: AttrWriter } = {}) {
    this.root = root;
    this.writer = opts.writer ?? inProcessWriter;
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
    try {
      await this.writer.write(file, value);
    } catch (err) {
      // A failure without an errno (the write worker died) keeps its message as the detail.
      const e = err as { code?: string; detail?: string; message?: string };
      throw new KernelWriteError(e.code ?? 'EIO', path, value, e.code ? e.detail : e.message);
    }
  }
}
