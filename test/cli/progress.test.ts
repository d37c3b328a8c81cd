// Progress while writing: which form a run gets (live line on a terminal, lines with --verbose,
// nothing for a pipe or --quiet), what the live line draws and leaves behind, and --verbose's
// report of each write.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { liveProgress, progressFor, progressHooks } from '../../src/cli/apply-view.js';
import { palette } from '../../src/cli/color.js';
import { tracedPort } from '../../src/cli/trace.js';
import type { Step } from '../../src/domain/types.js';
import { KernelWriteError } from '../../src/domain/errors.js';
import type { SysfsPort } from '../../src/sysfs/port.js';

const s = suite('cli progress');
const plain = palette(false);
const unbind: Step = { kind: 'unbind', device: 'pci/0000:01:00.0', driver: 'nouveau', group: '1' };
const probe: Step = { kind: 'probe', device: 'pci/0000:01:00.0', group: '1' };

function sink(): { write(t: string): void; text(): string } {
  const out: string[] = [];
  return { write: (t) => void out.push(t), text: () => out.join('') };
}

s('the form follows the stream and the flags: live on a terminal, lines with --verbose anywhere, none otherwise', () => {
  const tty = { isTTY: true, columns: 80, write: () => true };
  const pipe = { isTTY: false, write: () => true };
  const env = {};
  const form = (h: ReturnType<typeof progressFor>) => (h === undefined ? 'none' : 'some');
  assert.is(form(progressFor({ verbosity: 'normal', stream: pipe, env, palette: plain })), 'none', 'a pipe gets no ticker');
  assert.is(form(progressFor({ verbosity: 'quiet', stream: tty, env, palette: plain })), 'none', '--quiet on a terminal');
  assert.is(form(progressFor({ verbosity: 'normal', stream: tty, env: { TERM: 'dumb' }, palette: plain })), 'none', 'TERM=dumb cannot rewrite a line');
  assert.is(form(progressFor({ verbosity: 'normal', stream: tty, env, palette: plain })), 'some');
  assert.is(form(progressFor({ verbosity: 'verbose', stream: pipe, env, palette: plain })), 'some', '--verbose writes lines to a pipe');
});

s('live line: step N of M, what and which device, time since the start; cleared when the step ends', async () => {
  const out = sink();
  let now = 1000;
  const hooks = liveProgress({ write: out.write, columns: 80 }, plain, () => now);
  now = 3400;
  await hooks.onStepStart!(unbind, 2, 9);
  assert.is(out.text(), '\r\x1b[2K[3/9] unbind pci/0000:01:00.0 from nouveau  2.4s');
  await hooks.onStepDone!(unbind, 2, 9, 12);
  assert.ok(out.text().endsWith('\r\x1b[2K'), 'the line is cleared for what follows');
  assert.not.match(out.text(), '\n', 'a step that succeeds leaves no line behind');
});

s('live line: cut to the terminal width, since a wrapped line cannot be rewritten', async () => {
  const out = sink();
  const hooks = liveProgress({ write: out.write, columns: 30 }, plain, () => 0);
  await hooks.onStepStart!(unbind, 0, 1);
  const drawn = out.text().split('\x1b[2K').at(-1)!;
  assert.ok(drawn.length <= 30, JSON.stringify(drawn));
  assert.match(drawn, /^\[1\/1\] unbind pci\/0000.*…  0\.0s$/);
});

s('live line: a failed step and the rollback writes stay on screen', async () => {
  const out = sink();
  const hooks = liveProgress({ write: out.write, columns: 120 }, plain, () => 0);
  await hooks.onStepStart!(probe, 5, 9);
  await hooks.onStepFailed!(probe, new Error('0000:01:00.0 did not bind'));
  await hooks.onRollbackStep!('pci/0000:01:00.0', 'rebind nouveau');
  const lines = out.text().split('\n').map((l) => l.split('\x1b[2K').at(-1));
  assert.equal(lines, ['[6/9] probe pci/0000:01:00.0: failed: 0000:01:00.0 did not bind', 'rollback pci/0000:01:00.0: rebind nouveau', '']);
});

s('live line: colored only when the palette is', async () => {
  const out = sink();
  const hooks = liveProgress({ write: out.write }, palette(true), () => 0);
  await hooks.onStepStart!(unbind, 0, 1);
  assert.match(out.text(), '\x1b[2m0.0s\x1b[22m');
});

s('lines (--verbose): the step, then ok with its time, as plain text without color', async () => {
  const out = sink();
  const hooks = progressHooks(out.write, plain);
  await hooks.onStepStart!(unbind, 0, 2);
  await hooks.onStepDone!(unbind, 0, 2, 2.25);
  await hooks.onStepStart!(probe, 1, 2);
  await hooks.onStepDone!(probe, 1, 2, 130.4);
  assert.is(out.text(), '[1/2] unbind pci/0000:01:00.0 from nouveau\n  ok (2.3 ms)\n[2/2] probe pci/0000:01:00.0\n  ok (130 ms)\n');
});

class FakePort implements SysfsPort {
  readonly root = '/sys';
  readonly written: [string, string][] = [];
  read(path: string): string | null {
    return path === 'x' ? 'y' : null;
  }
  readLink(): string | null {
    return null;
  }
  list(): string[] {
    return [];
  }
  write(path: string, value: string): Promise<void> {
    if (path.endsWith('unbind')) return Promise.reject(new KernelWriteError('EBUSY', path, value));
    this.written.push([path, value]);
    return Promise.resolve();
  }
}

s('--verbose reports each write with its full path, the value and its time; a refused write too', async () => {
  const lines: string[] = [];
  const port = new FakePort();
  const traced = tracedPort(port, (l) => void lines.push(l));
  await traced.write('bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  await traced.write('bus/pci/devices/0000:01:00.0/unbind', '0000:01:00.0').then(
    () => assert.unreachable('the kernel refused it'),
    (err: unknown) => assert.instance(err, KernelWriteError),
  );
  assert.equal(port.written, [['bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci']]);
  assert.match(lines[0]!, /^  write \/sys\/bus\/pci\/devices\/0000:01:00\.0\/driver_override "vfio-pci" \(\d+\.\d ms\)$/);
  assert.match(lines[1]!, /^  write \/sys\/bus\/pci\/devices\/0000:01:00\.0\/unbind "0000:01:00\.0": failed after \d+\.\d ms: .*EBUSY/);
  assert.is(traced.read('x'), 'y', 'reads pass through untouched');
  assert.is(traced.root, '/sys');
});

s.run();
