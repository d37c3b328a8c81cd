// Writes off the main process. A FIFO stands in for an attribute whose write the kernel blocks:
// opening one for writing sleeps until a reader comes, a real blocking write without touching /sys.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { KernelWriteError } from '../../src/domain/errors.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { WriteWorker } from '../../src/sysfs/write-worker.js';
import { packageRoot } from '../../src/cli/paths.js';
import { sysfsTree } from '../cli/harness.js';
import { AUDIO, GPU, GPU_STATE, journalRecords, workspace } from './support.js';

const WORKER = fileURLToPath(new URL('../../src/sysfs/write-worker.js', import.meta.url));

const s = suite<{ w: ReturnType<typeof workspace> }>('write worker');
s.before.each((ctx) => {
  ctx.w = workspace();
});
s.after.each((ctx) => ctx.w.cleanup());

const fifo = (path: string): string => {
  execFileSync('mkfifo', [path]);
  return path;
};

async function rejection(p: Promise<unknown>): Promise<KernelWriteError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KernelWriteError) return err;
    throw err;
  }
  throw new Error('expected the write to fail');
}

/** Until `pid` has exited (a process abandoned in a write must end once its parent has). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 250 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 20));
  return !existsSync(`/proc/${pid}`);
}

s('the worker writes a value with the port\'s semantics: replaced in one write, ENOENT for an absent attribute', async ({ w }) => {
  const worker = new WriteWorker();
  const port = new FsSysfsPort(w.dir, { writer: worker });
  w.file('driver_override', '(null)\n');
  await port.write('driver_override', 'vfio-pci');
  assert.is(readFileSync(join(w.dir, 'driver_override'), 'utf8'), 'vfio-pci');
  const err = await rejection(port.write('unbind', '0000:01:00.0'));
  assert.is(err.code, 'ENOENT');
  assert.is(err.path, 'unbind');
  assert.not.ok(existsSync(join(w.dir, 'unbind')), 'no attribute is created');
  worker.close();
});

s('a write that blocks is abandoned after holdMs, and the next write goes to a fresh child', async ({ w }) => {
  const worker = new WriteWorker({ holdMs: 100 });
  const port = new FsSysfsPort(w.dir, { writer: worker });
  fifo(join(w.dir, 'unbind'));
  w.file('driver_override', '');
  let settled = false;
  void port.write('unbind', '0000:01:00.0').finally(() => (settled = true));
  while (worker.abandoned.length === 0) await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(settled, 'the blocked write has not returned');
  await port.write('driver_override', '\n');
  assert.is(readFileSync(join(w.dir, 'driver_override'), 'utf8'), '\n');
  worker.close();
  // Let the stuck child go: a reader opens the FIFO, its write completes, it is disconnected.
  readFileSync(join(w.dir, 'unbind'));
  assert.ok(await gone(worker.abandoned[0]!));
});

s('a process whose write is stuck in the worker still exits, and so does the stuck child', ({ w }) => {
  const stuck = fifo(join(w.dir, 'unbind'));
  const script = `
    const { WriteWorker } = await import(${JSON.stringify(WORKER)});
    const worker = new WriteWorker({ holdMs: 100 });
    worker.write(${JSON.stringify(stuck)}, 'x');
    const report = setInterval(() => {
      if (worker.abandoned.length === 0) return;
      console.log('reported', worker.abandoned.join(','));
      clearInterval(report);
    }, 20);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.signal, null, 'the process exited by itself');
  assert.is(r.status, 0, r.stderr);
  const pid = Number(/reported (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(pid > 0);
  return gone(pid).then((ok) => assert.ok(ok, `abandoned child ${pid} is gone`));
});

s('apply against a tree whose unbind blocks: hang reported within --write-timeout, exit 4, the process ends', async ({ w }) => {
  const model = gpuPassthrough();
  await model.load('vfio_pci'); // registered up front: a tree that is not /sys cannot load modules
  const tree = sysfsTree(model);
  try {
    // unbind is write-only, never read: only the apply's write meets the FIFO.
    const attr = join(tree.dir, 'bus/pci/drivers/nouveau/unbind');
    rmSync(attr);
    fifo(attr);
    const gpu = w.file('gpu.yaml', GPU_STATE);
    const r = spawnSync(
      process.execPath,
      [join(packageRoot, 'bin/run.js'), 'apply', gpu, '--sysfs-root', tree.dir, '--state-dir', w.stateDir, '--write-timeout', '1', '--hostname', 'pve-lab', '--no-color'],
      { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1', VFIO_RECONCILE_PCI_IDS: '' } },
    );
    assert.is(r.signal, null, 'the tool exited by itself');
    assert.is(r.status, 4, r.stderr);
    assert.match(r.stderr, `apply failed at step 3 (unbind pci/${GPU} from nouveau)`);
    assert.match(r.stderr, `did not return within 1 s: nouveau waits for ${GPU} to be released`);
    assert.match(r.stderr, `pci/${GPU}: on nouveau, override vfio-pci; before the apply: on nouveau, no override\n    a write to it never returned`);
    assert.match(r.stderr, `Restored: pci/${AUDIO}.`);
    const outcome = journalRecords(w.stateDir).at(-1)!;
    assert.ok(outcome.type === 'outcome' && outcome.outcome === 'rollback-failed');
  } finally {
    tree.cleanup();
  }
});

s.run();
