// Hostile names at every layer a name passes through on its way to a sysfs path or a command line:
// the kernel-name grammar, the layout builders, the executor's check of a (possibly saved, possibly
// edited) plan, and modprobe's argument list. Nothing may reach a write or a process.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execute } from '../../src/apply/executor.js';
import { VrError } from '../../src/domain/errors.js';
import { isDeviceName, isDriverName, isModuleName } from '../../src/domain/names.js';
import type { Plan, Step } from '../../src/domain/types.js';
import { SystemModules } from '../../src/observe/modules.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { layout } from '../../src/sysfs/layout.js';
import { GPU, labHost, LAB_STATE, XGMAC } from './lab.js';
import { planState, ports } from './support.js';

/** Names that must never become a path component, a sysfs value or a modprobe argument. */
const HOSTILE = [
  '', '.', '..', '../', '../../../etc', '../../../../etc/shadow', 'a/b', '/etc', 'vfio-pci/..',
  'vfio-pci\n', 'vfio-pci\nnvidia', '\nvfio-pci', 'vfio-pci\0', 'vfio\0pci', 'vfio-pci ', ' vfio-pci', 'vfio pci',
  '-r', '--help', '-v', '--remove', '-', 'vfio-pci\r', 'vfio-pci\t',
  'vfio‐pci', /* U+2010 hyphen */ 'ｖfio-pci', /* fullwidth v */ 'vfio-pcі', /* Cyrillic i */ 'vfio-pci\u200b', /* zero-width space */
  'x'.repeat(4096), '$(reboot)', '`id`', 'a;b', 'a|b', '*', '?',
];

const s = suite('hostile names');

s('the kernel-name grammar rejects every hostile name, and accepts real ones', () => {
  for (const name of HOSTILE) {
    assert.not.ok(isDriverName(name), `driver ${JSON.stringify(name)}`);
    assert.not.ok(isModuleName(name), `module ${JSON.stringify(name)}`);
    assert.not.ok(isDeviceName('platform', name), `platform device ${JSON.stringify(name)}`);
    assert.not.ok(isDeviceName('pci', name), `pci device ${JSON.stringify(name)}`);
  }
  for (const addr of ['0000:0A:00.0', '0000:01:00.8', '01:00.0', '0000:01:00.0\n', '0000:01:00.0/..', '0000:01:00.０', '10000:01:00.0']) {
    assert.not.ok(isDeviceName('pci', addr), `pci address ${JSON.stringify(addr)}`);
  }
  for (const d of ['vfio-pci', 'snd_hda_intel', 'amd-xgbe', 'pcieport', 'serial8250', 'nvidia', 'i40e']) assert.ok(isDriverName(d), d);
  for (const m of ['vfio_pci', 'vfio-pci', 'snd_hda_intel', 'i40e']) assert.ok(isModuleName(m), m);
  for (const p of ['12ce0000.i2c', 'AMDI0010:00', 'alarmtimer.0.auto', 'e0700000.xgmac', 'serial8250']) assert.ok(isDeviceName('platform', p), p);
  assert.ok(isDeviceName('pci', '0000:01:00.0'));
  // Long names stop at the kernel's own limits, well before a path could get unwieldy.
  assert.not.ok(isDriverName('d'.repeat(65)));
  assert.not.ok(isModuleName('m'.repeat(57)));
  assert.not.ok(isDeviceName('platform', 'p'.repeat(129)));
});

s('layout builders throw rather than build a path from a hostile name', () => {
  for (const name of HOSTILE) {
    assert.throws(() => layout.device('platform', name), /refusing to build a sysfs path/, JSON.stringify(name));
    assert.throws(() => layout.attr('pci', name, 'driver_override'), /refusing to build a sysfs path/, JSON.stringify(name));
    assert.throws(() => layout.driverAttr('pci', name, 'unbind'), /refusing to build a sysfs path/, JSON.stringify(name));
    assert.throws(() => layout.driverAttr('platform', name, 'bind'), /refusing to build a sysfs path/, JSON.stringify(name));
  }
  assert.is(layout.driverAttr('pci', 'vfio-pci', 'bind'), 'bus/pci/drivers/vfio-pci/bind');
});

// ---------------------------------------------------------------------------------------------
// The executor: a plan may come from a file a user (or an attacker) edited. Each hostile plan puts
// the bad step last, so an executor that checked lazily would already have written the good ones.

/** The lab plan with its last step replaced by `bad`. */
function planEndingWith(bad: unknown): { k: ReturnType<typeof labHost>; plan: Plan } {
  const k = labHost();
  const plan = planState(k, LAB_STATE);
  return { k, plan: { ...plan, steps: [...plan.steps, bad as Step] } };
}

async function assertRefusedBeforeAnyWrite(bad: unknown, label: string): Promise<void> {
  const { k, plan } = planEndingWith(bad);
  let err: unknown;
  try {
    const result = await execute(plan, ports(k));
    err = new Error(`executed: ${result.outcome}`);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VrError && err.kind === 'input', `${label}: not refused as bad input (${(err as Error).message})`);
  assert.equal(k.writes, [], `${label}: the executor wrote before refusing`);
  assert.equal(k.loads, [], `${label}: the executor loaded a module before refusing`);
}

const devicesUsed = (name: string): string[] => [`pci/${name}`, `platform/${name}`];

s('executor refuses a plan naming a hostile device, before any write or module load', async () => {
  const keys = [
    ...HOSTILE.flatMap(devicesUsed),
    'pci/0000:0A:00.0', 'pci/0000:01:00.0/../../x', 'pci/0000:01:00.0\n', 'usb/1-1', 'pci', '../pci/0000:01:00.0',
    `platform/${XGMAC}\0`, 'PCI/0000:01:00.0', 'platform/',
  ];
  for (const device of keys) {
    for (const step of [
      { kind: 'set-override', device, from: null, to: 'vfio-pci', group: '1' },
      { kind: 'unbind', device, driver: 'nouveau', group: '1' },
      { kind: 'probe', device, group: '1' },
      { kind: 'bind', device, driver: 'vfio-pci', group: '1' },
      { kind: 'set-numvfs', device, from: 0, to: 1, group: '1' },
    ]) {
      await assertRefusedBeforeAnyWrite(step, `${step.kind} ${JSON.stringify(device)}`);
    }
  }
});

s('executor refuses a plan naming a hostile driver or module, before any write or module load', async () => {
  const device = `pci/${GPU}`;
  for (const name of HOSTILE) {
    await assertRefusedBeforeAnyWrite({ kind: 'unbind', device, driver: name, group: '1' }, `unbind from ${JSON.stringify(name)}`);
    await assertRefusedBeforeAnyWrite({ kind: 'bind', device, driver: name, group: '1' }, `bind to ${JSON.stringify(name)}`);
    await assertRefusedBeforeAnyWrite({ kind: 'load-module', module: name, driver: 'vfio-pci', bus: 'pci', group: null }, `modprobe ${JSON.stringify(name)}`);
    await assertRefusedBeforeAnyWrite({ kind: 'load-module', module: 'vfio_pci', driver: name, bus: 'pci', group: null }, `load for driver ${JSON.stringify(name)}`);
  }
});

s('executor refuses a load-module step on a bus other than pci or platform, before loading anything', async () => {
  for (const bus of ['../../../etc', 'usb', 'pci/../..', '', 'PCI']) {
    await assertRefusedBeforeAnyWrite({ kind: 'load-module', module: 'vfio_pci', driver: 'vfio-pci', bus, group: null }, `bus ${JSON.stringify(bus)}`);
  }
});

s('executor refuses a set-override value that is not a driver name, before any write', async () => {
  // The value is written to driver_override: the kernel cuts it at a newline (storing a different
  // override than the plan says), and an empty write never reaches the kernel at all.
  for (const to of HOSTILE) {
    await assertRefusedBeforeAnyWrite({ kind: 'set-override', device: `pci/${GPU}`, from: null, to, group: '1' }, `override ${JSON.stringify(to)}`);
  }
});

s('executor refuses a set-numvfs count that is not a whole number from 0 to 65535, before any write', async () => {
  for (const to of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 65536, '3', '1\n', null]) {
    await assertRefusedBeforeAnyWrite({ kind: 'set-numvfs', device: 'pci/0000:5e:00.0', from: 1, to, group: '40' }, `numvfs ${String(to)}`);
  }
});

s('executor refuses a step kind it does not know, before any write', async () => {
  for (const kind of ['remove', 'rescan', 'new_id', '', 'PROBE']) {
    await assertRefusedBeforeAnyWrite({ kind, device: `pci/${GPU}`, group: '1' }, `step kind ${JSON.stringify(kind)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// FsSysfsPort: `..` and absolute paths are refused by name (test/kernel/fs-port.test.ts); a tree
// given with --sysfs-root (a snapshot from elsewhere) can also lead a path out through a symlink.

s('FsSysfsPort refuses a write that a symlink in the tree leads out of the root', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vr-escape-'));
  try {
    const root = join(dir, 'sysfs');
    mkdirSync(join(root, 'bus/pci/drivers'), { recursive: true });
    mkdirSync(join(root, 'devices/pci0000:00/0000:00:1c.0'), { recursive: true });
    mkdirSync(join(root, 'bus/pci/devices'), { recursive: true });
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(dir, 'outside/unbind'), 'precious\n');
    symlinkSync('../../../../outside', join(root, 'bus/pci/drivers/relative'));
    symlinkSync(join(dir, 'outside'), join(root, 'bus/pci/drivers/absolute'));
    // The kernel's own links stay inside the root, and writes through them must keep working.
    writeFileSync(join(root, 'devices/pci0000:00/0000:00:1c.0/driver_override'), '(null)\n');
    symlinkSync('../../../devices/pci0000:00/0000:00:1c.0', join(root, 'bus/pci/devices/0000:00:1c.0'));

    const port = new FsSysfsPort(root);
    for (const driver of ['relative', 'absolute']) {
      await port.write(layout.driverAttr('pci', driver, 'unbind'), '0000:00:1c.0').then(
        () => undefined,
        () => undefined,
      );
    }
    assert.is(readFileSync(join(dir, 'outside/unbind'), 'utf8'), 'precious\n', 'a write escaped the sysfs root through a symlink');
    await port.write(layout.attr('pci', '0000:00:1c.0', 'driver_override'), 'vfio-pci');
    assert.is(readFileSync(join(root, 'devices/pci0000:00/0000:00:1c.0/driver_override'), 'utf8'), 'vfio-pci');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// modprobe: the module name is one argument, and it can never be an option.

s('SystemModules never runs modprobe with a hostile name, and passes a good one as the only argument', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vr-modprobe-'));
  try {
    const log = join(dir, 'argv.log');
    const modprobe = join(dir, 'modprobe');
    // A stand-in modprobe that records its argument vector, one argument per line.
    writeFileSync(modprobe, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done\necho --- >> '${log}'\n`);
    chmodSync(modprobe, 0o755);
    const modules = new SystemModules({ libModules: join(dir, 'none'), modprobe });
    for (const name of HOSTILE) {
      await modules.load(name).then(
        () => assert.unreachable(`modprobe ${JSON.stringify(name)} was allowed`),
        (err: Error) => assert.match(err.message, /invalid module name/, JSON.stringify(name)),
      );
    }
    assert.throws(() => readFileSync(log), /ENOENT/, 'modprobe ran for a hostile name');
    await modules.load('vfio_pci');
    // The name alone, as one argument (an end-of-options `--` before it is fine too).
    const argv = readFileSync(log, 'utf8').split('\n').filter((a) => a !== '' && a !== '---');
    assert.equal(argv.filter((a) => a !== '--'), ['vfio_pci']);
    assert.is(argv[argv.length - 1], 'vfio_pci');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
