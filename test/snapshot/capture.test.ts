// Snapshots as data: what capture records from a live-shaped host, that a snapshot read back is the
// same Host the live plan sees (so an offline plan is the live plan), what stays out of the file,
// and which default driver each device gets.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { armBoard, dpdkNic, gpuPassthrough } from '../../examples/hosts.js';
import { observeHost } from '../../src/cli/run-plan.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import { KernelModel } from '../../src/kernel/model.js';
import { plan } from '../../src/plan/planner.js';
import { captureHost, withoutArguments } from '../../src/snapshot/capture.js';
import { AliasTable, parseBuiltinModinfo, parseModulesAlias } from '../../src/snapshot/defaults.js';
import { toSnapshotDocument } from '../../src/snapshot/document.js';
import { loadSnapshot } from '../../src/snapshot/load.js';
import { snapshotValidator } from '../../src/snapshot/schemas.js';
import { MAC, MACHINE_ID, MODULES_ALIAS, SECRET, SERIAL, STATES, liveHost, withIdentifiers, withUsage, type LiveHost } from './support.js';

const meta = { created: new Date('2025-01-02T03:04:05Z'), tool: 'vfio-reconcile test' };
const roundTrip = (h: LiveHost, opts = { includeIds: false }) => {
  const doc = toSnapshotDocument(captureHost(h.env, { applied: {}, ...opts }), meta);
  const text = JSON.stringify(doc, null, 2);
  return { doc, text, loaded: loadSnapshot('host.snapshot.json', text) };
};

const s = suite('snapshot capture');

const hosts: Record<string, () => KernelModel> = {
  'gpu-passthrough': gpuPassthrough,
  'dpdk-nic with VFs': () => {
    const m = dpdkNic();
    void m.write('bus/pci/devices/0000:3b:00.0/sriov_numvfs', '4');
    return m;
  },
  'arm-board': armBoard,
  'gpu-passthrough with a GVT-g mdev on the iGPU': () =>
    gpuPassthrough()
      .mdevParent('0000:00:02.0', { types: [{ id: 'i915-GVTg_V5_4', name: 'GVTg_V5_4', instances: 2 }] })
      .mdev('83b8f4f2-509f-382f-3c1e-e6bfe0fa1001', { parent: '0000:00:02.0', type: 'i915-GVTg_V5_4' }),
};

for (const [name, make] of Object.entries(hosts)) {
  s(`${name}: the snapshot read back is the Host observe builds, and plans the same`, () => {
    const h = liveHost(make(), name === 'gpu-passthrough' ? withUsage : undefined);
    try {
      const live = observeHost(h.env);
      if (name.includes('mdev')) assert.is(live.mdevs?.devices.length, 1, 'the host shows its mdev');
      const { doc, loaded } = roundTrip(h);
      assert.ok(snapshotValidator()(doc), JSON.stringify(snapshotValidator().errors));
      assert.equal(loaded.host, live);
      for (const text of Object.values(STATES)) {
        const state = loadStateFile('state.yaml', text);
        let offline: unknown;
        let online: unknown;
        try {
          online = plan(live, resolve(state, live));
        } catch (err) {
          online = (err as Error).message;
        }
        try {
          offline = plan(loaded.host, resolve(state, loaded.host));
        } catch (err) {
          offline = (err as Error).message;
        }
        assert.equal(offline, online, text);
      }
    } finally {
      h.cleanup();
    }
  });
}

s('records the host names: hostname, kernel, DMI product, machine-id', () => {
  const h = liveHost(gpuPassthrough());
  try {
    const { doc, loaded } = roundTrip(h);
    assert.equal(doc.host, { hostname: 'pve-lab', kernel: '6.8.12-4-pve', dmi_product: 'ProArt Z790-CREATOR WIFI', machine_id: MACHINE_ID });
    assert.is(loaded.dmiProduct, 'ProArt Z790-CREATOR WIFI');
    assert.is(loaded.machineId, MACHINE_ID);
    assert.is(doc.kind, 'vfio-reconcile-snapshot');
    assert.is(doc.format_version, '1.0');
    assert.is(doc.created, '2025-01-02T03:04:05.000Z');
    assert.ok(doc.usage_known);
    assert.ok(doc.modules.known);
    assert.ok(doc.modules.available.includes('vfio_pci'));
  } finally {
    h.cleanup();
  }
});

s('in-use facts travel in the snapshot: the offline plan refuses the console GPU and the root disk', () => {
  const h = liveHost(gpuPassthrough(), withUsage);
  try {
    const { doc, loaded } = roundTrip(h);
    const gpu = doc.devices.find((d) => d.address === '0000:01:00.0')!;
    assert.equal(gpu.in_use.map((f) => f.kind), ['fbcon']);
    for (const name of ['gpu', 'nvme']) {
      const state = loadStateFile('s.yaml', STATES[name]!);
      const p = plan(loaded.host, resolve(state, loaded.host));
      assert.not.ok(p.applyable, name);
      assert.ok(p.blocked.some((b) => b.code === 'in-use'), JSON.stringify(p.blocked));
    }
  } finally {
    h.cleanup();
  }
});

s('no MAC addresses, serial numbers or VM command-line arguments unless --include-ids (and never the arguments)', () => {
  const h = liveHost(gpuPassthrough(), withIdentifiers);
  try {
    const plain = roundTrip(h).text;
    for (const secret of [MAC, SERIAL, SECRET, 'identifiers', '-spice']) assert.not.ok(plain.includes(secret), `${secret} leaked`);
    assert.match(plain, '/dev/vfio/14 open by pid 4242 (qemu-system-x86_64 …)');

    const { text, doc, loaded } = roundTrip(h, { includeIds: true });
    assert.not.ok(text.includes(SECRET));
    assert.equal(doc.devices.find((d) => d.address === '0000:00:1f.6')!.identifiers, { macs: [{ interface: 'enp0s31f6', address: MAC }], serial: null });
    assert.equal(doc.devices.find((d) => d.address === '0000:04:00.0')!.identifiers, { macs: [], serial: SERIAL });
    assert.is(loaded.identifiers?.['pci/0000:04:00.0']?.serial, SERIAL);
  } finally {
    h.cleanup();
  }
});

s('a vfio-open fact keeps what blocks and drops the arguments; an unknown shape is withheld whole', () => {
  assert.equal(withoutArguments({ kind: 'vfio-open', detail: '/dev/vfio/3 open by pid 7 (qemu -object secret,data=x)' }), {
    kind: 'vfio-open',
    detail: '/dev/vfio/3 open by pid 7 (qemu …)',
  });
  assert.equal(withoutArguments({ kind: 'vfio-open', detail: '/dev/vfio/3 open by pid 7 ([qemu])' }), { kind: 'vfio-open', detail: '/dev/vfio/3 open by pid 7 ([qemu])' });
  assert.not.match(withoutArguments({ kind: 'vfio-open', detail: 'held by qemu password=x' }).detail, 'password');
  const mount = { kind: 'mount' as const, detail: '/dev/nvme0n1 mounted on /' };
  assert.is(withoutArguments(mount), mount);
});

s('default drivers: the host driver a device sits on, else the first modules.alias match, else unknown', () => {
  // The GPU is on vfio-pci by override, the NVMe controller unbound, the host bridge unbound with no alias.
  const h = liveHost(
    new KernelModel({ kernel: '6.8.12-4-pve', modulesKnown: false })
      .driver('pci', 'vfio-pci', { module: 'vfio_pci' })
      .driver('pci', 'e1000e', { ids: [['8086', '1a1c']] })
      .pci('0000:00:00.0', { vendor: '8086', device: '4660', class: '060000', group: '0' })
      .pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', group: '1', driver: 'vfio-pci', override: 'vfio-pci' })
      .pci('0000:04:00.0', { vendor: '144d', device: 'a80a', class: '010802', group: '13' })
      .pci('0000:00:1f.6', { vendor: '8086', device: '1a1c', class: '020000', group: '11', driver: 'e1000e' }),
  );
  try {
    const { doc } = roundTrip(h);
    const def = (address: string) => doc.devices.find((d) => d.address === address)!.default_driver;
    assert.equal(def('0000:01:00.0'), { driver: 'nouveau', module: 'nouveau', source: 'modules.alias', candidates: ['nouveau', 'nvidiafb'] });
    assert.equal(def('0000:04:00.0'), { driver: 'nvme', module: 'nvme', source: 'modules.alias', candidates: ['nvme'] });
    assert.equal(def('0000:00:1f.6'), { driver: 'e1000e', module: 'e1000e', source: 'bound', candidates: ['e1000e'] });
    assert.equal(def('0000:00:00.0'), { driver: null, module: null, source: 'unknown', candidates: [] });
  } finally {
    h.cleanup();
  }
});

s('a loaded module names its own driver (module/<m>/drivers/pci:<driver>): xhci_pci registers xhci_hcd', () => {
  const h = liveHost(
    new KernelModel({ kernel: '6.12', modulesKnown: false })
      .driver('pci', 'xhci_hcd', { module: 'xhci_pci', ids: [] })
      .pci('0000:05:00.0', { vendor: '1b21', device: '2142', class: '0c0330', group: '14', override: 'none' }),
    (fh) => {
      fh.mkdir('module/xhci_pci/drivers/pci:xhci_hcd');
    },
  );
  try {
    const { doc } = roundTrip(h);
    assert.equal(doc.devices[0]!.default_driver, { driver: 'xhci_hcd', module: 'xhci_pci', source: 'modules.alias', candidates: ['xhci_pci'] });
  } finally {
    h.cleanup();
  }
});

s('modules.alias globs follow fnmatch: *, ?, [..] and [!..]; built-in aliases come from modules.builtin.modinfo', () => {
  const table = new AliasTable([
    ...parseModulesAlias(MODULES_ALIAS),
    ...parseModulesAlias('alias pci:v0000ABC[DE]d*sv*sd*bc*sc*i* bracket\nalias pci:v0000ABCFd000?0001sv*sd*bc*sc*i* question\nalias pci:v0000ABC[!DEF]d*sv*sd*bc*sc*i* negated\nnot an alias line\n'),
    ...parseBuiltinModinfo('pcieport.alias=pci:v*d*sv*sd*bc06sc04i00*\0pcieport.license=GPL\0'),
  ]);
  assert.equal(table.modules('pci:v000010DEd00002204sv00001043sd000087B5bc03sc00i00'), ['nouveau', 'nvidiafb']);
  assert.equal(table.modules('pci:v000010DEd00001AEFsv00001043sd000087B5bc04sc03i00'), ['snd_hda_intel']);
  assert.equal(table.modules('pci:v00000ABDd00001234sv00000000sd00000000bc00sc00i00'), []);
  assert.equal(table.modules('pci:v0000ABCEd00001234sv00000000sd00000000bc00sc00i00'), ['bracket']);
  assert.equal(table.modules('pci:v0000ABC0d00001234sv00000000sd00000000bc00sc00i00'), ['negated']);
  assert.equal(table.modules('pci:v0000ABCFd00020001sv00000000sd00000000bc00sc00i00'), ['question']);
  assert.equal(table.modules('pci:v00008086d0000460Dsv00000000sd00000000bc06sc04i00'), ['pcieport']);
  assert.equal(table.modules('of:NxgmacT(null)Camd,xgbe-seattle-v1a'), ['amd_xgbe']);
  assert.equal(table.modules('of:NxgmacT(null)Camd,xgbe-seattle-v1aX'), [], 'the whole modalias must match');
});

s.run();
