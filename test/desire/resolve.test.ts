import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadStateFile } from '../../src/desire/load.js';
import { hostMatches, resolve } from '../../src/desire/resolve.js';
import { formatDiagnostic } from '../../src/domain/errors.js';
import type { Device, Host } from '../../src/domain/types.js';
import { host, pci, platform, sriov, vrError } from './hosts.js';

const s = suite('desire/resolve');

const gpu = pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', iommuGroup: '1', driver: 'nouveau' });
const audio = pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', iommuGroup: '1', driver: 'snd_hda_intel' });
const usb = pci('0000:05:00.0', { vendor: '1b21', device: '2142', class: '0c0330', iommuGroup: '7', driver: 'xhci_hcd' });
const root = pci('0000:00:01.0', { vendor: '1022', device: '1483', class: '060400', iommuGroup: '1', driver: 'pcieport', isBridge: true });
const nicPorts = sriov('0000:03:00.0', 4, ['0000:03:02.0', '0000:03:02.1'], { vendor: '8086', device: '1572', driver: 'i40e' });
const dma = platform('e0700000.dma', ['arm,pl330', 'arm,primecell']);
const pve = host([gpu, audio, usb, root, dma, ...nicPorts]);

/** Rules as YAML list items (`devices:` is added), loaded like a real file. */
const state = (devices: string, top = '') => loadStateFile('state.yaml', `version: 1\n${top}devices:\n${devices}`);
const run = (devices: string, h: Host = pve) => resolve(state(devices), h);
const fails = (devices: string, h: Host = pve) => vrError(() => run(devices, h));

s('rules bind what they match, sorted by device, with the rule recorded', () => {
  const d = run(`  - name: rtx3090
    match: { address: "01:00.*" }
    count: 2
    driver: vfio-pci
  - match: { class: "0c03" }
    driver: none
`);
  assert.equal(d.bindings.map((b) => [b.device, b.target, b.rule.name ?? b.rule.index, b.force]), [
    ['pci/0000:01:00.0', { kind: 'driver', driver: 'vfio-pci' }, 'rtx3090', false],
    ['pci/0000:01:00.1', { kind: 'driver', driver: 'vfio-pci' }, 'rtx3090', false],
    ['pci/0000:05:00.0', { kind: 'none' }, 1, false],
  ]);
  assert.equal(d.vfs, []);
  assert.equal(d.warnings, []);
  assert.is(d.state.path, 'state.yaml');
});

s('a count mismatch names the rule and lists what it matched', () => {
  const e = fails(`  - name: rtx3090
    match: { vendor: "10de", device: "2204" }
    count: 2
    driver: vfio-pci
`);
  assert.is(e.kind, 'selector');
  assert.is(e.exitCode, 1);
  assert.equal(e.diagnostics.map(formatDiagnostic), ["state.yaml:3:5: rule 'rtx3090' (line 3) expects 2 devices, matched 1: 0000:01:00.0 (10de:2204)"]);
  assert.equal(fails('  - match: { vendor: "abcd" }\n    count: 1\n    driver: vfio-pci\n').diagnostics[0]!.message, 'rule devices[0] (line 3) expects 1 device, matched 0');
});

s('count: 0 asserts that nothing matches', () => {
  assert.equal(run('  - match: { vendor: "abcd" }\n    count: 0\n    driver: vfio-pci\n').warnings, []);
  assert.match(fails('  - match: { vendor: "10de" }\n    count: 0\n    driver: vfio-pci\n').diagnostics[0]!.message, /expects 0 devices, matched 2: 0000:01:00.0 \(10de:2204\), 0000:01:00.1 \(10de:1aef\)/);
});

s('two rules giving one device different targets: an error naming both lines and the device', () => {
  const e = fails(`  - name: gpu-card
    match: { address: "01:00.*" }
    driver: vfio-pci
  - name: keep-audio
    match: { class: "0403" }
    driver: snd_hda_intel
`);
  assert.equal(e.diagnostics.map(formatDiagnostic), [
    "state.yaml:6:5: 0000:01:00.1 (10de:1aef): rule 'gpu-card' (line 3) wants vfio-pci, rule 'keep-audio' (line 6) wants snd_hda_intel",
  ]);
});

s('default and none conflict with a driver and with each other', () => {
  assert.match(fails('  - match: { address: "01:00.0" }\n    driver: default\n  - match: { vendor: "10de" }\n    driver: none\n').diagnostics[0]!.message, /wants default, rule devices\[1\] \(line 5\) wants none/);
});

s('the same target from two rules is fine: the first rule is recorded, force from either', () => {
  const d = run(`  - name: first
    match: { address: "01:00.0" }
    driver: vfio-pci
  - name: second
    match: { vendor: "10de" }
    driver: vfio-pci
    force: true
`);
  assert.equal(d.bindings.map((b) => [b.device, b.rule.name, b.force]), [
    ['pci/0000:01:00.0', 'first', true],
    ['pci/0000:01:00.1', 'second', true],
  ]);
});

s('a rule matching nothing without count is a warning, not an error', () => {
  const d = run('  - name: old-card\n    match: { vendor: "1002" }\n    driver: vfio-pci\n');
  assert.equal(d.bindings, []);
  assert.equal(d.warnings, [{ message: "rule 'old-card' (line 3) matches no device on this host", rule: { index: 0, name: 'old-card', line: 3 } }]);
});

s('bridges are skipped with a warning and do not count', () => {
  const d = run('  - match: { iommuGroup: "1" }\n    count: 2\n    driver: vfio-pci\n');
  assert.equal(d.bindings.map((b) => b.device), ['pci/0000:01:00.0', 'pci/0000:01:00.1']);
  assert.equal(d.warnings, [
    {
      message: 'rule devices[0] (line 3) matches bridge 0000:00:01.0 (1022:1483): bridges are never rebound, so it is left alone',
      device: 'pci/0000:00:01.0',
      rule: { index: 0, line: 3 },
    },
  ]);
});

s('vfs: one entry per matched PF', () => {
  const d = run('  - name: x710\n    match: { vendor: "8086", device: "1572" }\n    driver: i40e\n    vfs: { count: 4, driver: vfio-pci }\n');
  assert.equal(d.vfs.map((v) => [v.pf, v.count, v.target, v.rule.name]), [['pci/0000:03:00.0', 4, { kind: 'driver', driver: 'vfio-pci' }, 'x710']]);
  assert.equal(d.bindings.map((b) => [b.device, b.target]), [['pci/0000:03:00.0', { kind: 'driver', driver: 'i40e' }]]);
});

s('vfs: more VFs than sriov_totalvfs, or a device without SR-IOV, is an error', () => {
  const e = fails(`  - name: too-many
    match: { address: "03:00.0" }
    vfs: { count: 8 }
  - name: no-sriov
    match: { address: "05:00.0" }
    driver: xhci_hcd
    vfs: { count: 1 }
`);
  assert.equal(e.diagnostics.map((d) => [d.message, d.line]), [
    ["rule 'too-many' (line 3) asks for 8 VFs on 0000:03:00.0 (8086:1572), which supports at most 4 (sriov_totalvfs)", 3],
    ["rule 'no-sriov' (line 6) asks for VFs, but 0000:05:00.0 (1b21:2142) is not SR-IOV capable", 6],
  ]);
});

s('vfs: a match that also catches the VFs says to narrow it to the PF', () => {
  const e = fails('  - match: { vendor: "8086" }\n    vfs: { count: 2 }\n');
  assert.equal(e.diagnostics.map((d) => d.message), [
    'rule devices[0] (line 3) asks for VFs, but it matches 0000:03:02.0 (8086:154c), itself a VF of 0000:03:00.0: narrow the match to the PF',
    'rule devices[0] (line 3) asks for VFs, but it matches 0000:03:02.1 (8086:154c), itself a VF of 0000:03:00.0: narrow the match to the PF',
  ]);
});

s('vfs: two rules wanting different VFs on one PF conflict', () => {
  const e = fails('  - match: { address: "03:00.0" }\n    vfs: { count: 2 }\n  - match: { vendor: "8086", device: "1572" }\n    vfs: { count: 3 }\n');
  assert.match(e.diagnostics[0]!.message, /0000:03:00.0 \(8086:1572\): rule devices\[0\] \(line 3\) wants 2 VFs on default, rule devices\[1\] \(line 5\) wants 3 VFs on default/);
});

s('pf selects existing VFs; a vfs driver and a pf rule must agree', () => {
  const d = run('  - match: { pf: "03:00.0" }\n    count: 2\n    driver: vfio-pci\n');
  assert.equal(d.bindings.map((b) => b.device), ['pci/0000:03:02.0', 'pci/0000:03:02.1']);
  const e = fails(`  - name: pf
    match: { address: "03:00.0" }
    vfs: { count: 2, driver: vfio-pci }
  - name: one-vf-for-host
    match: { pf: "03:00.0", address: "03:02.1" }
    driver: iavf
`);
  assert.equal(e.diagnostics.map((d) => [d.message, d.line]), [["0000:03:02.1 (8086:154c): rule 'pf' (line 3) wants its VFs on vfio-pci, rule 'one-vf-for-host' (line 6) wants iavf", 6]]);
  // Without a vfs driver, rules for single VFs decide.
  run('  - match: { address: "03:00.0" }\n    vfs: { count: 2 }\n  - match: { pf: "03:00.0", address: "03:02.1" }\n    driver: iavf\n');
});

s('platform devices by compatible', () => {
  const d = run('  - match: { compatible: "arm,primecell" }\n    count: 1\n    driver: vfio-platform\n');
  assert.equal(d.bindings.map((b) => [b.device, b.target]), [['platform/e0700000.dma', { kind: 'driver', driver: 'vfio-platform' }]]);
});

s('all problems are collected into one error, in file order', () => {
  const e = fails(`  - match: { vendor: "abcd" }
    count: 1
    driver: vfio-pci
  - match: { address: "01:00.*" }
    driver: vfio-pci
  - match: { vendor: "10de" }
    driver: nvidia
`);
  assert.is(e.message, 'state.yaml: 3 problems');
  assert.equal(e.diagnostics.map((d) => d.line), [3, 8, 8]);
});

s('resolving is deterministic and leaves host and state untouched', () => {
  const st = state('  - match: { vendor: "10de" }\n    driver: vfio-pci\n');
  const before = JSON.stringify([st, pve]);
  const a = resolve(st, pve);
  const b = resolve(st, pve);
  assert.equal(a, b);
  assert.is(JSON.stringify([st, pve]), before);
});

s('hosts: globs decide where the file applies', () => {
  const st = state('  - match: { vendor: "10de" }\n    driver: vfio-pci\n', 'hosts: ["pve-*", "lab?"]\n');
  assert.ok(hostMatches(st, 'pve-1'));
  assert.ok(hostMatches(st, 'PVE-2'));
  assert.ok(hostMatches(st, 'lab3'));
  assert.not.ok(hostMatches(st, 'lab10'));
  assert.not.ok(hostMatches(st, 'desktop'));
  assert.not.ok(hostMatches(st, 'xpve-1'));
  assert.ok(hostMatches(state('  - match: { vendor: "10de" }\n    driver: vfio-pci\n'), 'anything'));
});

s('devices of a host built from plain data need no extra fields', () => {
  const bare: Device = pci('0000:09:00.0', { vendor: '1af4', device: '1041' });
  assert.equal(run('  - match: { vendor: "1af4" }\n    driver: vfio-pci\n', host([bare])).bindings.length, 1);
});

s.run();
