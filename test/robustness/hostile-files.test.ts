// Broken and hostile state files through the real CLI (`node bin/run.js`), against a sysfs tree in
// a temp directory: `validate`, `plan` and `apply` each give a clear error pointing at the problem
// (file:line:col where there is a place to point at), exit 1, and leave every byte of the tree as
// it was. Every case goes through the command classes in-process (fast), `validate` through one
// real `node bin/run.js` for all files, and a few cases through real `plan`/`apply` processes.

import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { writeSysfsTree } from '../../src/kernel/tree.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import { runIn, tempDir } from '../cli/harness.js';
import { labHost, LAB_STATE } from './lab.js';
import { snapshotTree, treeChanges } from './support.js';

interface Result {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function runCli(argv: string[], opts: { asUser?: number } = {}): Promise<Result> {
  const node = [join(packageRoot, 'bin/run.js'), ...argv];
  // Dropping to another user needs root; a test run that is not root is already "another user".
  const [cmd, args] =
    opts.asUser !== undefined && process.getuid?.() === 0
      ? ['setpriv', [`--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups', process.execPath, ...node]]
      : [process.execPath, node];
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: packageRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', HOME: '/tmp' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ stdout, stderr, exitCode: code });
    });
  });
}

/** Runs `jobs` at most `width` at a time, results in order. */
async function pool<T>(jobs: (() => Promise<T>)[], width = 8): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

/** Deterministic bytes (no seed to chase when it fails): an LCG, so the garbage is the same every run. */
function garbage(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const billionLaughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat('bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`))
  .join('\n');

const rule = (match: string, driver: string) => `version: 1\ndevices:\n  - match: ${match}\n    driver: ${driver}\n`;

interface Case {
  name: string;
  /** File content, or a function that creates the path itself. */
  content: string | Buffer | ((path: string) => void);
  /** What the user must be told (a regexp over the output). */
  says: RegExp;
  /** `line:col` the message must point at. */
  at?: string;
}

const CASES: Case[] = [
  { name: 'alias-bomb', content: billionLaughs, says: /YAML anchors \(&name\) are not supported/, at: '1:4' },
  { name: 'alias-only', content: 'version: 1\ndevices: *x\n', says: /YAML (aliases|syntax)/ },
  { name: 'deep', content: `version: 1\ndevices: ${'['.repeat(500)}${']'.repeat(500)}\n`, says: /nested deeper than 32 levels/ },
  { name: 'deep-maps', content: `version: 1\n${Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n')} 1\n`, says: /nested deeper than 32 levels/ },
  { name: 'huge', content: `version: 1\n# ${'x'.repeat(1024 * 1024)}\n`, says: /larger than 1024 KiB/ },
  { name: 'many-rules', content: `version: 1\ndevices:\n${'  - { match: { address: "01:00.0" }, driver: none }\n'.repeat(25000)}`, says: /larger than 1024 KiB/ },
  { name: 'dup-key', content: 'version: 1\nversion: 1\n', says: /duplicate key 'version' \(first written at line 1\)/, at: '2:1' },
  { name: 'dup-nested', content: rule('{ address: "01:00.0", address: "02:00.0" }', 'none'), says: /duplicate key 'address'/, at: '3:34' },
  { name: 'wrong-type', content: 'version: 1\ndevices: "all of them"\n', says: /devices must be a list, got the text "all of them"/, at: '2:10' },
  { name: 'wrong-type-count', content: 'version: 1\ndevices:\n  - match: { address: "01:00.0" }\n    count: many\n    driver: none\n', says: /devices\[0\]\.count must be a whole number/, at: '4:12' },
  { name: 'unknown-key', content: 'version: 1\ndevcies: []\n', says: /unknown key 'devcies' at the top level; did you mean 'devices'\?/, at: '2:1' },
  { name: 'proto-key', content: 'version: 1\n__proto__: { polluted: true }\n', says: /unknown key '__proto__'/, at: '2:1' },
  { name: 'version-2', content: 'version: 2\n', says: /unsupported version 2; this vfio-reconcile reads version 1/, at: '1:10' },
  { name: 'version-missing', content: 'devices: []\n', says: /is missing 'version'/ },
  { name: 'empty', content: '', says: /file is empty/ },
  { name: 'comments-only', content: '# nothing here\n\n', says: /file is empty/ },
  { name: 'two-docs', content: 'version: 1\n---\nversion: 1\n', says: /more than one YAML document/ },
  { name: 'top-list', content: '- version: 1\n', says: /top level must be a mapping/, at: '1:1' },
  { name: 'random-bytes', content: garbage(4096, 7), says: /not UTF-8 text|NUL byte/ },
  { name: 'nul', content: 'version: 1\n\0\n', says: /NUL byte: is this a binary file\?/, at: '2:1' },
  { name: 'utf16', content: Buffer.from('\ufeffversion: 1\n', 'utf16le'), says: /NUL byte|not UTF-8/ },
  { name: 'tabs', content: 'version: 1\n\t- x\n', says: /YAML syntax/ },
  { name: 'tag', content: 'version: 1\ndevices: !!js/function "return 1"\n', says: /YAML tag !!js\/function is not supported/, at: '2:10' },
  { name: 'empty-match', content: rule('{}', 'vfio-pci'), says: /match is empty: give at least one key/, at: '3:12' },
  { name: 'driver-traversal', content: rule('{ address: "01:00.0" }', '"../../../etc"'), says: /devices\[0\]\.driver: "\.\.\/\.\.\/\.\.\/etc" is not valid/, at: '4:13' },
  { name: 'driver-newline', content: rule('{ address: "01:00.0" }', '"vfio-pci\\n"'), says: /devices\[0\]\.driver: "vfio-pci\\n" is not valid/, at: '4:13' },
  { name: 'driver-nul', content: rule('{ address: "01:00.0" }', '"vfio-pci\\0"'), says: /devices\[0\]\.driver: .* is not valid/, at: '4:13' },
  { name: 'driver-option', content: rule('{ address: "01:00.0" }', '"-r"'), says: /devices\[0\]\.driver: "-r" is not valid/, at: '4:13' },
  { name: 'driver-help', content: rule('{ address: "01:00.0" }', '--help'), says: /devices\[0\]\.driver: "--help" is not valid/, at: '4:13' },
  { name: 'driver-lookalike', content: rule('{ address: "01:00.0" }', 'vfio‐pci'), says: /devices\[0\]\.driver: "vfio‐pci" is not valid/, at: '4:13' },
  { name: 'driver-long', content: rule('{ address: "01:00.0" }', 'd'.repeat(5000)), says: /devices\[0\]\.driver: "d+" is not valid/, at: '4:13' },
  { name: 'vfs-driver', content: 'version: 1\ndevices:\n  - match: { address: "3b:00.0" }\n    vfs: { count: 2, driver: "a/b" }\n', says: /devices\[0\]\.vfs\.driver: "a\/b" is not valid/, at: '4:30' },
  { name: 'address-traversal', content: rule('{ address: "../01:00.0" }', 'none'), says: /devices\[0\]\.match\.address: "\.\.\/01:00\.0" is not valid/, at: '3:23' },
  { name: 'name-slash', content: rule('{ name: "../../etc" }', 'none'), says: /devices\[0\]\.match\.name: "\.\.\/\.\.\/etc" is not valid/, at: '3:20' },
  { name: 'compatible-newline', content: rule('{ compatible: "arm,pl330\\n" }', 'none'), says: /devices\[0\]\.match\.compatible: .* is not valid/, at: '3:26' },
  { name: 'group-traversal', content: rule('{ iommuGroup: "1/../2" }', 'none'), says: /devices\[0\]\.match\.iommuGroup: "1\/\.\.\/2" is not valid/, at: '3:26' },
  { name: 'hosts-traversal', content: 'version: 1\nhosts: ["../x"]\n', says: /hosts\[0\]: "\.\.\/x" is not valid/, at: '2:9' },
  { name: 'negative-vfs', content: 'version: 1\ndevices:\n  - match: { address: "3b:00.0" }\n    vfs: { count: -1 }\n', says: /vfs\.count must be at least 0, got the number -1/, at: '4:19' },
  // plan and apply take a directory of state files (a fleet repository); this one holds none.
  { name: 'directory', content: (p) => mkdirSync(p), says: /not a regular file|holds no state files/ },
  { name: 'missing', content: () => undefined, says: /cannot read the state file: no such file/ },
  { name: 'fifo', content: (p) => assert.is(spawnSync('mkfifo', [p]).status, 0), says: /not a regular file/ },
  { name: 'symlink-loop', content: (p) => symlinkSync(p, p), says: /cannot read the state file: too many symbolic links encountered \(ELOOP\)/ },
  { name: 'through-a-file', content: (p) => symlinkSync(join(p, '..', 'ok.yaml', 'state.yaml'), p), says: /cannot read the state file: not a directory \(ENOTDIR\)/ },
];

const s = suite('hostile state files through the CLI');
const tmp = tempDir('hostile-files');
const tree = join(tmp.dir, 'sysfs');
const files = join(tmp.dir, 'files');
s.after(tmp.cleanup);

s.before(() => {
  writeSysfsTree(labHost(), tree);
  mkdirSync(files);
  writeFileSync(join(files, 'ok.yaml'), LAB_STATE);
  for (const c of CASES) {
    const path = join(files, `${c.name}.yaml`);
    if (typeof c.content === 'function') c.content(path);
    else writeFileSync(path, c.content);
  }
});

const pathOf = (c: Case) => join(files, `${c.name}.yaml`);

/** The user-visible verdict on one case: exit 1, the message, pointing at the place, no stack trace. */
function assertRefused(c: Case, label: string, exitCode: number, out: string): void {
  assert.is(exitCode, 1, `${label}: exit ${exitCode}\n${out}`);
  assert.match(out, c.says, `${label} says:\n${out}`);
  if (c.at) assert.match(out, `${pathOf(c)}:${c.at}: `, `${label} does not point at ${c.at}:\n${out}`);
  assert.not.match(out, /\n\s+at .*\.js:\d+/, `${label} printed a stack trace:\n${out}`);
}

s('`node bin/run.js validate` reports every broken file, each at its place, and exits 1', async () => {
  const r = await runCli(['validate', ...CASES.map(pathOf), join(files, 'ok.yaml')]);
  // Each file's report starts with its path; a hint line is indented under it.
  const byFile = new Map<string, string>();
  let current = '';
  for (const line of r.stdout.split('\n')) {
    const owner = [...CASES.map(pathOf), join(files, 'ok.yaml')].find((p) => line.startsWith(`${p}:`));
    if (owner) current = owner;
    byFile.set(current, `${byFile.get(current) ?? ''}${line}\n`);
  }
  for (const c of CASES) assertRefused(c, `validate ${c.name}`, r.exitCode, byFile.get(pathOf(c)) ?? '');
  assert.is(byFile.get(join(files, 'ok.yaml'))?.trim(), `${join(files, 'ok.yaml')}: ok`);
});

s('plan and apply refuse every broken file with exit 1 and a clear message, and write nothing', async () => {
  const before = snapshotTree(tree);
  for (const c of CASES) {
    for (const Cmd of [Plan, Apply]) {
      const r = await runIn(Cmd, [pathOf(c), '--sysfs-root', tree]);
      assertRefused(c, `${Cmd.name} ${c.name}`, r.exitCode, r.stdout + r.stderr);
    }
  }
  assert.equal(treeChanges(before, snapshotTree(tree)), [], 'the sysfs tree changed');
});

s('`node bin/run.js plan` and `apply` exit 1 on a broken file, with nothing written', async () => {
  const before = snapshotTree(tree);
  const picked = CASES.filter((c) => ['alias-bomb', 'random-bytes', 'driver-traversal', 'directory'].includes(c.name));
  const jobs = picked.flatMap((c) => ['plan', 'apply'].map((cmd) => async () => ({ c, cmd, r: await runCli([cmd, pathOf(c), '--sysfs-root', tree]) })));
  for (const { c, cmd, r } of await pool(jobs, 4)) assertRefused(c, `${cmd} ${c.name}`, r.exitCode, r.stdout + r.stderr);
  assert.equal(treeChanges(before, snapshotTree(tree)), [], 'the sysfs tree changed');
});

s('an unreadable state file (not root) is "permission denied", exit 1', async () => {
  const path = join(tmp.dir, 'secret.yaml');
  writeFileSync(path, LAB_STATE);
  chmodSync(path, 0o600);
  chmodSync(tmp.dir, 0o755);
  const r = await runCli(['validate', path], { asUser: 65534 });
  assert.is(r.exitCode, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /cannot read the state file: permission denied/);
});

s('apply as a non-root user says it needs root, exits 1, and writes nothing', async () => {
  // A copy of the tree owned by root: a user who is not root cannot write its attributes, as on /sys.
  const rootTree = join(tmp.dir, 'root-sysfs');
  cpSync(tree, rootTree, { recursive: true, verbatimSymlinks: true });
  for (const dir of [tmp.dir, rootTree]) chmodSync(dir, 0o755);
  const state = join(tmp.dir, 'unbind-nic.yaml');
  // No module to load: the first thing apply does is write driver_override.
  writeFileSync(state, 'version: 1\ndevices:\n  - match: { address: "00:1c.0" }\n    driver: none\n');
  const before = snapshotTree(rootTree);
  const r = await runCli(['apply', state, '--sysfs-root', rootTree], { asUser: 65534 });
  assert.match(r.stderr, /root/, r.stderr);
  assert.is(r.exitCode, 1, `a refusal before any write is exit 1, got ${r.exitCode}:\n${r.stderr}`);
  assert.equal(treeChanges(before, snapshotTree(rootTree)), []);
});

s.run();
