// `export`: a state file that reproduces the host's current non-default bindings. The promise a user
// relies on: planning the exported file on the host it came from shows no changes, for the bundled
// example hosts once their state is applied and for hosts set up by hand (vfio-pci ids=, pci-stub,
// override none, SR-IOV VFs); driverctl's persisted overrides are named.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXAMPLE_HOSTS } from '../../examples/hosts.js';
import { execute } from '../../src/apply/executor.js';
import { injectEnv, type RunEnv } from '../../src/cli/context.js';
import { packageRoot } from '../../src/cli/paths.js';
import { pciNames } from '../../src/cli/names.js';
import Export from '../../src/commands/export.js';
import Plan from '../../src/commands/plan.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { plan } from '../../src/plan/planner.js';
import { PCI_IDS_FIXTURE, runIn, tempDir } from '../cli/harness.js';

const tmp = tempDir('export');
const s = suite('export');
s.after.each(() => injectEnv(null));
s.after(tmp.cleanup);

const envOf = (model: KernelModel, extra: Partial<RunEnv> = {}): RunEnv => {
  const names = pciNames([PCI_IDS_FIXTURE]);
  return { sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel, ...(names ? { names } : {}), ...extra };
};

/** Export from `env` into a file, then plan that file against the same host: the plan's stdout and exit code. */
async function exportThenPlan(env: RunEnv, file: string) {
  injectEnv(() => env);
  const exported = await runIn(Export, ['-o', file]);
  assert.is(exported.exitCode, 0, exported.stderr);
  const planned = await runIn(Plan, [file, '--detailed-exitcode']);
  return { exported, planned, text: readFileSync(file, 'utf8') };
}

async function applyFile(model: KernelModel, path: string): Promise<void> {
  for (let pass = 0; pass < 2; pass++) {
    const host = observe(model);
    const p = plan(host, resolve(loadStateFile(path), host));
    assert.ok(p.applyable, JSON.stringify(p.blocked));
    const r = await execute(p, { sysfs: model, modules: model });
    assert.ok(r.outcome === 'applied' || r.outcome === 'noop', JSON.stringify(r.failure));
  }
}

for (const name of Object.keys(EXAMPLE_HOSTS)) {
  s(`${name}: after its state is applied, the exported file plans no changes`, async () => {
    const model = EXAMPLE_HOSTS[name]!();
    await applyFile(model, join(packageRoot, 'examples', name, 'state.yaml'));
    const { exported, planned, text } = await exportThenPlan(envOf(model), join(tmp.dir, `${name}.yaml`));
    assert.match(exported.stdout, /^Exported \d+ devices? to /);
    assert.is(planned.exitCode, 0, planned.stdout + planned.stderr);
    assert.match(planned.stdout, 'No changes. The host matches the state file.');
    // The exported rules are exactly the devices the example state moved.
    const example = loadStateFile(join(packageRoot, 'examples', name, 'state.yaml'));
    const host = observe(model);
    const wanted = resolve(example, host).bindings.map((b) => b.device).sort();
    const got = resolve(loadStateFile('x.yaml', text), host).bindings.map((b) => b.device).sort();
    assert.equal(got, wanted);
  });
}

s('a fresh host has nothing to export, and says so as a valid file', async () => {
  const { planned, text } = await exportThenPlan(envOf(EXAMPLE_HOSTS['gpu-passthrough']!()), join(tmp.dir, 'fresh.yaml'));
  assert.match(text, /\ndevices: \[\]\n$/);
  assert.is(planned.exitCode, 0);
});

s('by hand: vfio-pci through ids= (no override), pci-stub, override none; comments name each device', async () => {
  const model = new KernelModel({ kernel: '6.12' })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci' })
    .driver('pci', 'pci-stub', { module: 'pci_stub' })
    .driver('pci', 'nouveau', { ids: [['10de', '2204']] })
    .driver('pci', 'xhci_hcd', { ids: [{ class: '0c0330' }] })
    .pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', group: '1', driver: 'vfio-pci' })
    .pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', group: '1', driver: 'pci-stub' })
    .pci('0000:05:00.0', { vendor: '1b21', device: '2142', class: '0c0330', group: '14', override: 'none' })
    .pci('0000:06:00.0', { vendor: '1b21', device: '2142', class: '0c0330', group: '15', driver: 'xhci_hcd' });
  const { planned, text } = await exportThenPlan(envOf(model), join(tmp.dir, 'by-hand.yaml'));
  assert.is(planned.exitCode, 0, planned.stdout);
  assert.match(text, '  # 0000:01:00.0  NVIDIA Corporation GA102 [GeForce RTX 3090]  (IOMMU group 1; bound to vfio-pci without an override)\n  - match: { address: "0000:01:00.0", vendor: "10de", device: "2204" }\n    driver: vfio-pci\n');
  assert.match(text, '  - match: { address: "0000:01:00.1", vendor: "10de", device: "1aef" }\n    driver: pci-stub\n');
  assert.match(text, '(IOMMU group 14; driver_override none)\n  - match: { address: "0000:05:00.0", vendor: "1b21", device: "2142" }\n    driver: none\n');
  assert.not.match(text, '0000:06:00.0', 'a device on its own driver is the kernel\'s choice');
  assert.match(text, 'hosts: ["pve-lab"]');
});

s('SR-IOV: a PF with VFs on vfio-pci exports its VF count and their driver', async () => {
  const model = EXAMPLE_HOSTS['dpdk-nic']!();
  const state = join(tmp.dir, 'vfs.yaml');
  writeFileSync(state, 'version: 1\ndevices:\n  - match: { address: "3b:00.0" }\n    vfs: { count: 2, driver: vfio-pci }\n');
  await applyFile(model, state);
  assert.equal(model.dev('0000:3b:00.0').virtfns.map((v) => model.dev(v).driver), ['vfio-pci', 'vfio-pci']);
  const { planned, text } = await exportThenPlan(envOf(model), join(tmp.dir, 'vfs-export.yaml'));
  assert.is(planned.exitCode, 0, planned.stdout);
  assert.match(text, '  - match: { address: "0000:3b:00.0", vendor: "8086", device: "1572" }\n    vfs: { count: 2, driver: vfio-pci }\n');
  assert.not.match(text, '0000:3b:00.1"', 'the VFs need no rules of their own');
});

s('driverctl: persisted overrides in effect are marked; ones not in effect are listed, not exported', async () => {
  const model = EXAMPLE_HOSTS['gpu-passthrough']!();
  await applyFile(model, join(packageRoot, 'examples/gpu-passthrough/state.yaml'));
  const etc = join(tmp.dir, 'etc');
  mkdirSync(join(etc, 'driverctl.d'), { recursive: true });
  writeFileSync(join(etc, 'driverctl.d', 'pci-0000:01:00.0'), 'vfio-pci\n');
  writeFileSync(join(etc, 'driverctl.d', 'pci-0000:00:1f.6'), 'vfio-pci\n');
  writeFileSync(join(etc, 'driverctl.d', 'not-a-device'), 'x\n');
  const { planned, text } = await exportThenPlan(envOf(model, { hostFiles: { etc, libModules: join(tmp.dir, 'none') } }), join(tmp.dir, 'driverctl.yaml'));
  assert.is(planned.exitCode, 0);
  assert.match(text, '(IOMMU group 1; driver_override vfio-pci, set with driverctl)');
  assert.match(text, `# driverctl persists driver_override vfio-pci for 0000:00:1f.6 (${join(etc, 'driverctl.d', 'pci-0000:00:1f.6')}), which is not in effect now: not exported.`);
  assert.match(text, 'driverctl unset-override');
});

s('a group half on VFIO is exported as it is, with a note naming what the file leaves to the host', async () => {
  const model = EXAMPLE_HOSTS['gpu-passthrough']!();
  await model.write('bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  const { planned, text } = await exportThenPlan(envOf(model), join(tmp.dir, 'half.yaml'));
  assert.match(text, '# IOMMU group 1 also holds 0000:01:00.1 (snd_hda_intel), which this file leaves to the host.');
  assert.match(text, '# note: it is on nouveau now, so plan will rebind it');
  assert.is(planned.exitCode, 1, 'that plan would split the group: the planner refuses it as it would any such file');
});

s('--json: the file, the devices and the text; without -o the text goes to stdout', async () => {
  const model = EXAMPLE_HOSTS['arm-board']!();
  await applyFile(model, join(packageRoot, 'examples/arm-board/state.yaml'));
  injectEnv(() => envOf(model));
  const json = JSON.parse((await runIn(Export, ['--json'])).stdout);
  assert.equal(json.devices, [
    { bus: 'platform', address: 'e0700000.dma' },
    { bus: 'platform', address: 'e0700000.xgmac' },
  ]);
  assert.is(json.file, null);
  const plain = await runIn(Export, []);
  assert.match(plain.stdout, '  - match: { bus: platform, name: "e0700000.xgmac", compatible: "amd,xgbe-seattle-v1a" }\n    driver: vfio-platform');
  assert.is(plain.stdout.trimEnd().replace(/on \S+Z:/, ''), json.state.trimEnd().replace(/on \S+Z:/, ''));
});

s.run();
