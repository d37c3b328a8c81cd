// SysfsPort over a real directory: /sys on a live host, a temp tree in tests, a --sysfs-root
// snapshot. Reads are synchronous on purpose: observe reads thousands of tiny files and sync calls
// are markedly faster than promises for that. Writes are async so that a write the kernel blocks
// (unbind of a busy device) does not freeze the event loop and the caller can bound it; the CLI
// hands in a WriteWorker so that such a write blocks a child process, not this one.

import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, normalize, sep } from 'node:path';
import { KernelWriteError } from '../domain/errors.js';
import { assertRootRelative } from './path.js';
import type { SysfsPort } from './port.js';
import { inProcessWriter, type AttrWriter } from './write-attr.js';

const readBuffer = Buffer.allocUnsafe(64 * 1024);
/** Empty or `.` segments, or a trailing slash: what join() would rewrite. */
const NEEDS_NORMALISING = /(^|\/)\.?(\/|$)/;

export class FsSysfsPort implements SysfsPort {
  readonly root: string;
  private readonly writer: AttrWriter;
  /** The root is already what join() would make of it, so joining a normal-form path is concatenation. */
  private readonly plainRoot: boolean;

  constructor(root: string, opts: { writer?: AttrWriter } = {}) {
    this.root = root;
    this.plainRoot = root !== '' && !root.endsWith(sep) && normalize(root) === root;
    this.writer = opts.writer ?? inProcessWriter;
  }

  /** Absolute path of a root-relative sysfs path; throws for anything that could leave the root. */
  resolve(path: string): string {
    assertRootRelative(path);
    if (path === '') return this.root;
    // A path in normal form joins by concatenation; join() normalises character by character, which
    // made it observe's largest source of garbage (hundreds of MB over a 16k-device host).
    return this.plainRoot && !NEEDS_NORMALISING.test(path) ? `${this.root}/${path}` : join(this.root, path);
  }

  /**
   * The kernel's own links never leave /sys, but a --sysfs-root tree is just files: refuse a write
   * that its symlinks would carry outside the root. Reads may follow them; they change nothing.
   */
  private assertLandsInside(path: string, file: string): void {
    const root = realpathSync(this.root);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      try {
        real = join(realpathSync(dirname(file)), basename(file));
      } catch {
        return; // nothing there: the open fails with the kernel's ENOENT
      }
    }
    if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
      throw new Error(`refusing to write ${path}: its symlinks lead out of the sysfs root ${this.root} (to ${real})`);
    }
  }

  read(path: string): string | null {
    const file = this.resolve(path);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return null;
    }
    let text: string;
    try {
      // sysfs hands over a whole attribute (at most a page) in one read, and so does a regular file
      // short of EOF: one read into a shared buffer, instead of readFileSync's fstat, read to EOF and
      // fresh buffer, for each of the thousands of attributes observe reads.
      const n = readSync(fd, readBuffer, 0, readBuffer.length, 0);
      text = n < readBuffer.length ? readBuffer.toString('utf8', 0, n) : readFileSync(file, 'utf8');
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
    return text.endsWith('\n') ? text.slice(0, -1) : text;
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
    this.assertLandsInside(path, file);
    try {
      await this.writer.write(file, value);
    } catch (err) {
      // A failure without an errno (the write worker died) keeps its message as the detail.
      const e = err as { code?: string; detail?: string; message?: string };
      throw new KernelWriteError(e.code ?? 'EIO', path, value, e.code ? e.detail : e.message);
    }
  }
}
