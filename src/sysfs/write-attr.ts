// One sysfs attribute write with the kernel's single-write semantics (kernel-abi.md section 0),
// shared by FsSysfsPort in this process and by the write worker's child process.

import { constants, promises as fsp } from 'node:fs';

// O_WRONLY: write-only attributes (bind, unbind, drivers_probe) refuse a read open with EACCES.
// No O_CREAT: an absent attribute must fail with ENOENT as on sysfs, not appear as a new file in
// a tree. O_TRUNC so a value written into a plain-file tree replaces the previous one.
const WRITE_FLAGS = constants.O_WRONLY | constants.O_TRUNC;

/** A write the kernel refused: `code` is the errno name. */
export class WriteFailure extends Error {
  constructor(
    readonly code: string,
    readonly detail?: string,
  ) {
    super(detail ? `${code} (${detail})` : code);
    this.name = 'WriteFailure';
  }
}

/** Performs writes to absolute attribute paths; rejects with WriteFailure. */
export interface AttrWriter {
  write(file: string, value: string): Promise<void>;
}

export async function writeAttr(file: string, value: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, WRITE_FLAGS);
    // One write(2) is one ->store() call: the whole value must go in a single write.
    const { bytesWritten } = await handle.write(value);
    if (bytesWritten !== Buffer.byteLength(value)) throw new WriteFailure('EIO', `short write: ${bytesWritten} bytes`);
  } catch (err) {
    if (err instanceof WriteFailure) throw err;
    throw new WriteFailure((err as NodeJS.ErrnoException).code ?? 'EIO');
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Writes in this process: a write the kernel blocks blocks one of libuv's threads, and exit with it. */
export const inProcessWriter: AttrWriter = { write: writeAttr };
