// Small assertion helpers for tests that write through a SysfsPort.

import * as assert from 'uvu/assert';
import { KernelWriteError } from '../../src/domain/errors.js';

/** Awaits a write and returns the errno it failed with, or 'ok'. */
export async function outcome(write: Promise<void>): Promise<string> {
  try {
    await write;
    return 'ok';
  } catch (err) {
    assert.instance(err, KernelWriteError);
    return (err as KernelWriteError).code;
  }
}

/** Whether a promise is still unsettled after pending microtasks and one macrotask ran. */
export async function isPending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setImmediate(r));
  return !settled;
}
