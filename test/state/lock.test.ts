// The host lock: one holder at a time, a waiting second run that gives up naming the holder, and
// stale locks (dead holder, or a reused pid) taken over and reported.

import { existsSync, writeFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { VrError } from '../../src/domain/errors.js';
import { openStateDir, type StateDir } from '../../src/state/dir.js';
import { acquireLock, readHolder } from '../../src/state/lock.js';
import { FakeMachine, workspace } from './support.js';

const s = suite<{ dir: StateDir; machine: FakeMachine; cleanup: () => void }>('state lock');

s.before.each((ctx) => {
  const w = workspace();
  ctx.dir = openStateDir(w.stateDir, { create: true })!;
  ctx.machine = new FakeMachine();
  ctx.cleanup = w.cleanup;
});
s.after.each((ctx) => ctx.cleanup());

const take = (dir: StateDir, m: FakeMachine, pid: number, timeoutMs = 0, onWait?: () => void) =>
  acquireLock(dir, m.process(pid), { command: `vfio-reconcile apply run-${pid}.yaml`, timeoutMs, pollMs: 10, ...(onWait ? { onWait } : {}) });

async function refusal(p: Promise<unknown>): Promise<VrError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VrError) return err;
    throw err;
  }
  throw new Error('expected the lock to be refused');
}

s('the lock file names its holder, and release removes it', async ({ dir, machine }) => {
  const lock = await take(dir, machine, 100);
  const holder = readHolder(dir.lockFile)!;
  assert.is(holder.pid, 100);
  assert.is(holder.command, 'vfio-reconcile apply run-100.yaml');
  assert.is(holder.hostname, 'pve-lab');
  assert.is(lock.recovered, null);
  lock.release();
  assert.not.ok(existsSync(dir.lockFile));
});

s('a second run with --lock-timeout 0 fails at once with kind lock, naming the holder', async ({ dir, machine }) => {
  await take(dir, machine, 100);
  const err = await refusal(take(dir, machine, 200));
  assert.is(err.kind, 'lock');
  assert.is(err.exitCode, 1);
  assert.match(err.message, 'pid 100');
  assert.match(err.message, 'vfio-reconcile apply run-100.yaml');
  assert.match(err.message, 'since 2025-03-01T');
  assert.is(readHolder(dir.lockFile)!.pid, 100, 'the holder keeps its lock');
});

s('a waiting run says it waits, and gets the lock once the holder releases it', async ({ dir, machine }) => {
  const first = await take(dir, machine, 100);
  let told = 0;
  const second = take(dir, machine, 200, 5000, () => {
    told += 1;
    setTimeout(() => first.release(), 30);
  });
  const lock = await second;
  assert.is(told, 1);
  assert.is(lock.holder.pid, 200);
  assert.is(readHolder(dir.lockFile)!.pid, 200);
});

s('a waiting run gives up after the timeout', async ({ dir, machine }) => {
  await take(dir, machine, 100);
  const err = await refusal(take(dir, machine, 200, 50));
  assert.is(err.kind, 'lock');
  assert.match(err.message, 'waited 0.05s (--lock-timeout)');
});

s('the lock of a dead process is taken over and reported', async ({ dir, machine }) => {
  await take(dir, machine, 100);
  machine.kill(100);
  const lock = await take(dir, machine, 200);
  assert.is(lock.recovered?.pid, 100);
  assert.is(readHolder(dir.lockFile)!.pid, 200);
});

s('a reused pid (same pid, other start time) does not keep a stale lock alive', async ({ dir, machine }) => {
  await take(dir, machine, 100);
  const holder = readHolder(dir.lockFile)!;
  writeFileSync(dir.lockFile, JSON.stringify({ ...holder, start: 'an-earlier-life' }));
  const lock = await take(dir, machine, 200);
  assert.is(lock.recovered?.pid, 100);
});

s('a holder on another host is never taken for stale', async ({ dir, machine }) => {
  await take(dir, machine, 100);
  writeFileSync(dir.lockFile, JSON.stringify({ ...readHolder(dir.lockFile)!, hostname: 'other-node' }));
  machine.kill(100);
  const err = await refusal(take(dir, machine, 200));
  assert.match(err.message, 'pid 100 on other-node');
});

s('release leaves a lock alone that is no longer this run\'s', async ({ dir, machine }) => {
  const first = await take(dir, machine, 100);
  machine.kill(100);
  await take(dir, machine, 200);
  first.release();
  assert.is(readHolder(dir.lockFile)!.pid, 200);
});

s('a lock file the tool did not write is refused, not removed', async ({ dir, machine }) => {
  writeFileSync(dir.lockFile, 'garbage');
  const err = await refusal(take(dir, machine, 200));
  assert.is(err.kind, 'lock');
  assert.match(err.message, 'is not a lock vfio-reconcile wrote');
  assert.ok(existsSync(dir.lockFile));
});

s.run();
