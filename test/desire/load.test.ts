import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStateFile } from '../../src/desire/load.js';
import { packageRoot } from '../../src/cli/paths.js';
import { vrError } from './hosts.js';

const s = suite('desire/load');

const load = (text: string) => loadStateFile('state.yaml', text);
const fails = (text: string) => vrError(() => load(text));
const messages = (text: string) => fails(text).diagnostics.map((d) => d.message);
/** One rule with the given match block (flow YAML) and a driver. */
const rule = (match: string, extra = '') => load(`version: 1\ndevices:\n  - match: ${match}\n    driver: vfio-pci\n${extra}`).rules[0]!;
const ruleFails = (match: string, extra = '') => fails(`version: 1\ndevices:\n  - match: ${match}\n    driver: vfio-pci\n${extra}`);

s('the design.md example loads into canonical rules', () => {
  const state = load(`version: 1
hosts: ["pve-*"]
devices:
  - name: rtx3090
    match:
      address: "0000:01:00.*"
      vendor: "10de"
      device: "2204"
    count: 2
    driver: vfio-pci
    vfs: { count: 4, driver: vfio-pci }
    force: false
mdevs:
  - parent: { address: "0000:00:02.0" }
    type: i915-GVTg_V5_4
    uuid: 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
options:
  iommuGroups: strict
`);
  assert.equal(state.hosts, ['pve-*']);
  assert.equal(state.rules, [
    {
      index: 0,
      name: 'rtx3090',
      match: { address: '0000:01:00.*', vendor: '10de', device: '2204' },
      count: 2,
      target: { kind: 'driver', driver: 'vfio-pci' },
      vfs: { count: 4, target: { kind: 'driver', driver: 'vfio-pci' } },
      force: false,
      pos: { file: 'state.yaml', line: 4, col: 5 },
    },
  ]);
  assert.equal(state.mdevs, [
    { index: 0, parent: { address: '0000:00:02.0' }, type: 'i915-GVTg_V5_4', uuid: '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001', pos: { file: 'state.yaml', line: 14, col: 5 } },
  ]);
  assert.equal(state.options, { iommuGroups: 'strict' });
});

s('the shipped examples load', () => {
  const dir = join(packageRoot, 'examples');
  const names = readdirSync(dir).filter((name) => existsSync(join(dir, name, 'state.yaml')));
  assert.ok(names.length >= 3, `found ${names.join(', ')}`);
  for (const name of names) loadStateFile(join(dir, name, 'state.yaml'));
});

s('defaults: no devices, no mdevs, strict groups, no hosts', () => {
  const state = load('version: 1\n');
  assert.equal([state.rules, state.mdevs, state.options, state.hosts], [[], [], { iommuGroups: 'strict' }, undefined]);
});

s('driver grammar: a driver name, default or none', () => {
  const t = (d: string) => load(`version: 1\ndevices:\n  - match: {vendor: "10de"}\n    driver: ${d}\n`).rules[0]!.target;
  assert.equal(t('vfio-pci'), { kind: 'driver', driver: 'vfio-pci' });
  assert.equal(t('default'), { kind: 'default' });
  assert.equal(t('none'), { kind: 'none' });
  assert.match(messages('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    driver: "vfio pci"\n')[0]!, /devices\[0\]\.driver: "vfio pci" is not valid: A driver name/);
  assert.match(messages('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    driver: ../../evil\n')[0]!, /is not valid/);
});

s('hex ids in every form a user writes', () => {
  for (const form of ['"10de"', '"10DE"', '"0x10de"', '0x10de', '0X10DE', '"0X10de"']) {
    assert.is(rule(`{vendor: ${form}}`).match.vendor, '10de', form);
  }
  assert.is(rule('{vendor: 8086}').match.vendor, '8086');
  assert.is(rule('{device: 00e0}').match.device, '00e0', 'YAML reads 00e0 as the float 0');
  assert.is(rule('{subsystemVendor: 1462, subsystemDevice: "3881"}').match.subsystemVendor, '1462');
});

s('hex ids that are not 4 digits are refused with the grammar', () => {
  for (const bad of ['"10d"', '"10dex"', '"0x10de0"', '10de0', '"xyzw"']) {
    const m = ruleFails(`{vendor: ${bad}}`).diagnostics[0]!.message;
    assert.match(m, /devices\[0\]\.match\.vendor: .* is not valid: A 16-bit PCI id: 4 hex digits/, bad);
  }
});

s('addresses: short form gets domain 0000, case is folded, globs per field', () => {
  const a = (addr: string) => rule(`{address: "${addr}"}`).match.address;
  assert.is(a('01:00.0'), '0000:01:00.0');
  assert.is(a('0000:0A:00.1'), '0000:0a:00.1');
  assert.is(a('01:00.*'), '0000:01:00.*');
  assert.is(a('*:01:*.*'), '*:01:*.*');
  assert.is(a('0000:0?:00.?'), '0000:0?:00.?');
  assert.is(rule('{address: 01:00.0}').match.address, '0000:01:00.0', 'unquoted');
});

s('malformed addresses are refused', () => {
  for (const bad of ['1:00.0', '01:00', '0000:01:00.8', '000:01:00.0', '01:00:0', '01:0*.0', 'gg:00.0', '0000:01:00.0 ']) {
    const d = ruleFails(`{address: "${bad}"}`).diagnostics[0]!;
    assert.match(d.message, /match\.address: .* is not valid: PCI address/, bad);
    assert.equal([d.line, d.col], [3, 22], bad);
  }
});

s('class prefixes of 2, 4 or 6 hex digits', () => {
  assert.is(rule('{class: "03"}').match.class, '03');
  assert.is(rule('{class: 0300}').match.class, '0300');
  assert.is(rule('{class: "0x0C0330"}').match.class, '0c0330');
  for (const bad of ['"3"', '"030"', '"03000000"']) {
    assert.match(ruleFails(`{class: ${bad}}`).diagnostics[0]!.message, /class: .* is not valid: PCI class code prefix/, bad);
  }
});

s('iommuGroup accepts a number written either way', () => {
  assert.is(rule('{iommuGroup: 12}').match.iommuGroup, '12');
  assert.is(rule('{iommuGroup: "012"}').match.iommuGroup, '12');
  assert.match(ruleFails('{iommuGroup: "a"}').diagnostics[0]!.message, /IOMMU group number/);
});

s('an unknown key suggests the nearest allowed one, at the key', () => {
  const e = fails('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    drvier: vfio-pci\n');
  assert.equal(e.diagnostics.map((d) => [d.message, d.line, d.col]), [["unknown key 'drvier' in devices[0]; did you mean 'driver'?", 4, 5]]);
  assert.match(ruleFails('{adress: "01:00.0"}').diagnostics[0]!.message, /unknown key 'adress' in devices\[0\]\.match; did you mean 'address'\?/);
  assert.match(ruleFails('{subsystem_vendor: "1462"}').diagnostics[0]!.message, /did you mean 'subsystemVendor'\?/);
  assert.match(messages('version: 1\nOptions: {}\n')[0]!, /unknown key 'Options' at the top level; did you mean 'options'\?/);
});

s('an unknown key with no near match lists what is allowed', () => {
  const d = fails('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    driver: vfio-pci\n    priority: 3\n').diagnostics[0]!;
  assert.is(d.message, "unknown key 'priority' in devices[0]");
  assert.is(d.hint, 'allowed here: name, match, count, driver, vfs, force');
});

s('wrong types say what was expected and what was found', () => {
  const e = ruleFails('{vendor: "10de"}', '    count: "2"\n    force: yes\n');
  assert.equal(e.diagnostics.map((d) => [d.message, d.hint, d.line]), [
    ['devices[0].count must be a whole number, got the text "2"', 'write it without quotes: count: 2', 5],
    ['devices[0].force must be true or false, got the text "yes"', undefined, 6],
  ]);
  assert.match(messages('version: 1\ndevices: {match: 1}\n')[0]!, /^devices must be a list, got a mapping$/);
  assert.match(messages('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    driver:\n')[0]!, /^devices\[0\]\.driver has no value; it must be text$/);
  assert.match(messages('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    count: 1.5\n    driver: x\n')[0]!, /count must be a whole number, got the number 1.5/);
  assert.match(messages('version: 1\ndevices:\n  - match: {vendor: "10de"}\n    count: -1\n    driver: x\n')[0]!, /count must be at least 0/);
});

s('the version: which versions exist', () => {
  const d = fails('version: 2\n').diagnostics[0]!;
  assert.equal([d.message, d.hint, d.line, d.col], ['unsupported version 2; this vfio-reconcile reads version 1', 'write `version: 1`', 1, 10]);
  assert.match(messages('version: "1"\n')[0]!, /unsupported version "1"/);
  assert.equal(messages('devices: []\n'), ["the top level is missing 'version'"]);
});

s('enums list the allowed values', () => {
  const d = fails('version: 1\noptions:\n  iommuGroups: loose\n').diagnostics[0]!;
  assert.equal([d.message, d.line, d.col], ['options.iommuGroups must be one of: strict, include (got the text "loose")', 3, 16]);
  assert.match(ruleFails('{bus: usb}').diagnostics[0]!.message, /bus must be one of: pci, platform/);
  assert.is(load('version: 1\noptions: {iommuGroups: include}\n').options.iommuGroups, 'include');
});

s('an empty match is refused', () => {
  const d = ruleFails('{}').diagnostics[0]!;
  assert.equal([d.message, d.line], ['devices[0].match is empty: give at least one key (an empty match would select every device)', 3]);
  assert.match(messages('version: 1\ndevices:\n  - driver: vfio-pci\n')[0]!, /devices\[0\] is missing 'match'/);
});

s('a rule must ask for something: a driver or vfs', () => {
  const d = fails('version: 1\ndevices:\n  - match: {vendor: "10de"}\n').diagnostics[0]!;
  assert.match(d.message, /devices\[0\] says nothing to do: give a driver/);
  assert.equal([d.line, d.col], [3, 5]);
  const r = load('version: 1\ndevices:\n  - match: {address: "03:00.0"}\n    vfs: {count: 4}\n').rules[0]!;
  assert.equal([r.target, r.vfs], [{ kind: 'default' }, { count: 4, target: { kind: 'default' } }]);
});

s('count: 0 is allowed (the rule must match nothing)', () => {
  assert.is(rule('{vendor: "10de"}', '    count: 0\n').count, 0);
});

s('contradictory selectors are refused at the contradicting key', () => {
  const at = (match: string) => ruleFails(match).diagnostics.map((d) => [d.message, d.line, d.col]);
  assert.equal(at('{compatible: "arm,pl330", bus: pci}'), [['devices[0].match: compatible selects platform devices, but bus is pci', 3, 43]]);
  assert.equal(at('{address: "01:00.0", bus: platform}'), [['devices[0].match: address selects PCI devices, but bus is platform', 3, 38]]);
  assert.match(at('{pf: "03:00.0", compatible: "arm,pl330"}')[0]![0] as string, /compatible selects platform devices, but pf selects PCI devices/);
  assert.match(at('{address: "03:00.0", pf: "0000:03:00.0"}')[0]![0] as string, /address and pf name the same device/);
  // A VF address together with its PF's address is a legitimate way to pick one VF.
  assert.equal(rule('{address: "03:02.0", pf: "03:00.0"}').match, { address: '0000:03:02.0', pf: '0000:03:00.0' });
});

s('vfs only where VFs can exist', () => {
  const e = fails('version: 1\ndevices:\n  - match: {pf: "03:00.0"}\n    driver: vfio-pci\n    vfs: {count: 2}\n  - match: {compatible: "arm,pl330"}\n    vfs: {count: 1}\n');
  assert.equal(e.diagnostics.map((d) => [d.message, d.line]), [
    ['devices[0].vfs: this rule selects VFs (pf), and VFs have no VFs of their own', 5],
    ['devices[1].vfs: SR-IOV VFs exist only on PCI physical functions', 7],
  ]);
});

s('a duplicate mdev uuid names the first one', () => {
  const e = fails(`version: 1
mdevs:
  - parent: {address: "00:02.0"}
    type: i915-GVTg_V5_4
    uuid: 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
  - parent: {address: "00:02.0"}
    type: i915-GVTg_V5_4
    uuid: 83B8F4F2-509F-382F-3C1E-E6BFE0FA1001
`);
  assert.equal(e.diagnostics.map((d) => [d.message, d.line, d.col]), [['mdevs[1]: uuid 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 is already used by mdevs[0] (line 3)', 8, 11]]);
  assert.match(messages('version: 1\nmdevs:\n  - parent: {address: "00:02.0"}\n    type: x\n    uuid: not-a-uuid\n')[0]!, /uuid: "not-a-uuid" is not valid: The mdev's UUID/);
});

s('every problem in the file is reported at once, in file order', () => {
  const e = fails(`version: 1
devices:
  - match: {vendr: "10de"}
    driver: vfio-pci
  - match: {vendor: "10de"}
    count: two
    driver: vfio pci
options: {iommuGroups: maybe}
`);
  assert.is(e.kind, 'input');
  assert.is(e.exitCode, 1);
  assert.is(e.message, 'state.yaml: 4 problems');
  assert.equal(e.diagnostics.map((d) => d.line), [3, 6, 7, 8]);
  assert.ok(e.diagnostics.every((d) => d.file === 'state.yaml'));
});

s('hosts globs are validated', () => {
  assert.equal(load('version: 1\nhosts: ["pve-*", lab?.example.org]\n').hosts, ['pve-*', 'lab?.example.org']);
  assert.match(messages('version: 1\nhosts: []\n')[0]!, /hosts is an empty list; omit hosts/);
  assert.match(messages('version: 1\nhosts: ["a/b"]\n')[0]!, /hosts\[0\]: "a\/b" is not valid: A hostname glob/);
});

s('reading from disk: missing files, directories, size and binary content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vr-desire-'));
  try {
    const ok = join(dir, 'ok.yaml');
    writeFileSync(ok, 'version: 1\ndevices:\n  - match: {vendor: "10de"}\n    driver: vfio-pci\n');
    assert.is(loadStateFile(ok).rules[0]!.pos.file, ok);
    assert.match(vrError(() => loadStateFile(join(dir, 'nope.yaml'))).diagnostics[0]!.message, /cannot read the state file: no such file/);
    mkdirSync(join(dir, 'sub'));
    assert.match(vrError(() => loadStateFile(join(dir, 'sub'))).diagnostics[0]!.message, /not a regular file/);
    writeFileSync(join(dir, 'big.yaml'), Buffer.alloc(1024 * 1024 + 1, 0x20));
    assert.match(vrError(() => loadStateFile(join(dir, 'big.yaml'))).diagnostics[0]!.message, /larger than 1024 KiB/);
    writeFileSync(join(dir, 'bin.yaml'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0xff, 0x00]));
    const e = vrError(() => loadStateFile(join(dir, 'bin.yaml')));
    assert.is(e.kind, 'input');
    assert.match(e.diagnostics[0]!.message, /binary/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
