// The state dir: created private, and refused when someone else could plant files in it.

import { chmodSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { VrError } from '../../src/domain/errors.js';
import { DEFAULT_STATE_DIR, openStateDir, stateDirPath } from '../../src/state/dir.js';
import { workspace } from './support.js';

const s = suite<{ w: ReturnType<typeof workspace> }>('state dir');
s.before.each((ctx) => {
  ctx.w = workspace();
});
s.after.each((ctx) => ctx.w.cleanup());

const refused = (path: string): VrError => {
  try {
    openStateDir(path, { create: true });
  } catch (err) {
    if (err instanceof VrError) return err;
    throw err;
  }
  throw new Error(`expected ${path} to be refused`);
};

s('a missing state dir is created 0700 with journal/ inside, only when asked to', ({ w }) => {
  const path = join(w.dir, 'a/b/state');
  assert.is(openStateDir(path, { create: false }), null);
  const dir = openStateDir(path, { create: true })!;
  assert.is(statSync(path).mode & 0o777, 0o700);
  assert.is(statSync(dir.journalDir).mode & 0o777, 0o700);
});

s('a symlinked state dir is refused', ({ w }) => {
  mkdirSync(join(w.dir, 'real'));
  symlinkSync(join(w.dir, 'real'), join(w.dir, 'link'));
  const err = refused(join(w.dir, 'link'));
  assert.is(err.kind, 'environment');
  assert.match(err.message, 'is a symlink');
});

s('a world-writable state dir is refused with the chmod that fixes it', ({ w }) => {
  const path = join(w.dir, 'open');
  mkdirSync(path);
  chmodSync(path, 0o777);
  const err = refused(path);
  assert.match(err.message, 'world-writable (mode 777)');
  assert.is(err.diagnostics[0]!.hint, `chmod 700 ${path}`);
});

s('a file where the state dir should be is refused', ({ w }) => {
  const err = refused(w.file('plain', 'x'));
  assert.match(err.message, 'is not a directory');
});

s('the default state dir belongs to the live /sys only', () => {
  assert.is(stateDirPath(undefined, '/sys'), DEFAULT_STATE_DIR);
  assert.is(stateDirPath(undefined, '/tmp/tree'), null);
  assert.is(stateDirPath('/srv/state', '/tmp/tree'), '/srv/state');
});

s.run();
