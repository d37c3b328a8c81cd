// `snapshot` then `plan --snapshot`: on a machine without the hardware, the plan a reviewer sees
// and the exit code CI acts on are the live host's, byte for byte; and a file that is not a sound
// snapshot is refused with the reason, not planned against.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Plan from '../../src/commands/plan.js';
import Snapshot from '../../src/commands/snapshot.js';
import { PCI_IDS_FIXTURE, runIn, runOut, sysfsTree, tempDir } from '../cli/harness.js';
import { liveHost, withUsage, writeStates, type LiveHost } from './support.js';

const tmp = tempDir('plan-snapshot');
const states = writeStates(tmp.dir);
const s = suite('plan --snapshot');
s.after(tmp.cleanup);

/** Run `argv` with the live host injected, then against a snapshot of it; both results. */
async function liveAndOffline(h: LiveHost, snapshot: string, argv: string[]) {
  injectEnv(() => h.env);
  try {
    const live = await runIn(Plan, argv);
    const offline = await runIn(Plan, [...argv, '--snapshot', snapshot]);
    return { live, offline };
  } finally {
    injectEnv(null);
  }
}

for (const [label, decorate] of [['no usage', undefined], ['console GPU and root disk in use', withUsage]] as const) {
  s(`${label}: every state file plans the same offline as live (text, --json, --detailed-exitcode)`, async () => {
    const h = liveHost(gpuPassthrough(), decorate);
    const pciIds = process.env.VFIO_RECONCILE_PCI_IDS;
    process.env.VFIO_RECONCILE_PCI_IDS = PCI_IDS_FIXTURE; // the live env's names come from the same file
    try {
      const snap = join(tmp.dir, `${label}.json`);
      injectEnv(() => h.env);
      const taken = await runIn(Snapshot, ['-o', snap]);
      injectEnv(null);
      assert.is(taken.exitCode, 0, taken.stderr);
      assert.match(taken.stdout, `Wrote a snapshot of pve-lab (11 devices, in-use facts) to ${snap}.`);
      const codes = new Set<number>();
      for (const [name, path] of Object.entries(states)) {
        for (const extra of [[], ['--json'], ['--detailed-exitcode']]) {
          const { live, offline } = await liveAndOffline(h, snap, [path, ...extra]);
          assert.is(offline.stdout, live.stdout, `${name} ${extra.join(' ')}: stdout`);
          assert.is(offline.stderr, live.stderr, `${name} ${extra.join(' ')}: stderr`);
          assert.is(offline.exitCode, live.exitCode, `${name} ${extra.join(' ')}: exit code`);
          codes.add(live.exitCode);
        }
      }
      // The comparison covered clean plans, pending changes and refusals.
      assert.equal([...codes].sort(), [0, 1, 2]);
    } finally {
      injectEnv(null);
      if (pciIds === undefined) delete process.env.VFIO_RECONCILE_PCI_IDS;
      else process.env.VFIO_RECONCILE_PCI_IDS = pciIds;
      h.cleanup();
    }
  });
}

s('end to end: a snapshot of a --sysfs-root tree plans like the tree, in a fresh process', () => {
  const tree = sysfsTree(gpuPassthrough());
  try {
    const snap = join(tmp.dir, 'tree.json');
    const taken = runOut(['snapshot', '--sysfs-root', tree.dir, '--hostname', 'pve-lab', '-o', snap]);
    assert.is(taken.exitCode, 0, taken.stderr);
    for (const extra of [[], ['--json'], ['--detailed-exitcode']]) {
      const live = runOut(['plan', states.gpu!, '--sysfs-root', tree.dir, '--hostname', 'pve-lab', ...extra]);
      const offline = runOut(['plan', states.gpu!, '--snapshot', snap, ...extra]);
      assert.is(offline.stdout, live.stdout);
      assert.is(offline.exitCode, live.exitCode);
    }
    // --hostname overrides the snapshot's own name, as it does this machine's.
    const elsewhere = runOut(['plan', states.gpu!, '--snapshot', snap, '--hostname', 'db-1']);
    assert.is(elsewhere.exitCode, 0);
    assert.match(elsewhere.stdout, 'this host is db-1: nothing to do here');
  } finally {
    tree.cleanup();
  }
});

s('snapshot without -o prints the document; --json prints the same document', () => {
  const tree = sysfsTree(gpuPassthrough());
  try {
    const plain = JSON.parse(runOut(['snapshot', '--sysfs-root', tree.dir, '--hostname', 'h1']).stdout);
    const json = JSON.parse(runOut(['snapshot', '--sysfs-root', tree.dir, '--hostname', 'h1', '--json']).stdout);
    assert.is(plain.kind, 'vfio-reconcile-snapshot');
    assert.equal({ ...json, created: null }, { ...plain, created: null });
    assert.is(plain.devices.length, 11);
    assert.is(plain.usage_known, false, 'a copied tree has no in-use facts');
  } finally {
    tree.cleanup();
  }
});

const bad = (name: string, text: string): string => {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
};

s('what is not a sound snapshot is refused with the reason, exit 1', async () => {
  const tree = sysfsTree(gpuPassthrough());
  const good = join(tmp.dir, 'good.json');
  runOut(['snapshot', '--sysfs-root', tree.dir, '-o', good]);
  tree.cleanup();
  const doc = JSON.parse(readFileSync(good, 'utf8'));
  const edit = (name: string, change: (d: typeof doc) => void): string => {
    const copy = structuredClone(doc);
    change(copy);
    return bad(name, JSON.stringify(copy, null, 2));
  };
  const cases: [string, string, RegExp][] = [
    [states.gpu!, 'state file', /is not a host snapshot: it is not valid JSON/],
    [bad('truncated.json', '{\n  "kind": "vfio-reconcile-snapshot",\n  "devices": [\n'), 'truncated', /truncated\.json:4:1: /],
    [bad('plan.json', '{"kind":"vfio-reconcile-saved-plan","format_version":"1.0"}'), 'saved plan', /is not a host snapshot: it is a saved plan/],
    [edit('future.json', (d) => (d.format_version = '2.0')), 'format 2', /format "2\.0" is not one this vfio-reconcile reads/],
    [edit('driver.json', (d) => (d.devices[1].driver = '../../x')), 'hostile driver name', /devices\[1\]\.driver: /],
    [edit('extra.json', (d) => (d.devices[0].mac = 'x')), 'unknown key', /devices\[0\]: must NOT have additional properties \(mac\)/],
    [edit('groups.json', (d) => (d.iommu_groups['1'] = ['pci/0000:01:00.0'])), 'groups disagree', /iommu_groups\.1 lists pci\/0000:01:00\.0, but the devices in group 1 are/],
    [edit('name.json', (d) => (d.devices[0].address = '0000:0A:00.0')), 'uppercase address', /devices\[0\]\.address: "0000:0A:00\.0" is not a pci device name/],
    [edit('unbound.json', (d) => (d.drivers.pci = d.drivers.pci.filter((x: string) => x !== 'nouveau'))), 'driver not listed', /0000:01:00\.0 is bound to nouveau, which drivers\.pci does not list/],
  ];
  for (const [file, what, message] of cases) {
    const r = await runIn(Plan, [states.gpu!, '--snapshot', file]);
    assert.is(r.exitCode, 1, what);
    assert.is(r.stdout, '', what);
    assert.match(r.stderr, message, `${what}: ${r.stderr}`);
  }
  const missing = await runIn(Plan, [states.gpu!, '--snapshot', join(tmp.dir, 'nope.json')]);
  assert.is(missing.exitCode, 1);
  assert.match(missing.stderr, /cannot read host snapshot .*nope\.json: no such file/);
});

s.run();
