// `vfio-reconcile watch` as a real process: JSON lines on stdout, a state file that breaks later is an
// error event (not the end of the agent), and SIGTERM ends it with exit 0.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { packageRoot } from '../../src/cli/paths.js';
import { sysfsTree, tempDir } from '../cli/harness.js';

const s = suite('watch cli');
const tree = sysfsTree(gpuPassthrough());
const tmp = tempDir('watch-cli');
s.after(() => {
  tree.cleanup();
  tmp.cleanup();
});

interface Line {
  event: string;
  [k: string]: unknown;
}

/**
 * Starts `watch argv`, calls `onLine` for each JSON line until it returns true, then sends SIGTERM;
 * resolves with every line and the exit code. A child that outlives 30 s is killed (a failure).
 */
function watchUntil(argv: string[], onLine: (line: Line, all: Line[]) => boolean | void): Promise<{ lines: Line[]; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(packageRoot, 'bin/run.js'), 'watch', ...argv], {
    cwd: packageRoot,
    env: { ...process.env, NO_COLOR: '1', VFIO_RECONCILE_PCI_IDS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let buffer = '';
  let stderr = '';
  let signalled = false;
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = JSON.parse(buffer.slice(0, i)) as Line;
      buffer = buffer.slice(i + 1);
      lines.push(line);
      if (!signalled && onLine(line, lines)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    }
  });
  return new Promise((done) =>
    child.on('close', (code) => {
      clearTimeout(guard);
      done({ lines, code, stderr });
    }),
  );
}

s('--report-only: one JSON line per pass, SIGTERM stops it with exit 0', async () => {
  const state = join(tmp.dir, 'gpu.yaml');
  writeFileSync(state, 'version: 1\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*" }\n    driver: vfio-pci\n');
  const r = await watchUntil([state, '--sysfs-root', tree.dir, '--report-only', '--interval', '1'], (_l, all) => all.length === 2);
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.lines.map((l) => [l.event, l.trigger, l.changes]), [
    ['plan', 'start', 2],
    ['plan', 'interval', 2],
  ]);
  assert.ok(r.lines.every((l) => typeof l.time === 'string' && !Number.isNaN(Date.parse(l.time as string))));
});

s('a state file that breaks is an error event with file:line, and the agent keeps going until the fix', async () => {
  const state = join(tmp.dir, 'broken.yaml');
  writeFileSync(state, 'version: 1\ndevices:\n  - match: { vendr: "10de" }\n    driver: vfio-pci\n');
  const r = await watchUntil([state, '--sysfs-root', tree.dir, '--report-only', '--interval', '1'], (line) => {
    if (line.event === 'error') writeFileSync(state, 'version: 1\ndevices:\n  - match: { vendor: "10de" }\n    driver: vfio-pci\n');
    return line.event === 'plan';
  });
  assert.is(r.code, 0, r.stderr);
  const [error, plan] = r.lines;
  assert.equal([error!.event, error!.kind, error!.exitCode, error!.retryInMs], ['error', 'input', 1, 1000]);
  assert.equal(error!.diagnostics, [`${state}:3:14: unknown key 'vendr' in devices[0].match; did you mean 'vendor'?`]);
  assert.equal([plan!.event, plan!.trigger, plan!.changes], ['plan', 'retry', 2]);
});

s.run();
