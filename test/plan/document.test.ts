import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Host } from '../../src/domain/types.js';
import { toPlanDocument, type PlanDocument } from '../../src/plan/document.js';
import { plan } from '../../src/plan/planner.js';
import { bridge, desired, host, pci, rule } from './factory.js';

const s = suite('plan document');

const schema = JSON.parse(readFileSync(new URL('../../../schemas/plan.schema.json', import.meta.url), 'utf8'));
const validate = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true }).compile(schema);

function valid(doc: PlanDocument): void {
  if (!validate(doc)) assert.unreachable(JSON.stringify(validate.errors, null, 2));
}

const gpuHost = (): Host =>
  host([
    pci('0000:01:00.0', { vendor: '10de', device: '2204', class: '030000', driver: 'nvidia', iommuGroup: '1' }),
    pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', driver: 'snd_hda_intel', iommuGroup: '1' }),
    pci('0000:02:00.0', { driver: 'vfio-pci', override: 'vfio-pci', iommuGroup: '2' }),
    pci('0000:03:00.0', { driver: 'e1000e' }),
    pci('0000:06:00.0', { driver: 'ice', iommuGroup: '6', sriov: { totalVfs: 8, numVfs: 2, driversAutoprobe: true } }),
    bridge('0000:00:1e.0', { driver: 'shpchp', iommuGroup: '1' }),
  ]);

const vfRule = rule(3, 'ice', { name: 'nic', vfs: { count: 4, target: { kind: 'driver', driver: 'vfio-pci' } } });
const rich = () =>
  desired(
    [
      ['0000:01:00.0', rule(0, 'vfio-pci', { name: 'rtx3090' })],
      ['0000:03:00.0', 'vfio-pci'],
      ['0000:06:00.0', vfRule],
    ],
    { iommuGroups: 'include', vfs: [{ pf: 'pci/0000:06:00.0', count: 4, target: { kind: 'driver', driver: 'vfio-pci' }, rule: vfRule }] },
  );

s('documents of empty, ordinary, blocked and pruning plans are schema-valid', () => {
  const h = gpuHost();
  valid(toPlanDocument(plan(h, desired([])), h));
  valid(toPlanDocument(plan(h, rich(), { managed: ['pci/0000:02:00.0'] }), h));
  valid(toPlanDocument(plan(h, desired([['0000:01:00.0', 'vfio-pcii']])), h));
  // vfio-pci unregistered and no module list: a load-module step and a warning without a device
  const bare = host(h.devices.filter((d) => d.name !== '0000:02:00.0'), { modules: { known: false, available: [], loaded: [] } });
  const bareDoc = toPlanDocument(plan(bare, rich()), bare);
  assert.is(bareDoc.steps[0]!.kind, 'load-module');
  assert.ok(bareDoc.warnings.some((w) => w.address === null));
  valid(bareDoc);
  valid(toPlanDocument(plan({ ...h, hostname: undefined, kernelRelease: undefined }, rich()), { ...h, hostname: undefined, kernelRelease: undefined }));
});

s('the schema rejects what the document never contains', () => {
  const h = gpuHost();
  const doc = toPlanDocument(plan(h, rich()), h);
  assert.not.ok(validate({ ...doc, format_version: '2.0' }));
  assert.not.ok(validate({ ...doc, extra: 1 }));
  assert.not.ok(validate({ ...doc, changes: [{ ...doc.changes[0], reason: 'whim' }] }));
  const { fingerprint: _, ...noFingerprint } = doc;
  assert.not.ok(validate(noFingerprint));
});

s('changes carry address, ids, group, snake_case reason, before/after, rule and VF counts', () => {
  const h = gpuHost();
  const doc = toPlanDocument(plan(h, rich(), { managed: ['pci/0000:02:00.0'] }), h);
  const gpu = doc.changes.find((c) => c.address === '0000:01:00.0')!;
  assert.equal(gpu, {
    address: '0000:01:00.0',
    bus: 'pci',
    vendor: '10de',
    device: '2204',
    class: '030000',
    group: '1',
    reason: 'spec',
    target: 'vfio-pci',
    driver_choice: null,
    created: null,
    before: { driver: 'nvidia', override: null },
    after: { driver: 'vfio-pci', override: 'vfio-pci', kernel_chooses: false },
    numvfs: null,
    rule: { index: 0, name: 'rtx3090', line: 3 },
    forced: false,
  });
  const pruned = doc.changes.find((c) => c.address === '0000:02:00.0')!;
  assert.is(pruned.reason, 'prune');
  assert.equal(pruned.after, { driver: null, override: null, kernel_chooses: true });
  assert.is(pruned.rule, null);
  assert.equal(doc.changes.find((c) => c.address === '0000:06:00.0')!.numvfs, { before: 2, after: 4 });
  assert.is(doc.changes.find((c) => c.address === '0000:01:00.1')!.reason, 'group');
  assert.equal(doc.summary.by_reason, { spec: 3, drift: 0, prune: 1, group: 1 });
  assert.is(doc.summary.devices, doc.changes.length);
  assert.is(doc.summary.steps, doc.steps.length);
});

s('steps name devices by address and bus, never by internal key', () => {
  const h = gpuHost();
  const doc = toPlanDocument(plan(h, rich()), h);
  assert.ok(doc.steps.length > 0);
  assert.not.ok(JSON.stringify(doc.steps).includes('pci/0000'));
  const override = doc.steps.find((x) => x.kind === 'set-override' && x.address === '0000:01:00.0');
  assert.equal(override, { kind: 'set-override', address: '0000:01:00.0', bus: 'pci', group: '1', from: null, to: 'vfio-pci' });
  const verify = doc.steps.find((x) => x.kind === 'verify' && x.address === '0000:01:00.0');
  assert.equal(verify, { kind: 'verify', address: '0000:01:00.0', bus: 'pci', group: '1', driver: 'vfio-pci', override: 'vfio-pci', kernel_chooses: false });
});

s('header fields: version, fingerprint, host, applyable and blocked with fix', () => {
  const h = gpuHost();
  const p = plan(h, rich());
  const doc = toPlanDocument(p, h);
  assert.is(doc.format_version, '1.1');
  assert.is(doc.fingerprint, p.fingerprint);
  assert.equal(doc.host, { hostname: 'pve-1', kernel: '6.12.117-amd64' });
  // the shpchp bridge blocks group 1 on 6.12; 03:00.0 has no IOMMU group
  assert.is(doc.applyable, false);
  assert.equal(doc.blocked.map((b) => b.code).sort(), ['group-bridge', 'no-iommu-group']);
  assert.ok(doc.blocked.every((b) => typeof b.fix === 'string' && b.address !== null));
});

s('a document is plain JSON: it survives a round trip unchanged', () => {
  const h = gpuHost();
  const doc = toPlanDocument(plan(h, rich()), h);
  assert.equal(JSON.parse(JSON.stringify(doc)), doc);
});

s.run();
