// `driver: vfio`: the most specific VFIO variant driver whose modules.alias entry matches the
// device (its modalias with `pci:` as `vfio_pci:`), else vfio-pci; the plan says which and why. A
// driver named in the file is used as given.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { aliasRegExp, chooseVfioDriver } from '../../src/desire/variant.js';
import { VrError } from '../../src/domain/errors.js';
import type { Device, Host } from '../../src/domain/types.js';
import { KernelModel } from '../../src/kernel/model.js';
import { SystemModules } from '../../src/observe/modules.js';
import { converge, observed, planYaml } from '../sriov/support.js';

const s = suite('variant drivers: driver: vfio');

const MLX5_VF = 'vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*';

/** A ConnectX-6 Dx PF with one VF on mlx5_core, an Intel NIC, and the VFIO modules, none loaded. */
function mlxHost(): KernelModel {
  return new KernelModel()
    .driver('pci', 'mlx5_core', { ids: [['15b3', '101d'], ['15b3', '101e']], sriov: true })
    .driver('pci', 'e1000e', { ids: [['8086', '10d3']] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false, aliases: ['vfio_pci:v*d*sv*sd*bc*sc*i*'] })
    .driver('pci', 'mlx5_vfio_pci', { loaded: false, aliases: [MLX5_VF] })
    .driver('pci', 'hisi_acc_vfio_pci', { loaded: false, aliases: ['vfio_pci:v000019E5d0000A251sv*sd*bc*sc*i*'] })
    .pci('0000:3b:00.0', { vendor: '15b3', device: '101d', class: '020000', group: '40', driver: 'mlx5_core', sriov: { totalVfs: 4, vfDevice: '101e' } })
    .pci('0000:3b:00.1', { vendor: '15b3', device: '101e', class: '020000', group: '41', driver: 'mlx5_core', physfn: '0000:3b:00.0' })
    .pci('0000:05:00.0', { vendor: '8086', device: '10d3', class: '020000', group: '5', driver: 'e1000e' });
}

const dev = (o: Partial<Device>): Device => ({ key: 'pci/0000:01:00.0', bus: 'pci', name: '0000:01:00.0', driver: null, override: null, iommuGroup: '1', isBridge: false, ...o });
const hostWith = (aliases: { pattern: string; module: string }[] | undefined): Host => ({
  devices: [],
  drivers: { pci: [], platform: [] },
  groups: {},
  modules: { known: true, available: [], loaded: [], ...(aliases ? { vfioAliases: aliases } : {}) },
});

s('modules.alias: only the vfio_pci: lines, with their modules underscored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vr-alias-'));
  try {
    mkdirSync(join(dir, 'lib'));
    writeFileSync(
      join(dir, 'lib', 'modules.alias'),
      [
        '# Aliases extracted from modules themselves.',
        'alias pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_core',
        `alias ${MLX5_VF} mlx5_vfio_pci`,
        'alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci',
        'alias vfio_pci:v00001DD8d00000008sv*sd*bc*sc*i* pds-vfio-pci',
        '',
      ].join('\n'),
    );
    assert.equal(new SystemModules({ libModules: join(dir, 'lib') }).vfioAliases(), [
      { pattern: MLX5_VF, module: 'mlx5_vfio_pci' },
      { pattern: 'vfio_pci:v*d*sv*sd*bc*sc*i*', module: 'vfio_pci' },
      { pattern: 'vfio_pci:v00001DD8d00000008sv*sd*bc*sc*i*', module: 'pds_vfio_pci' },
    ]);
    assert.is(new SystemModules({ libModules: join(dir, 'nowhere') }).vfioAliases(), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s('aliases match as modprobe matches them: * and ? anywhere, [..] classes, the rest literal', () => {
  assert.ok(aliasRegExp(MLX5_VF).test('vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc02sc00i00'));
  assert.not.ok(aliasRegExp(MLX5_VF).test('vfio_pci:v000015B3d0000101Dsv000015B3sd00000016bc02sc00i00'));
  assert.ok(aliasRegExp('vfio_pci:v0000[12]0DEd*').test('vfio_pci:v000010DEd00002204'));
  assert.not.ok(aliasRegExp('vfio_pci:v.*').test('vfio_pci:vX'), 'a dot is a dot');
});

s('the most specific alias wins (fewest wildcards), and the plan says why', () => {
  const d = dev({ vendor: '15b3', device: '101e', subsystemVendor: '15b3', subsystemDevice: '0016', class: '020000', modalias: 'pci:v000015B3d0000101Esv000015B3sd00000016bc02sc00i00' });
  const generic = { pattern: 'vfio_pci:v*d*sv*sd*bc*sc*i*', module: 'vfio_pci' };
  const byVendor = { pattern: 'vfio_pci:v000015B3d*sv*sd*bc*sc*i*', module: 'some_vfio_pci' };
  const exact = { pattern: MLX5_VF, module: 'mlx5_vfio_pci' };
  assert.equal(chooseVfioDriver(d, hostWith([generic, byVendor, exact])), {
    kind: 'driver',
    driver: 'mlx5_vfio_pci',
    chosen: `mlx5_vfio_pci: modules.alias ${MLX5_VF}`,
  });
  assert.is(chooseVfioDriver(d, hostWith([generic, byVendor])).driver, 'some_vfio_pci');
  assert.equal(chooseVfioDriver(d, hostWith([generic])), {
    kind: 'driver',
    driver: 'vfio-pci',
    chosen: 'vfio-pci: no VFIO variant driver in modules.alias matches vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc02sc00i00',
  });
  assert.match(chooseVfioDriver(d, hostWith(undefined)).chosen!, 'vfio-pci: no modules.alias was read for this kernel');
  assert.is(chooseVfioDriver({ ...d, bus: 'platform', name: 'e0700000.xgmac' }, hostWith([exact])).driver, 'vfio-platform');
});

s('a VF goes to its variant driver, loaded first; a NIC with none goes to vfio-pci; converges', async () => {
  const k = mlxHost();
  const yaml = `version: 1
devices:
  - name: cx6-vf
    match: { pf: "3b:00.0" }
    driver: vfio
  - name: nic
    match: { address: "05:00.0" }
    driver: vfio
`;
  const { first, result, again } = await converge(k, yaml);
  const vf = first.doc.changes.find((c) => c.address === '0000:3b:00.1')!;
  assert.equal([vf.target, vf.after.driver, vf.driver_choice], ['vfio', 'mlx5_vfio_pci', `mlx5_vfio_pci: modules.alias ${MLX5_VF}`]);
  const nic = first.doc.changes.find((c) => c.address === '0000:05:00.0')!;
  assert.equal([nic.target, nic.after.driver], ['vfio', 'vfio-pci']);
  assert.match(nic.driver_choice!, 'vfio-pci: no VFIO variant driver in modules.alias matches vfio_pci:v00008086d000010D3');
  assert.match(first.text, `      driver: vfio chooses mlx5_vfio_pci: modules.alias ${MLX5_VF}\n`);
  assert.equal(first.plan.steps.filter((x) => x.kind === 'load-module').map((x) => x.kind === 'load-module' && x.module), ['mlx5_vfio_pci', 'vfio_pci']);
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal([k.dev('0000:3b:00.1').driver, k.dev('0000:3b:00.1').override], ['mlx5_vfio_pci', 'mlx5_vfio_pci']);
  assert.is(k.dev('0000:05:00.0').driver, 'vfio-pci');
  assert.equal(again.plan.steps, []);
});

s('a driver named in the file is used as given, even where a variant driver matches', () => {
  const p = planYaml(mlxHost(), 'version: 1\ndevices:\n  - match: { pf: "3b:00.0" }\n    driver: vfio-pci\n');
  const vf = p.doc.changes[0]!;
  assert.equal([vf.target, vf.after.driver, vf.driver_choice], ['vfio-pci', 'vfio-pci', null]);
});

s('vfs: { driver: vfio } picks the driver for the VFs the apply creates, from their VF device id', async () => {
  const k = new KernelModel()
    .driver('pci', 'mlx5_core', { ids: [['15b3', '101d'], ['15b3', '101e']], sriov: true })
    .driver('pci', 'mlx5_vfio_pci', { loaded: false, aliases: [MLX5_VF] })
    .pci('0000:3b:00.0', { vendor: '15b3', device: '101d', class: '020000', group: '40', driver: 'mlx5_core', sriov: { totalVfs: 4, vfDevice: '101e' } });
  const yaml = 'version: 1\ndevices:\n  - match: { address: "3b:00.0" }\n    vfs: { count: 2, driver: vfio }\n';
  const { first, result, again } = await converge(k, yaml);
  assert.equal(first.doc.changes.filter((c) => c.created).map((c) => c.after.driver), ['mlx5_vfio_pci', 'mlx5_vfio_pci']);
  assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
  assert.equal([k.dev('0000:3b:00.1').driver, k.dev('0000:3b:00.2').driver], ['mlx5_vfio_pci', 'mlx5_vfio_pci']);
  assert.equal(again.plan.steps, []);
});

s('two rules agree when vfio chooses the driver the other names, and conflict otherwise', () => {
  const both = (a: string, b: string) => `version: 1\ndevices:\n  - match: { pf: "3b:00.0" }\n    driver: ${a}\n  - match: { vendor: "15b3", device: "101e" }\n    driver: ${b}\n`;
  assert.is(planYaml(mlxHost(), both('vfio', 'mlx5_vfio_pci')).doc.changes.length, 1);
  try {
    planYaml(mlxHost(), both('vfio', 'vfio-pci'));
    assert.unreachable('conflicting rules must be refused');
  } catch (err) {
    assert.instance(err, VrError);
    assert.match((err as VrError).diagnostics[0]!.message, 'wants mlx5_vfio_pci, rule devices[1] (line 5) wants vfio-pci');
  }
});

s('observe carries the vfio_pci aliases in the host, and a host without a module list has none', () => {
  assert.ok(observed(mlxHost()).modules.vfioAliases!.some((a) => a.module === 'mlx5_vfio_pci' && a.pattern === MLX5_VF));
  const bare = new KernelModel({ modulesKnown: false }).driver('pci', 'e1000e').pci('0000:05:00.0', { vendor: '8086', device: '10d3', driver: 'e1000e' });
  assert.is(observed(bare).modules.vfioAliases, undefined);
});

s.run();
