import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { outcome } from './helpers.js';

const fsp = suite<{ dir: string; port: FsSysfsPort }>('FsSysfsPort', { dir: '', port: new FsSysfsPort('/nonexistent') });

fsp.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'vr-fsport-'));
  ctx.port = new FsSysfsPort(ctx.dir);
  mkdirSync(join(ctx.dir, 'a/b'), { recursive: true });
  writeFileSync(join(ctx.dir, 'a/b/vendor'), '0x10de\n');
  writeFileSync(join(ctx.dir, 'a/b/two'), 'x\n\n');
  writeFileSync(join(ctx.dir, 'a/b/driver_override'), '(null)\n');
  symlinkSync('../../bus/pci/drivers/e1000e', join(ctx.dir, 'a/b/driver'));
});
fsp.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

fsp('read strips exactly one trailing newline; absent or unreadable is null', ({ port }) => {
  assert.is(port.read('a/b/vendor'), '0x10de');
  assert.is(port.read('a/b/two'), 'x\n');
  assert.is(port.read('a/b/missing'), null);
  assert.is(port.read('a/b'), null, 'a directory');
  assert.is(port.read('a/b/driver'), null, 'a dangling link');
});

fsp('readLink gives the raw target; list is sorted and [] when absent', ({ port }) => {
  assert.is(port.readLink('a/b/driver'), '../../bus/pci/drivers/e1000e');
  assert.is(port.readLink('a/b/vendor'), null);
  assert.equal(port.list('a/b'), ['driver', 'driver_override', 'two', 'vendor']);
  assert.equal(port.list('nope'), []);
  assert.equal(port.list(''), ['a']);
});

fsp('paths that could leave the root are refused before any I/O', async ({ port }) => {
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/b/..', 'a\0b']) {
    assert.throws(() => port.read(bad), /sysfs path/);
    assert.throws(() => port.list(bad), /sysfs path/);
    assert.throws(() => port.readLink(bad), /sysfs path/);
    await port.write(bad, 'x').then(
      () => assert.unreachable(`write to ${bad} should fail`),
      (err: Error) => assert.match(err.message, /sysfs path/),
    );
  }
});

fsp('a write that the tree\'s symlinks would carry out of the root is refused; links inside work', async ({ dir, port }) => {
  const outside = mkdtempSync(join(tmpdir(), 'vr-outside-'));
  try {
    writeFileSync(join(outside, 'unbind'), 'precious\n');
    symlinkSync(outside, join(dir, 'a/escape'));
    symlinkSync(join(outside, 'unbind'), join(dir, 'a/b/unbind'));
    symlinkSync('b', join(dir, 'a/inside'));
    for (const path of ['a/escape/unbind', 'a/b/unbind', 'a/escape/new']) {
      await port.write(path, 'x').then(
        () => assert.unreachable(`write to ${path} should be refused`),
        (err: Error) => assert.match(err.message, /out of the sysfs root/),
      );
    }
    assert.is(readFileSync(join(outside, 'unbind'), 'utf8'), 'precious\n');
    await port.write('a/inside/driver_override', 'vfio-pci');
    assert.is(readFileSync(join(dir, 'a/b/driver_override'), 'utf8'), 'vfio-pci');
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

fsp('write replaces the value in one write; an absent attribute is ENOENT, not a new file', async ({ dir, port }) => {
  await port.write('a/b/driver_override', 'vfio-pci');
  assert.is(readFileSync(join(dir, 'a/b/driver_override'), 'utf8'), 'vfio-pci');
  assert.is(await outcome(port.write('a/b/new_attr', '1')), 'ENOENT');
  assert.is(port.read('a/b/new_attr'), null);
});

fsp('a refused write carries the errno, the path and the value', async ({ port }) => {
  try {
    await port.write('a/b', 'x');
    assert.unreachable('writing a directory should fail');
  } catch (err) {
    const e = err as { code: string; path: string; value: string };
    assert.is(e.code, 'EISDIR');
    assert.is(e.path, 'a/b');
    assert.is(e.value, 'x');
  }
});

fsp.run();
