import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Schema from '../../src/commands/schema.js';
import Validate from '../../src/commands/validate.js';
import { runIn, runOut, tempDir } from './harness.js';

const s = suite('cli validate and schema');
const tmp = tempDir('validate');
const good = join(tmp.dir, 'good.yaml');
const bad = join(tmp.dir, 'bad.yaml');
writeFileSync(good, 'version: 1\ndevices:\n  - name: gpu\n    match: { address: "01:00.*" }\n    driver: vfio-pci\n');
writeFileSync(bad, 'version: 1\ndevices:\n  - name: gpu\n    match: {}\n    driver: vfio-pci\n    colour: red\n');

s.after(tmp.cleanup);

s('a valid file prints "FILE: ok" and exits 0', async () => {
  const r = await runIn(Validate, [good]);
  assert.is(r.stdout, `${good}: ok\n`);
  assert.is(r.exitCode, 0);
});

s('problems are printed as file:line:col and exit 1, good files still reported', async () => {
  const r = await runIn(Validate, [bad, good]);
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, new RegExp(`^${bad}:4:\\d+: .*match`, 'm'));
  assert.match(r.stdout, new RegExp(`^${bad}:6:\\d+: .*colour`, 'm'));
  assert.match(r.stdout, `${good}: ok`);
});

s('--json lists every file with its diagnostics', async () => {
  const r = await runIn(Validate, [bad, good, '--json']);
  assert.is(r.exitCode, 1);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.files.map((f: { ok: boolean }) => f.ok), [false, true]);
  assert.ok(doc.files[0].diagnostics.every((d: { line: number }) => d.line > 0));
});

s('a missing file is a problem, not a crash', () => {
  const r = runOut(['validate', join(tmp.dir, 'absent.yaml')]);
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, 'absent.yaml: cannot read the state file');
});

s('validate needs at least one file', () => {
  const r = runOut(['validate']);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /Missing 1 required arg/);
});

s('schema prints the state schema as JSON, --plan the plan schema', async () => {
  const state = JSON.parse((await runIn(Schema, [])).stdout);
  assert.match(state.title, /state file/);
  const r = runOut(['schema', '--plan']);
  assert.is(r.exitCode, 0);
  assert.match(JSON.parse(r.stdout).title, /plan/i);
});

s('unknown flags are input errors (exit 1, not oclif default 2)', () => {
  const r = runOut(['schema', '--bogus']);
  assert.is(r.exitCode, 1);
  const j = runOut(['schema', '--bogus', '--json']);
  assert.is(j.exitCode, 1);
  assert.is(JSON.parse(j.stdout).error.kind, 'input');
});

s.run();
