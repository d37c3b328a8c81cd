// Color is decided once from the environment and the flags (kleur's rules); checked as a function
// and through a real subprocess, whose stdout is never a terminal.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { colorEnabled } from '../../src/cli/color.js';
import { runOut, sysfsTree, tempDir } from './harness.js';

const s = suite('cli color');
const tree = sysfsTree(gpuPassthrough());
const tmp = tempDir('color');
const state = join(tmp.dir, 'gpu.yaml');
writeFileSync(state, 'version: 1\ndevices:\n  - match: { address: "01:00.*" }\n    driver: vfio-pci\n');
s.after(() => {
  tree.cleanup();
  tmp.cleanup();
});

s('a terminal gets color unless NO_COLOR, NODE_DISABLE_COLORS or TERM=dumb say otherwise', () => {
  assert.is(colorEnabled({ env: {}, isTTY: true }), true);
  assert.is(colorEnabled({ env: {}, isTTY: false }), false);
  assert.is(colorEnabled({ env: { NO_COLOR: '' }, isTTY: true }), false);
  assert.is(colorEnabled({ env: { NODE_DISABLE_COLORS: '1' }, isTTY: true }), false);
  assert.is(colorEnabled({ env: { TERM: 'dumb' }, isTTY: true }), false);
});

s('FORCE_COLOR forces it on a pipe, FORCE_COLOR=0 turns it off; NO_COLOR wins over FORCE_COLOR', () => {
  assert.is(colorEnabled({ env: { FORCE_COLOR: '1' }, isTTY: false }), true);
  assert.is(colorEnabled({ env: { FORCE_COLOR: '0' }, isTTY: true }), false);
  assert.is(colorEnabled({ env: { FORCE_COLOR: '1', NO_COLOR: '1' }, isTTY: true }), false);
});

s('--color / --no-color beat the environment', () => {
  assert.is(colorEnabled({ env: { NO_COLOR: '1' }, isTTY: false, flag: true }), true);
  assert.is(colorEnabled({ env: { FORCE_COLOR: '1' }, isTTY: true, flag: false }), false);
});

const ESC = '\x1b[';
const plan = (env: Record<string, string | undefined>, ...flags: string[]) =>
  runOut(['plan', state, '--sysfs-root', tree.dir, ...flags], env).stdout;

s('plan output through a pipe: plain by default, colored with FORCE_COLOR, plain again with --no-color', () => {
  assert.not.ok(plan({ NO_COLOR: undefined }).includes(ESC));
  assert.ok(plan({ NO_COLOR: undefined, FORCE_COLOR: '1' }).includes(ESC));
  assert.not.ok(plan({ NO_COLOR: undefined, FORCE_COLOR: '1' }, '--no-color').includes(ESC));
  assert.not.ok(plan({ NO_COLOR: undefined, FORCE_COLOR: '1' }, '--json').includes(ESC), 'JSON is never colored');
});

s.run();
