// The npm package as a user gets it: `npm pack`, `npm install -g` into a temp prefix, then the
// installed `vfio-reconcile` found on PATH, run from a directory outside this checkout. The tarball
// is packed from the built dist/ (npm test builds first); `prepare` builds it for a publish, a pack
// or a git install (the only script npm runs when it packs a git dependency).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { copyExample, run, runFromCheckout, show, tempDir } from './support.js';

interface Packed {
  filename: string;
  files: { path: string }[];
}

const s = suite<{ dir: string; prefix: string; packed: Packed; cleanup: () => void }>('npm package');

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

s.before((ctx) => {
  const t = tempDir('npm');
  ctx.dir = t.dir;
  ctx.cleanup = t.cleanup;
  ctx.prefix = join(t.dir, 'prefix');
  ctx.packed = (JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', t.dir], packageRoot)) as Packed[])[0]!;
  npm(['install', '--global', '--prefix', ctx.prefix, '--prefer-offline', join(t.dir, ctx.packed.filename)], t.dir);
  copyExample('gpu-passthrough', t.dir);
});
s.after((ctx) => ctx.cleanup());

/** The installed command by name, with PATH holding the prefix's bin and node, nothing else. */
const installed = (ctx: { dir: string; prefix: string }, args: string[]) =>
  run('vfio-reconcile', args, { cwd: ctx.dir, env: { PATH: `${join(ctx.prefix, 'bin')}:${dirname(process.execPath)}` } });

s('the tarball holds what runs and what a user reads, and no tests, sources or source maps', ({ packed }) => {
  const paths = packed.files.map((f) => f.path);
  for (const needed of ['bin/run.js', 'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/src/commands/plan.js', 'dist/src/desire/state-validator.cjs', 'dist/src/sysfs/write-child.js', 'schemas/state.schema.json', 'schemas/plan.schema.json']) {
    assert.ok(paths.includes(needed), `${needed} is packed`);
  }
  const stray = paths.filter((p) => /^(test|src|examples|scripts|bench|\.ci)\/|^dist\/(test|scripts|bench|examples)\/|\.map$|\.ts$/.test(p));
  assert.equal(stray, []);
});

s('package.json declares the node it needs and builds on prepare (npm pack, and a git install, run it)', () => {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { engines?: { node?: string }; scripts: Record<string, string>; bin: Record<string, string> };
  assert.is(pkg.engines?.node, '>=20');
  assert.is(pkg.scripts.prepare, 'npm run build:package');
  assert.match(pkg.scripts['build:package'] ?? '', /^tsc -p tsconfig\.build\.json && node dist\/src\/desire\/precompile\.js$/);
  assert.equal(pkg.bin, { 'vfio-reconcile': './bin/run.js' });
});

s('the installed vfio-reconcile is on PATH and answers --version', (ctx) => {
  const r = installed(ctx, ['--version']);
  assert.is(r.status, 0, show(r));
  assert.match(r.stdout, /^vfio-reconcile\/\d+\.\d+\.\d+ linux-/);
  assert.is(r.stdout, runFromCheckout(['--version'], ctx.dir).stdout);
});

s('the installed package validates and plans the example as the checkout does', (ctx) => {
  const validate = installed(ctx, ['validate', 'gpu-passthrough/state.yaml']);
  assert.is(validate.status, 0, show(validate));
  assert.is(validate.stdout, 'gpu-passthrough/state.yaml: ok\n');
  const args = ['plan', 'gpu-passthrough/state.yaml', '--sysfs-root', 'gpu-passthrough/sysfs', '--json'];
  const plan = installed(ctx, args);
  assert.is(plan.status, 0, show(plan));
  assert.equal(plan, runFromCheckout(args, ctx.dir));
  assert.is((JSON.parse(plan.stdout) as { summary: { devices: number } }).summary.devices, 3);
});

s.run();
