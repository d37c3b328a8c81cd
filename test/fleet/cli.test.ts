// Fleets through the CLI: `plan DIR` / `apply DIR` pick this host's files (by hostname, DMI product
// from the sysfs tree, machine-id), refuse overlaps before writing, and the GitOps revert story on
// the kernel model: apply v1, apply v2 that drops a rule (its devices are pruned back to the host
// driver), revert to v1 (they go back), with spec / drift / prune labels along the way.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import Status from '../../src/commands/status.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { runIn, runOut, sysfsTree, tempDir } from '../cli/harness.js';
import { FakeMachine, managedFile } from '../state/support.js';

const s = suite('fleet cli');
const tmp = tempDir('fleet-cli');
s.after(() => {
  injectEnv(null);
  tmp.cleanup();
});

const GPU = '0000:01:00.0';
const USB = '0000:05:00.0';
const ID = '4f3c1b9e0d7a4e2f9b8c6d5e4f3a2b1c';

let n = 0;
/** A fresh directory of state files. */
function repo(files: Record<string, string>): string {
  const dir = join(tmp.dir, `repo-${++n}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const GPU_FILE = 'version: 1\nhosts: ["pve-*"]\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n';
const USB_FILE = (driver: string) => `version: 1\ndmi: { product: "Z790*" }\ndevices:\n  - name: usb-for-vm\n    match: { vendor: "1b21", class: "0c03" }\n    driver: ${driver}\n`;

s('plan DIR on a sysfs tree: the DMI product comes from the tree, files for other hosts are left out', () => {
  const tree = sysfsTree(gpuPassthrough());
  try {
    mkdirSync(join(tree.dir, 'class/dmi/id'), { recursive: true });
    writeFileSync(join(tree.dir, 'class/dmi/id/product_name'), 'Z790 AORUS ELITE   \n');
    const dir = repo({
      'gpu.yaml': GPU_FILE,
      'usb.yaml': USB_FILE('vfio-pci'),
      'dpdk.yaml': 'version: 1\nhosts: ["dpdk-*"]\ndevices:\n  - match: { vendor: "8086", device: "1572" }\n    driver: vfio-pci\n',
    });
    const r = runOut(['plan', dir, '--sysfs-root', tree.dir, '--hostname', 'pve-lab', '--detailed-exitcode']);
    assert.is(r.exitCode, 2, r.stderr);
    assert.match(r.stdout, /^~ 0000:01:00\.0 .*\(spec, rule rtx3090 line 4\)$/m);
    assert.match(r.stdout, /^~ 0000:05:00\.0 .*\(spec, rule usb-for-vm line 4\)$/m);
    assert.match(r.stdout, /^Plan: 3 devices to change/m);

    // Another product: only the hostname file is for it.
    writeFileSync(join(tree.dir, 'class/dmi/id/product_name'), 'B650 STEEL LEGEND\n');
    const other = runOut(['plan', dir, '--sysfs-root', tree.dir, '--hostname', 'pve-lab']);
    assert.is(other.exitCode, 0, other.stderr);
    assert.not.match(other.stdout, /0000:05:00\.0/);

    // A host no file is for: exit 1, saying who each file is for.
    const none = runOut(['plan', dir, '--sysfs-root', tree.dir, '--hostname', 'nas-1']);
    assert.is(none.exitCode, 1);
    assert.match(none.stderr, `Error: no state file in ${dir} is for this host, nas-1 (DMI product 'B650 STEEL LEGEND', no machine-id)`);
    assert.match(none.stderr, `${join(dir, 'usb.yaml')}: for DMI product 'Z790*': DMI product 'B650 STEEL LEGEND' is not 'Z790*'`);
    assert.match(none.stderr, `${join(dir, 'dpdk.yaml')}: for hosts dpdk-*: hostname nas-1 is not dpdk-*`);
  } finally {
    tree.cleanup();
  }
});

s('--machine-id picks a file pinned to that machine; a copied tree has no machine-id of its own', () => {
  const tree = sysfsTree(gpuPassthrough());
  try {
    const dir = repo({ 'pinned.yaml': `version: 1\nmachineIds: ["${ID}"]\ndevices:\n  - match: { vendor: "1b21" }\n    driver: vfio-pci\n` });
    const without = runOut(['plan', dir, '--sysfs-root', tree.dir]);
    assert.is(without.exitCode, 1);
    assert.match(without.stderr, 'the host has no machine-id to match');
    const pinned = runOut(['plan', dir, '--sysfs-root', tree.dir, '--machine-id', ID.toUpperCase()]);
    assert.is(pinned.exitCode, 0, pinned.stderr);
    assert.match(pinned.stdout, /^~ 0000:05:00\.0/m);
  } finally {
    tree.cleanup();
  }
});

interface World {
  model: KernelModel;
  stateDir: string;
}

/** The CLI runs in-process on a fresh kernel model with a DMI product and a state dir. */
function world(): World {
  const model = gpuPassthrough();
  const machine = new FakeMachine();
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel, dmiProduct: 'Z790 AORUS ELITE', stateHost: machine.process(700) }));
  return { model, stateDir: join(tmp.dir, `state-${++n}`) };
}

s('apply DIR: overlapping files are refused before anything is written, naming both files and lines', async () => {
  const w = world();
  const dir = repo({ 'gpu.yaml': GPU_FILE, 'usb.yaml': USB_FILE('vfio-pci'), 'zz-gpu-again.yaml': 'version: 1\ndevices:\n\n  - match: { address: "01:00.0" }\n    driver: vfio-pci\n' });
  const r = await runIn(Apply, [dir, '--state-dir', w.stateDir]);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, `Error: ${dir}: the state files for this host overlap`);
  assert.match(r.stderr, `${join(dir, 'zz-gpu-again.yaml')}:4:5: 0000:01:00.0 (10de:2204) is claimed by ${join(dir, 'gpu.yaml')}:4 (rule 'rtx3090') and by ${join(dir, 'zz-gpu-again.yaml')}:4 (rule devices[0])`);
  assert.equal(w.model.writes, [], 'nothing written');
});

s('status DIR names, for each device, the rule of the file for this host that covers it', async () => {
  world();
  const dir = repo({ 'gpu.yaml': GPU_FILE, 'usb.yaml': USB_FILE('vfio-pci'), 'other.yaml': 'version: 1\nhosts: ["nas-*"]\ndevices:\n  - match: { vendor: "8086" }\n    driver: none\n' });
  const r = await runIn(Status, [dir, '--json']);
  assert.is(r.exitCode, 0, r.stderr);
  const rules = (JSON.parse(r.stdout) as { devices: { address: string; rule: { name?: string } | null }[] }).devices
    .filter((d) => d.rule)
    .map((d) => `${d.address} ${d.rule!.name}`);
  assert.equal(rules, ['0000:01:00.0 rtx3090', '0000:01:00.1 rtx3090', '0000:05:00.0 usb-for-vm']);
});

s('git revert story: a dropped rule is pruned back to the host driver, the revert binds it again', async () => {
  const w = world();
  const v1 = repo({ 'gpu.yaml': GPU_FILE, 'usb.yaml': USB_FILE('vfio-pci') });
  const v2 = repo({ 'gpu.yaml': GPU_FILE }); // the commit that removed usb.yaml
  const apply = (dir: string) => runIn(Apply, [dir, '--state-dir', w.stateDir]);
  const plan = async (dir: string) => JSON.parse((await runIn(Plan, [dir, '--state-dir', w.stateDir, '--json'])).stdout);
  const reasons = (doc: { changes: { address: string; reason: string }[] }) => doc.changes.map((c) => [c.address, c.reason]);

  let r = await apply(v1);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(w.model.dev(USB).driver, 'vfio-pci');
  assert.equal(Object.keys(managedFile(w.stateDir).devices), ['pci/0000:01:00.0', 'pci/0000:01:00.1', `pci/${USB}`]);

  // v2: the USB controller is no rule's any more; the plan says it goes back to the kernel's choice.
  const pruned = await plan(v2);
  assert.equal(reasons(pruned), [[USB, 'prune']]);
  r = await apply(v2);
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^~ 0000:05:00\.0 .*\(prune\)$/m);
  assert.equal([w.model.dev(USB).driver, w.model.dev(USB).override], ['xhci_hcd', null], 'back on the host driver');
  assert.equal(Object.keys(managedFile(w.stateDir).devices), ['pci/0000:01:00.0', 'pci/0000:01:00.1'], 'handed back to the host');
  assert.equal(reasons(await plan(v2)), [], 'v2 converged');

  // The revert: v1 again binds it again, as a change of the files (spec).
  assert.equal(reasons(await plan(v1)), [[USB, 'spec']]);
  r = await apply(v1);
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal([w.model.dev(USB).driver, w.model.dev(USB).override], ['vfio-pci', 'vfio-pci']);
  assert.is(w.model.dev(GPU).driver, 'vfio-pci', 'the GPU never moved');
  assert.equal(reasons(await plan(v1)), [], 'v1 converged');
});

s('drift vs spec: the host moving away is drift; the file asking for something new is spec', async () => {
  const w = world();
  const v1 = repo({ 'gpu.yaml': GPU_FILE, 'usb.yaml': USB_FILE('vfio-pci') });
  assert.is((await runIn(Apply, [v1, '--state-dir', w.stateDir])).exitCode, 0);

  // Someone hands the USB controller back to xhci_hcd by hand.
  await w.model.write(`bus/pci/devices/${USB}/driver_override`, '\n');
  await w.model.write('bus/pci/drivers/vfio-pci/unbind', USB);
  await w.model.write('bus/pci/drivers_probe', USB);
  assert.is(w.model.dev(USB).driver, 'xhci_hcd');
  const drift = await runIn(Plan, [v1, '--state-dir', w.stateDir]);
  assert.match(drift.stdout, /^~ 0000:05:00\.0 .*\(drift, rule usb-for-vm line 4\)$/m);

  // The file now wants it unbound: a managed device, but the change comes from the file.
  const v3 = repo({ 'gpu.yaml': GPU_FILE, 'usb.yaml': USB_FILE('none') });
  const spec = await runIn(Plan, [v3, '--state-dir', w.stateDir]);
  assert.match(spec.stdout, /^~ 0000:05:00\.0 .*\(spec, rule usb-for-vm line 4\)$/m);
});

s.run();
