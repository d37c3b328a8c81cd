// The fleet example repository: its CI recipe (ci/check.sh) passes as committed, fails on what it
// exists to catch, each snapshot selects the file for its kind of host, and the snapshots are what
// snapshots/regenerate.sh makes from the bundled example trees.

import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { runOut, tempDir } from '../cli/harness.js';

const s = suite('fleet example');
const fleet = join(packageRoot, 'examples/fleet');
const tmp = tempDir('fleet-example');
s.after(() => tmp.cleanup());

const VR = `${process.execPath} ${join(packageRoot, 'bin/run.js')}`;
const env = { ...process.env, VFIO_RECONCILE: VR, NO_COLOR: '1', VFIO_RECONCILE_PCI_IDS: '' };
const bash = (script: string, ...args: string[]) => spawnSync('bash', [script, ...args], { encoding: 'utf8', env });

let n = 0;
/** A copy of the example repository to break. */
function copy(): string {
  const dir = join(tmp.dir, `fleet-${++n}`);
  cpSync(fleet, dir, { recursive: true });
  return dir;
}

s('ci/check.sh passes on the repository as committed: every file valid, every host planned', () => {
  const r = bash(join(fleet, 'ci/check.sh'));
  assert.is(r.status, 0, r.stdout + r.stderr);
  for (const f of ['arm-xgbe', 'dpdk', 'pve-gpu']) assert.match(r.stdout, `hosts/${f}.yaml: ok`);
  for (const snap of ['arm-07', 'dpdk-01', 'pve-gpu-01']) assert.match(r.stdout, `-- snapshots/${snap}.json: changes pending`);
  // --fail-on-changes is for a converged fleet (a nightly drift check): these hosts are not.
  assert.is(bash(join(fleet, 'ci/check.sh'), '--fail-on-changes').status, 1);
});

s('each snapshot selects the file for its kind of host, by hostname and DMI product', () => {
  const changed = (snap: string) => {
    const r = runOut(['plan', join(fleet, 'hosts'), '--snapshot', join(fleet, 'snapshots', snap), '--json']);
    assert.is(r.exitCode, 0, r.stderr);
    return (JSON.parse(r.stdout) as { changes: { address: string; rule: { name: string } }[] }).changes.map((c) => `${c.address} ${c.rule.name}`);
  };
  assert.equal(changed('pve-gpu-01.json'), ['0000:01:00.0 rtx3090', '0000:01:00.1 rtx3090', '0000:05:00.0 usb-for-vm']);
  assert.equal(changed('dpdk-01.json'), ['0000:3b:00.0 x710-dataplane', '0000:3b:00.1 x710-dataplane']);
  assert.equal(changed('arm-07.json'), ['e0700000.dma spare-dma', 'e0700000.xgmac xgbe-guest']);
});

s('check.sh fails on a bad file, on overlapping files and on a host no file is for, naming the cause', () => {
  const bad = copy();
  writeFileSync(join(bad, 'hosts/dpdk.yaml'), readFileSync(join(bad, 'hosts/dpdk.yaml'), 'utf8').replace('count: 2', 'count: two'));
  let r = bash(join(bad, 'ci/check.sh'));
  assert.is(r.status, 1);
  assert.match(r.stdout + r.stderr, /hosts\/dpdk\.yaml:\d+:\d+: devices\[0\]\.count must be a whole number/);

  const overlap = copy();
  writeFileSync(join(overlap, 'hosts/pve-usb.yaml'), 'version: 1\nhosts: ["pve-*"]\ndevices:\n  - match: { vendor: "1b21" }\n    driver: vfio-pci\n');
  r = bash(join(overlap, 'ci/check.sh'));
  assert.is(r.status, 1);
  assert.match(r.stdout, '-- snapshots/pve-gpu-01.json: FAILED');
  assert.match(r.stderr, /0000:05:00\.0 \(1b21:2142\) is claimed by hosts\/pve-gpu\.yaml:13 \(rule 'usb-for-vm'\) and by hosts\/pve-usb\.yaml:4/);
  assert.match(r.stdout, '-- snapshots/dpdk-01.json: changes pending', 'other hosts are still planned');

  const renamed = copy();
  writeFileSync(join(renamed, 'hosts/dpdk.yaml'), readFileSync(join(renamed, 'hosts/dpdk.yaml'), 'utf8').replace('PowerEdge R650*', 'PowerEdge R750*'));
  r = bash(join(renamed, 'ci/check.sh'));
  assert.is(r.status, 1);
  assert.match(r.stderr, "no state file in hosts is for this host, dpdk-01 (DMI product 'PowerEdge R650', no machine-id)");
  assert.match(r.stderr, "hosts/dpdk.yaml: for hosts dpdk-*, DMI product 'PowerEdge R750*': DMI product 'PowerEdge R650' is not 'PowerEdge R750*'");
});

s('the committed snapshots are what snapshots/regenerate.sh makes from the example trees', () => {
  const dir = copy();
  const r = bash(join(dir, 'snapshots/regenerate.sh'), join(packageRoot, 'examples'));
  assert.is(r.status, 0, r.stderr);
  const strip = (file: string) => {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete doc.created;
    delete doc.tool;
    return doc;
  };
  const snaps = readdirSync(join(fleet, 'snapshots')).filter((f) => f.endsWith('.json'));
  assert.equal(snaps, ['arm-07.json', 'dpdk-01.json', 'pve-gpu-01.json']);
  for (const f of snaps) assert.equal(strip(join(dir, 'snapshots', f)), strip(join(fleet, 'snapshots', f)), `${f}: run snapshots/regenerate.sh`);
});

s.run();
