// Fleet selection: which state files of a directory are for a host (hostname globs, DMI product,
// machine-id), and how the selected files merge into one Desired, refusing any device two files claim.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadStateFile } from '../../src/desire/load.js';
import { formatDiagnostic, type VrError } from '../../src/domain/errors.js';
import { describeCriteria, isFor, mismatches, readDmiProduct, readMachineId } from '../../src/fleet/identity.js';
import { loadSource, resolveFiles, selectFiles } from '../../src/fleet/select.js';
import { KernelModel } from '../../src/kernel/model.js';
import { tempDir } from '../cli/harness.js';
import { host, pci, sriov, vrError } from '../desire/hosts.js';

const s = suite('fleet/select');
const tmp = tempDir('fleet-select');
s.after(() => tmp.cleanup());

const ID = '4f3c1b9e0d7a4e2f9b8c6d5e4f3a2b1c';
const state = (top: string, devices = '') => loadStateFile('x.yaml', `version: 1\n${top}${devices ? `devices:\n${devices}` : ''}`);
const text = (e: VrError): string => [e.message, ...e.diagnostics.map(formatDiagnostic)].join('\n');

/** A directory of state files; returns its path. */
function repo(name: string, files: Record<string, string>): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

s('the state file carries dmi and machineIds, validated and canonical', () => {
  const st = state(`hosts: ["pve-*"]\ndmi: { product: "PowerEdge R750*" }\nmachineIds: ["${ID.toUpperCase()}"]\n`);
  assert.equal([st.hosts, st.dmi, st.machineIds], [['pve-*'], { product: 'PowerEdge R750*' }, [ID]]);
  const bad = vrError(() => state('dmi: { model: "x" }\nmachineIds: ["abc"]\n'));
  const out = text(bad);
  assert.match(out, /x\.yaml:2:8: unknown key 'model' in dmi/);
  assert.match(out, /machineIds\[0\]: "abc" is not valid: A machine-id: 32 hexadecimal digits/);
  assert.match(text(vrError(() => state('dmi: {}\n'))), /dmi is missing 'product'/);
});

s('every criterion given must hold; within one, any entry; absent facts never match', () => {
  const st = state(`hosts: ["pve-*", "lab?"]\ndmi: { product: "poweredge r750*" }\nmachineIds: ["${ID}"]\n`);
  const pve = { hostname: 'PVE-7', dmiProduct: 'PowerEdge R750xs', machineId: ID };
  assert.ok(isFor(st, pve), 'hostname and DMI product compare case-insensitively');
  assert.ok(isFor(st, { ...pve, hostname: 'lab1' }));
  assert.equal(mismatches(st, { ...pve, hostname: 'nas-1' }), ['hostname nas-1 is not pve-* or lab?']);
  assert.equal(mismatches(st, { ...pve, dmiProduct: 'ProLiant DL380' }), ["DMI product 'ProLiant DL380' is not 'poweredge r750*'"]);
  assert.equal(mismatches(st, { hostname: 'pve-7' }), [
    "the host has no DMI product name to match 'poweredge r750*'",
    'the host has no machine-id to match',
  ]);
  assert.ok(isFor(state(''), { hostname: 'anything' }), 'no criteria: every host');
  assert.is(describeCriteria(st), `hosts pve-* or lab?, DMI product 'poweredge r750*', machine-id ${ID}`);
});

s('identity facts: DMI product from the sysfs root (blanks trimmed), machine-id from an etc root', () => {
  const sysfs = { root: 't', read: (p: string) => (p === 'class/dmi/id/product_name' ? 'ProLiant DL380 Gen10   ' : null), readLink: () => null, list: () => [], write: async () => {} };
  assert.is(readDmiProduct(sysfs), 'ProLiant DL380 Gen10');
  assert.is(readDmiProduct(new KernelModel()), undefined, 'the kernel model has no DMI: absent');
  const etc = join(tmp.dir, 'etc');
  mkdirSync(etc, { recursive: true });
  assert.is(readMachineId(etc), undefined, 'no file: absent');
  writeFileSync(join(etc, 'machine-id'), `${ID.toUpperCase()}\n`);
  assert.is(readMachineId(etc), ID);
  writeFileSync(join(etc, 'machine-id'), 'uninitialized\n');
  assert.is(readMachineId(etc), undefined, 'an image without an id yet: absent');
});

s('a directory: every *.yaml (sorted), other files ignored; problems of all files at once', () => {
  const dir = repo('load', {
    'b.yaml': 'version: 1\nhosts: ["b-*"]\n',
    'a.yml': 'version: 1\nhosts: ["a-*"]\n',
    'README.md': '# not a state file',
    '.hidden.yaml': 'garbage: [',
  });
  assert.equal(loadSource(dir).files.map((f) => f.path), [join(dir, 'a.yml'), join(dir, 'b.yaml')]);
  const broken = repo('broken', { 'a.yaml': 'version: 2\n', 'b.yaml': 'version: 1\nhostz: []\n' });
  const out = text(vrError(() => loadSource(broken)));
  assert.match(out, /a\.yaml:1:10: unsupported version 2/);
  assert.match(out, /b\.yaml:2:1: unknown key 'hostz' at the top level; did you mean 'hosts'\?/);
  assert.match(text(vrError(() => loadSource(repo('empty', { 'notes.txt': '' })))), /holds no state files \(\*\.yaml\)/);
});

s('selection: the files for this host; none in a directory is an error naming who each file is for', () => {
  const dir = repo('select', {
    'gpu.yaml': 'version: 1\nhosts: ["pve-gpu-*"]\n',
    'arm.yaml': 'version: 1\ndmi: { product: "Overdrive*" }\n',
    'common.yaml': 'version: 1\n',
  });
  const source = loadSource(dir);
  const picked = (id: { hostname: string; dmiProduct?: string }) => {
    const sel = selectFiles(source, id);
    return sel.kind === 'selected' ? sel.files.map((f) => f.path.slice(dir.length + 1)) : sel.kind;
  };
  assert.equal(picked({ hostname: 'pve-gpu-01' }), ['common.yaml', 'gpu.yaml']);
  assert.equal(picked({ hostname: 'arm-3', dmiProduct: 'Overdrive 1000' }), ['arm.yaml', 'common.yaml']);

  const none = loadSource(repo('none', { 'gpu.yaml': 'version: 1\nhosts: ["pve-gpu-*"]\n', 'arm.yaml': 'version: 1\ndmi: { product: "Overdrive*" }\n' }));
  const err = vrError(() => selectFiles(none, { hostname: 'nas-1', machineId: ID }));
  assert.is(err.exitCode, 1);
  const out = text(err);
  assert.match(out, `no state file in ${join(tmp.dir, 'none')} is for this host, nas-1 (no DMI product, machine-id ${ID})`);
  assert.match(out, /arm\.yaml: for DMI product 'Overdrive\*': the host has no DMI product name to match 'Overdrive\*'/);
  assert.match(out, /gpu\.yaml: for hosts pve-gpu-\*: hostname nas-1 is not pve-gpu-\*/);

  // One file for other hosts stays what it always was: nothing to do, not an error.
  const one = selectFiles({ path: 'gpu.yaml', dir: false, files: [state('hosts: ["pve-*"]\ndmi: { product: "R750" }\n')] }, { hostname: 'pve-1', dmiProduct: 'R640' });
  assert.equal(one.kind === 'elsewhere' && one.message, `x.yaml is for hosts pve-*, DMI product 'R750'; this host is pve-1 (DMI product 'R640' is not 'R750'): nothing to do here.`);
});

// A host with a GPU pair, a USB controller and an SR-IOV NIC with two VFs.
const gpu = pci('0000:01:00.0', { vendor: '10de', device: '2204', iommuGroup: '1', driver: 'nouveau' });
const audio = pci('0000:01:00.1', { vendor: '10de', device: '1aef', iommuGroup: '1', driver: 'snd_hda_intel' });
const usb = pci('0000:05:00.0', { vendor: '1b21', device: '2142', iommuGroup: '7', driver: 'xhci_hcd' });
const nic = sriov('0000:03:00.0', 8, ['0000:03:02.0', '0000:03:02.1'], { iommuGroup: '3', driver: 'i40e' });
const h = host([gpu, audio, usb, ...nic]);
const file = (path: string, body: string) => loadStateFile(path, `version: 1\n${body}`);

s('selected files merge: each file keeps its own rules, lines and files', () => {
  const a = file('hosts/gpu.yaml', 'devices:\n  - name: rtx\n    match: { vendor: "10de" }\n    driver: vfio-pci\n');
  const b = file('hosts/usb.yaml', 'devices:\n  - match: { vendor: "1b21" }\n    driver: none\n');
  const d = resolveFiles([a, b], h, 'hosts');
  assert.equal(d.bindings.map((x) => [x.device, x.rule.pos.file, x.rule.pos.line]), [
    ['pci/0000:01:00.0', 'hosts/gpu.yaml', 3],
    ['pci/0000:01:00.1', 'hosts/gpu.yaml', 3],
    ['pci/0000:05:00.0', 'hosts/usb.yaml', 3],
  ]);
  assert.is(d.state.path, 'hosts');
  assert.is(d.state.rules.length, 2);
});

s('two files claiming one device are refused, naming both files and lines, even when they agree', () => {
  const a = file('hosts/gpu.yaml', 'devices:\n  - name: rtx\n    match: { address: "01:00.0" }\n    driver: vfio-pci\n');
  const b = file('hosts/all-nvidia.yaml', 'devices:\n  - match: { vendor: "10de" }\n    driver: vfio-pci\n');
  const err = vrError(() => resolveFiles([a, b], h, 'hosts'));
  assert.is(err.exitCode, 1);
  const out = text(err);
  assert.match(out, 'hosts: the state files for this host overlap');
  assert.match(out, "hosts/all-nvidia.yaml:3:5: 0000:01:00.0 (10de:2204) is claimed by hosts/gpu.yaml:3 (rule 'rtx') and by hosts/all-nvidia.yaml:3 (rule devices[0])");
  assert.match(out, /hint: a device belongs to one state file/);
});

s('a vfs: block claims its PF and the VFs it drives; iommuGroups options must agree', () => {
  const pf = file('hosts/nic.yaml', 'devices:\n  - match: { address: "03:00.0" }\n    vfs: { count: 2, driver: vfio-pci }\n');
  const vf = file('hosts/vf.yaml', 'devices:\n  - match: { pf: "03:00.0" }\n    driver: vfio-pci\n');
  assert.match(text(vrError(() => resolveFiles([pf, vf], h, 'hosts'))), /0000:03:02\.0 \(8086:154c\) is claimed by hosts\/nic\.yaml:3/);
  // A vfs: block without a driver leaves the VFs to other files.
  const pfOnly = file('hosts/nic.yaml', 'devices:\n  - match: { address: "03:00.0" }\n    vfs: { count: 2 }\n');
  assert.equal(resolveFiles([pfOnly, vf], h, 'hosts').bindings.map((b) => [b.device, b.rule.pos.file]), [
    ['pci/0000:03:00.0', 'hosts/nic.yaml'],
    ['pci/0000:03:02.0', 'hosts/vf.yaml'],
    ['pci/0000:03:02.1', 'hosts/vf.yaml'],
  ]);

  const strict = file('hosts/a.yaml', 'devices:\n  - match: { vendor: "1b21" }\n    driver: none\n');
  const include = file('hosts/b.yaml', 'options: { iommuGroups: include }\n');
  assert.match(text(vrError(() => resolveFiles([strict, include], h, 'hosts'))), 'disagree on options.iommuGroups: hosts/a.yaml strict, hosts/b.yaml include');
});

s('selector problems of every selected file are reported together', () => {
  const a = file('hosts/a.yaml', 'devices:\n  - match: { vendor: "10de" }\n    count: 3\n    driver: vfio-pci\n');
  const b = file('hosts/b.yaml', 'devices:\n  - match: { vendor: "1b21" }\n    count: 2\n    driver: none\n');
  const out = text(vrError(() => resolveFiles([a, b], h, 'hosts')));
  assert.match(out, /hosts\/a\.yaml:3:5: rule devices\[0\] \(line 3\) expects 3 devices, matched 2/);
  assert.match(out, /hosts\/b\.yaml:3:5: rule devices\[0\] \(line 3\) expects 2 devices, matched 1/);
});

s.run();
