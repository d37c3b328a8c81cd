// plan end to end: a real `node bin/run.js` against a sysfs tree written from an example host, and
// in-process runs where the env (pci.ids names, hostname) is injected.

import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import { pciNames } from '../../src/cli/names.js';
import Plan from '../../src/commands/plan.js';
import { PCI_IDS_FIXTURE, runIn, runOut, sysfsTree, tempDir } from './harness.js';

const tree = sysfsTree(gpuPassthrough());
const tmp = tempDir('plan');
const stateFile = tmp.file;
const gpu = stateFile(
  'gpu.yaml',
  'version: 1\nhosts: ["pve-*"]\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n',
);
// The iGPU is on i915 already: nothing to do.
const inSync = stateFile('in-sync.yaml', 'version: 1\ndevices:\n  - match: { address: "00:02.0" }\n    driver: i915\n');
const split = stateFile('split.yaml', 'version: 1\ndevices:\n  - match: { address: "01:00.0" }\n    driver: vfio-pci\n');
const miscount = stateFile('miscount.yaml', 'version: 1\ndevices:\n  - name: gpus\n    match: { vendor: "10de", class: "03" }\n    count: 2\n    driver: vfio-pci\n');

const plan = (...argv: string[]) => runOut(['plan', ...argv, '--sysfs-root', tree.dir, '--hostname', 'pve-lab']);

const s = suite('cli plan');
s.after(() => {
  tree.cleanup();
  tmp.cleanup();
});

s('prints one entry per changed device, the steps and a summary; exit 0', () => {
  const r = plan(gpu);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^~ 0000:01:00\.0\s+10de:2204\s+group 1\s+\(spec, rule rtx3090 line 4\)$/m);
  assert.match(r.stdout, /^~ 0000:01:00\.1\s+10de:1aef/m);
  assert.match(r.stdout, /- driver: nouveau\n\s+- driver_override: \(unset\)\n\s+\+ driver: vfio-pci/);
  assert.match(r.stdout, /^\s+1\. load-module vfio_pci$/m);
  assert.match(r.stdout, /^Plan: 2 devices to change, 9 steps\.$/m);
  assert.is(r.stderr, '');
});

s('--json prints the plan document', () => {
  const r = plan(gpu, '--json');
  assert.is(r.exitCode, 0);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.format_version, '1.1');
  assert.ok(doc.applyable);
  assert.equal(doc.changes.map((c: { address: string }) => c.address), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(doc.changes[0].before, { driver: 'nouveau', override: null });
  assert.is(doc.host.hostname, 'pve-lab');
});

s('--detailed-exitcode: 2 with changes pending, 0 when the host matches', () => {
  assert.is(plan(gpu, '--detailed-exitcode').exitCode, 2);
  const r = plan(inSync, '--detailed-exitcode');
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, 'No changes. The host matches the state file.');
  assert.is(plan(gpu).exitCode, 0, 'without the flag pending changes exit 0');
});

s('a blocked plan is printed with its reasons and exits 1, also with --detailed-exitcode', () => {
  const r = plan(split, '--detailed-exitcode');
  assert.is(r.exitCode, 1);
  assert.match(r.stdout, 'Blocked: apply refuses this plan');
  assert.match(r.stdout, '[group-split]');
  assert.match(r.stdout, 'fix: add 0000:01:00.1 to a rule');
});

s('a selector mismatch is an error at the rule: file:line:col, exit 1', () => {
  const r = plan(miscount);
  assert.is(r.exitCode, 1);
  assert.is(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^${miscount}:3:5: rule 'gpus' \\(line 3\\) expects 2 devices, matched 1`, 'm'));
});

s('hosts: globs that do not match: says so, writes nothing, exit 0', () => {
  const r = runOut(['plan', gpu, '--sysfs-root', tree.dir, '--hostname', 'nas-1', '--detailed-exitcode']);
  assert.is(r.exitCode, 0);
  assert.match(r.stdout, `${gpu} is for hosts pve-*; this host is nas-1: nothing to do here.`);
  const j = JSON.parse(runOut(['plan', gpu, '--sysfs-root', tree.dir, '--hostname', 'nas-1', '--json']).stdout);
  assert.equal(j, { skipped: true, hostname: 'nas-1', hosts: ['pve-*'], message: j.message });
});

s('a --sysfs-root that is missing or not a sysfs tree: exit 1 and says what is wrong', () => {
  const missing = runOut(['plan', gpu, '--sysfs-root', join(tmp.dir, 'nope')]);
  assert.is(missing.exitCode, 1);
  assert.match(missing.stderr, `Error: sysfs root ${join(tmp.dir, 'nope')} does not exist`);
  const notSysfs = runOut(['plan', gpu, '--sysfs-root', tmp.dir]);
  assert.is(notSysfs.exitCode, 1);
  assert.match(notSysfs.stderr, `${tmp.dir} is not a sysfs tree: it has no bus/ directory`);
  const json = runOut(['plan', gpu, '--sysfs-root', tmp.dir, '--json']);
  assert.is(json.exitCode, 1);
  assert.is(JSON.parse(json.stdout).error.kind, 'environment');
});

s('VFIO_RECONCILE_SYSFS_ROOT stands in for --sysfs-root', () => {
  const r = runOut(['plan', gpu, '--hostname', 'pve-lab', '--detailed-exitcode'], { VFIO_RECONCILE_SYSFS_ROOT: tree.dir });
  assert.is(r.exitCode, 2, r.stderr);
});

s('pci.ids names appear once per device when the database is there', async () => {
  const names = pciNames([PCI_IDS_FIXTURE]);
  assert.ok(names);
  const model = gpuPassthrough();
  injectEnv((req) => ({ sysfs: model, modules: model, hostname: req.hostname ?? 'pve-lab', names }));
  try {
    const r = await runIn(Plan, [gpu]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^~ 0000:01:00\.0\s+10de:2204 NVIDIA Corporation GA102 \[GeForce RTX 3090\]\s+group 1/m);
  } finally {
    injectEnv(null);
  }
});

s.run();
