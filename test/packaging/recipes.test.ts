// The fleet recipes in examples/recipes run for real where this machine can run them: the Ansible
// play against two "hosts" on this machine (the example GPU host as a kernel model that outlives
// each process, and a copied sysfs tree), the Proxmox hook through its phases on the same model,
// and the Kubernetes manifests checked for what the tool needs from a node, with their state files
// validated and their command line parsed by the CLI itself.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { hostAfter } from './model-host.js';
import { copyExample, parseCommandLine, runFromCheckout, show, tempDir } from './support.js';

const recipes = join(packageRoot, 'examples/recipes');
const MODEL_HOST = join(packageRoot, 'dist/test/packaging/model-host.js');
const GPU = '0000:01:00.0';
const AUDIO = '0000:01:00.1';
const USB = '0000:05:00.0';

const s = suite<{ dir: string; cleanup: () => void }>('fleet recipes');
s.before.each((ctx) => {
  const t = tempDir('recipes');
  Object.assign(ctx, { dir: t.dir, cleanup: t.cleanup });
});
s.after.each((ctx) => ctx.cleanup());

/** An executable `vfio-reconcile` for the model host whose writes are logged to `log`. */
function modelTool(dir: string, name: string, log: string, hostname = 'pve-lab'): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nMODEL_HOSTNAME=${hostname} NO_COLOR=1 VFIO_RECONCILE_PCI_IDS= exec ${process.execPath} ${MODEL_HOST} ${log} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The same for a sysfs tree: the checkout's CLI as installed. */
function checkoutTool(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nNO_COLOR=1 VFIO_RECONCILE_PCI_IDS= exec ${process.execPath} ${join(packageRoot, 'bin/run.js')} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

async function driverOf(log: string, address: string): Promise<string | null> {
  const host = await hostAfter(log);
  return host.readLink(`bus/pci/devices/${address}/driver`)?.split('/').pop() ?? null;
}

// --- Ansible ------------------------------------------------------------------------------------

const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;
const playbook = join(recipes, 'ansible/playbook.yml');

function ansible(dir: string, inventory: string, extra: Record<string, unknown>): { status: number | null; out: string; report: unknown } {
  if (!hasAnsible) throw new Error('ansible-playbook is not installed (.ci/run installs ansible-core): the play cannot be checked');
  const inv = join(dir, 'inventory.ini');
  writeFileSync(inv, inventory);
  const report = join(dir, 'report.json');
  const vars = { ansible_become: false, vfio_report: report, ...extra };
  const r = spawnSync('ansible-playbook', ['-i', inv, playbook, '-e', JSON.stringify(vars)], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, HOME: dir, ANSIBLE_NOCOLOR: '1', ANSIBLE_PYTHON_INTERPRETER: 'auto_silent', ANSIBLE_LOCALHOST_WARNING: 'false' },
    timeout: 300_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, report: existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : null };
}

s('ansible: the play passes ansible-playbook --syntax-check', () => {
  if (!hasAnsible) throw new Error('ansible-playbook is not installed (.ci/run installs ansible-core)');
  const r = spawnSync('ansible-playbook', ['--syntax-check', '-i', 'localhost,', playbook], { encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
  assert.is(r.status, 0, r.stdout + r.stderr);
});

s('ansible: a dry run plans on the host the file selects, skips the other, and reports both', ({ dir }) => {
  const tree = copyExample('arm-board', dir);
  const state = join(dir, 'state.yaml');
  writeFileSync(state, readFileSync(join(packageRoot, 'examples/gpu-passthrough/state.yaml'), 'utf8').replace('version: 1', 'version: 1\nhosts: ["pve-a"]'));
  const a = modelTool(dir, 'tool-a', join(dir, 'a.log'), 'pve-a');
  const b = checkoutTool(dir, 'tool-b');
  const r = ansible(
    dir,
    `[vfio_hosts]
pve-a ansible_connection=local vfio_reconcile=${a} vfio_state_dest=${dir}/a/state.yaml vfio_reconcile_args='["--state-dir", "${dir}/a/records"]'
pve-b ansible_connection=local vfio_reconcile=${b} vfio_state_dest=${dir}/b/state.yaml vfio_reconcile_args='["--sysfs-root", "${tree}/sysfs", "--hostname", "pve-b"]'
`,
    { vfio_state_src: state, vfio_dry_run: true },
  );
  assert.is(r.status, 0, r.out);
  const [ra, rb] = r.report as Record<string, unknown>[];
  assert.equal(ra, { host: 'pve-a', rc: 0, outcome: 'planned', devices: 3, steps: 13, message: '' });
  assert.equal([rb!.host, rb!.rc, rb!.outcome, rb!.devices], ['pve-b', 0, 'skipped', 0]);
  assert.match(String(rb!.message), 'pve-b', "the tool's own words: the file is for other hosts");
  assert.ok(existsSync(join(dir, 'a/state.yaml.proposed')) && !existsSync(join(dir, 'a/state.yaml')), 'a dry run leaves the live state file alone');
  assert.is(existsSync(join(dir, 'a.log')) ? JSON.parse(readFileSync(join(dir, 'a.log'), 'utf8')).length : 0, 0, 'nothing was written');
});

s('ansible: applying changes the host that matches, fails the host whose apply is refused, and reports both', async ({ dir }) => {
  const tree = copyExample('arm-board', dir);
  const a = modelTool(dir, 'tool-a', join(dir, 'a.log'), 'pve-a');
  const b = checkoutTool(dir, 'tool-b');
  const inventory = `[vfio_hosts]
pve-a ansible_connection=local vfio_reconcile=${a} vfio_state_dest=${dir}/a/state.yaml vfio_reconcile_args='["--state-dir", "${dir}/a/records"]'
pve-b ansible_connection=local vfio_reconcile=${b} vfio_state_dest=${dir}/b/state.yaml vfio_reconcile_args='["--sysfs-root", "${tree}/sysfs", "--state-dir", "${dir}/b/records"]'
`;
  const first = ansible(dir, inventory, { vfio_state_src: join(recipes, 'ansible/files/state.yaml') });
  assert.is(first.status, 2, `the play fails for pve-b\n${first.out}`);
  const [ra, rb] = first.report as { host: string; rc: number; outcome: string; devices: number; message: string }[];
  assert.equal({ ...ra }, { host: 'pve-a', rc: 0, outcome: 'applied', devices: 3, steps: 13, message: '' });
  assert.equal([rb!.host, rb!.rc, rb!.outcome], ['pve-b', 1, 'error']);
  assert.match(rb!.message, 'problem', 'the tool\'s own message: the GPU rule matches nothing on the ARM board');
  assert.match(first.out, /fatal: \[pve-b\]: FAILED! => .*apply exited 1/);
  assert.is(await driverOf(join(dir, 'a.log'), GPU), 'vfio-pci');
  assert.is(await driverOf(join(dir, 'a.log'), USB), 'vfio-pci');

  const again = ansible(dir, inventory.split('\n').filter((l) => !l.startsWith('pve-b')).join('\n'), { vfio_state_src: join(recipes, 'ansible/files/state.yaml') });
  assert.is(again.status, 0, again.out);
  assert.equal(again.report, [{ host: 'pve-a', rc: 0, outcome: 'noop', devices: 0, steps: 0, message: '' }]);
  assert.match(again.out, /TASK \[Apply it, or plan it with vfio_dry_run\] \**\nok: \[pve-a\]/, 'a converged host reports no change');
});

// --- Proxmox ------------------------------------------------------------------------------------

const hook = join(recipes, 'proxmox/vfio-reconcile-hook.sh');

function phase(dir: string, vmid: number, name: string): { status: number | null; out: string } {
  const r = spawnSync(hook, [String(vmid), name], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', VFIO_RECONCILE: join(dir, 'tool'), VFIO_RECONCILE_VM_STATES: join(dir, 'vm'), VFIO_RECONCILE_VM_RECORDS: join(dir, 'records') },
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function vmState(dir: string, vmid: number, rule: string): void {
  mkdirSync(join(dir, 'vm'), { recursive: true });
  writeFileSync(join(dir, 'vm', `${vmid}.yaml`), `version: 1\ndevices:\n${rule}`);
}

const GPU_RULE = '  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n';
const USB_RULE = '  - name: usb\n    match: { vendor: "1b21" }\n    count: 1\n    driver: vfio-pci\n';

s('proxmox: the hook script parses', () => {
  const r = spawnSync('bash', ['-n', hook], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
});

s('proxmox: pre-start binds a VM\'s devices; post-stop gives back those and only those', async ({ dir }) => {
  const log = join(dir, 'host.log');
  modelTool(dir, 'tool', log);
  vmState(dir, 101, GPU_RULE);
  vmState(dir, 102, USB_RULE);
  for (const [vmid, name] of [[101, 'pre-start'], [101, 'post-start'], [102, 'pre-start']] as const) {
    const r = phase(dir, vmid, name);
    assert.is(r.status, 0, `${vmid} ${name}\n${r.out}`);
  }
  assert.equal([await driverOf(log, GPU), await driverOf(log, AUDIO), await driverOf(log, USB)], ['vfio-pci', 'vfio-pci', 'vfio-pci']);
  const stop = phase(dir, 101, 'post-stop');
  assert.is(stop.status, 0, stop.out);
  assert.match(stop.out, "giving VM 101's devices back");
  assert.equal([await driverOf(log, GPU), await driverOf(log, AUDIO)], ['nouveau', 'snd_hda_intel'], 'the GPU is back on its host drivers');
  assert.is(await driverOf(log, USB), 'vfio-pci', "VM 102's controller stays bound while 102 runs");
  const second = phase(dir, 101, 'post-stop');
  assert.is(second.status, 0, 'a second stop finds nothing to give back');
  assert.match(second.out, 'No changes');
});

s('proxmox: a refused pre-start exits non-zero (Proxmox does not start the VM) and writes nothing', ({ dir }) => {
  const log = join(dir, 'host.log');
  modelTool(dir, 'tool', log);
  vmState(dir, 103, GPU_RULE.replace('count: 2', 'count: 3'));
  const r = phase(dir, 103, 'pre-start');
  assert.is(r.status, 1, r.out);
  assert.match(r.out, "rule 'rtx3090' (line 3) expects 3 devices, matched 2");
  assert.not.ok(existsSync(log) && JSON.parse(readFileSync(log, 'utf8')).length > 0, 'nothing was written');
});

s('proxmox: a VM without a state file is left to Proxmox, in every phase', ({ dir }) => {
  const log = join(dir, 'host.log');
  modelTool(dir, 'tool', log);
  for (const name of ['pre-start', 'post-start', 'pre-stop', 'post-stop']) {
    const r = phase(dir, 200, name);
    assert.is(r.status, 0, `${name}\n${r.out}`);
  }
  assert.not.ok(existsSync(log), 'the tool never ran');
});

// --- Kubernetes ---------------------------------------------------------------------------------

interface K8s {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: { template: { spec: PodSpec } };
}
interface PodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  containers: { args: string[]; securityContext?: { privileged?: boolean }; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[];
  volumes: { name: string; hostPath?: { path: string }; configMap?: { name: string } }[];
}

const manifests = (file: string): K8s[] => loadAll(readFileSync(join(recipes, 'kubernetes', file), 'utf8')) as K8s[];

s('kubernetes: the DaemonSet runs watch on the ConfigMap, privileged, with the host\'s /sys, /lib/modules, /dev, PIDs and network', async () => {
  const ds = manifests('daemonset.yaml').find((d) => d.kind === 'DaemonSet')!;
  const [cm] = manifests('configmap.yaml');
  const pod = ds.spec!.template.spec;
  const [container] = pod.containers;
  assert.ok(container!.securityContext?.privileged);
  assert.ok(pod.hostPID && pod.hostNetwork);
  const mountOf = (path: string) => container!.volumeMounts.find((m) => m.mountPath === path);
  const volume = (name: string | undefined) => pod.volumes.find((v) => v.name === name);
  for (const path of ['/sys', '/lib/modules', '/dev', '/var/lib/vfio-reconcile', '/etc/machine-id']) {
    assert.is(volume(mountOf(path)?.name)?.hostPath?.path, path, `${path} comes from the host`);
  }
  assert.ok(mountOf('/lib/modules')!.readOnly && !mountOf('/sys')!.readOnly);
  assert.is(await parseCommandLine(container!.args), 'watch');
  const fleet = container!.args[1]!;
  assert.is(volume(mountOf(fleet)?.name)?.configMap?.name, cm!.metadata.name, 'watch reads the directory the ConfigMap is mounted at');
  assert.is(cm!.metadata.namespace, ds.metadata.namespace);
});

s('kubernetes: every state file in the ConfigMap is valid', ({ dir }) => {
  const [cm] = manifests('configmap.yaml');
  const files = Object.entries(cm!.data!).map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return name;
  });
  assert.ok(files.length >= 1 && files.every((f) => f.endsWith('.yaml')), 'watch reads *.yaml from the mounted directory');
  const r = runFromCheckout(['validate', ...files], dir);
  assert.is(r.status, 0, show(r));
});

s.run();
