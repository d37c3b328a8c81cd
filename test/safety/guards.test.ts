import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Device, Host, UsageFact } from '../../src/domain/types.js';
import { toPlanDocument } from '../../src/plan/document.js';
import { plan } from '../../src/plan/planner.js';
import { renderPlan } from '../../src/plan/render.js';
import { desired, host, pci, rule, stepLines } from '../plan/factory.js';

const s = suite('plan: in-use guards');

const rootMount: UsageFact = { kind: 'mount', detail: '/dev/vda → vda1 mounted on /' };
const eth0: UsageFact = { kind: 'netif', detail: 'interface eth0 up with 192.0.2.2/24, carrying the default route' };
const vm: UsageFact = { kind: 'vfio-open', detail: '/dev/vfio/12 open by pid 4242 (qemu-system-x86_64 -name win10)' };

const disk = (o: Partial<Device> = {}) => pci('0000:00:04.0', { vendor: '1af4', device: '1042', class: '018000', driver: 'virtio-pci', iommuGroup: '4', ...o });
const nic = (o: Partial<Device> = {}) => pci('0000:00:03.0', { vendor: '1af4', device: '1041', driver: 'virtio-pci', iommuGroup: '3', ...o });
const withUsage = (h: Host, usage: Host['usage']): Host => ({ ...h, usage });

s('unbinding a device that carries the root file system is blocked, naming the mount and both overrides', () => {
  const h = withUsage(host([disk()]), { 'pci/0000:00:04.0': [rootMount] });
  const p = plan(h, desired([['0000:00:04.0', rule(0, 'vfio-pci', { name: 'disk' })]]));
  assert.not.ok(p.applyable);
  assert.equal(p.blocked, [
    {
      code: 'in-use',
      message: '0000:00:04.0 is in use: /dev/vda → vda1 mounted on / (the plan unbinds it from virtio-pci)',
      device: 'pci/0000:00:04.0',
      fix: "unmount those file systems; or set force: true on rule 'disk' (line 3), or pass --force",
      rule: { index: 0, name: 'disk', line: 3 },
    },
  ]);
  assert.not.ok(p.changes[0]!.forced);
});

s('every fact is named, and the fix lists a remedy per kind', () => {
  const h = withUsage(host([nic()]), { 'pci/0000:00:03.0': [eth0, { kind: 'swap', detail: '/dev/vdb in use as swap' }] });
  const [b] = plan(h, desired([['0000:00:03.0', 'none']])).blocked;
  assert.match(b!.message, 'interface eth0 up with 192.0.2.2/24, carrying the default route; /dev/vdb in use as swap');
  assert.match(b!.fix!, /^move the addresses and routes to another interface.*; swapoff it; or set force: true on rule devices\[0\] \(line 3\), or pass --force$/);
});

s('force: true on the rule plans the change, marks it forced and warns which guard it overrode', () => {
  const h = withUsage(host([disk()]), { 'pci/0000:00:04.0': [rootMount] });
  const p = plan(h, desired([['0000:00:04.0', rule(0, 'none', { name: 'disk', force: true })]]));
  assert.ok(p.applyable);
  assert.equal(p.blocked, []);
  assert.ok(p.changes[0]!.forced);
  assert.equal(stepLines(p.steps), ['set-override pci/0000:00:04.0 none', 'unbind pci/0000:00:04.0 virtio-pci', 'verify pci/0000:00:04.0 null none']);
  assert.equal(p.warnings, [
    {
      message: "forced past the in-use guard (mount): 0000:00:04.0 is in use: /dev/vda → vda1 mounted on / (the plan unbinds it from virtio-pci); rule 'disk' (line 3) sets force: true",
      device: 'pci/0000:00:04.0',
      rule: { index: 0, name: 'disk', line: 3 },
    },
  ]);
});

s('--force overrides for every rule, and the warning says --force', () => {
  const h = withUsage(host([disk(), nic()]), { 'pci/0000:00:04.0': [rootMount], 'pci/0000:00:03.0': [eth0] });
  const p = plan(h, desired([['0000:00:03.0', 'none'], ['0000:00:04.0', 'none']]), { force: true });
  assert.ok(p.applyable);
  assert.equal(p.changes.map((c) => c.forced), [true, true]);
  assert.equal(p.warnings.map((w) => w.message.replace(/:.*;/, ': …;')), [
    'forced past the in-use guard (netif): …; --force',
    'forced past the in-use guard (mount): …; --force',
  ]);
});

s('force on one rule does not cover another rule\'s device', () => {
  const h = withUsage(host([disk(), nic()]), { 'pci/0000:00:04.0': [rootMount], 'pci/0000:00:03.0': [eth0] });
  const p = plan(h, desired([['0000:00:03.0', rule(0, 'none', { force: true })], ['0000:00:04.0', rule(1, 'none')]]));
  assert.equal(p.blocked.map((b) => b.device), ['pci/0000:00:04.0']);
  assert.equal(p.changes.map((c) => [c.device, c.forced]), [['pci/0000:00:03.0', true], ['pci/0000:00:04.0', false]]);
});

s('a change that does not unbind (only the override is fixed) is not blocked', () => {
  const h = withUsage(host([disk({ driver: 'virtio-pci', override: 'pci-stub' })]), { 'pci/0000:00:04.0': [rootMount] });
  const p = plan(h, desired([['0000:00:04.0', 'virtio-pci']]));
  assert.equal(stepLines(p.steps), ['set-override pci/0000:00:04.0 virtio-pci', 'verify pci/0000:00:04.0 virtio-pci virtio-pci']);
  assert.ok(p.applyable);
});

s('devices in use that the plan does not touch change nothing', () => {
  const h = withUsage(host([disk(), nic({ driver: null })]), { 'pci/0000:00:04.0': [rootMount] });
  const p = plan(h, desired([['0000:00:03.0', 'virtio-pci']]));
  assert.ok(p.applyable);
  assert.equal(p.warnings, []);
});

s('prune of a device in use is blocked too, and only --force can override it', () => {
  const h = withUsage(host([nic({ driver: 'vfio-pci', override: 'vfio-pci' })]), { 'pci/0000:00:03.0': [vm] });
  const p = plan(h, desired([]), { managed: ['pci/0000:00:03.0'] });
  assert.equal(p.blocked.length, 1);
  assert.match(p.blocked[0]!.message, '/dev/vfio/12 open by pid 4242');
  assert.match(p.blocked[0]!.fix!, /shut down the VM \(or stop the process\) holding it; or pass --force$/);
  assert.not.ok('rule' in p.blocked[0]!);
});

// ---------------------------------------------------------------------------------------------
// SR-IOV: VFs go away with a lower sriov_numvfs or when their PF leaves its driver.

const pf = (numVfs: number, o: Partial<Device> = {}) =>
  pci('0000:03:00.0', {
    driver: 'ixgbe',
    iommuGroup: '30',
    sriov: { totalVfs: 8, numVfs, driversAutoprobe: true },
    virtfns: Array.from({ length: numVfs }, (_, i) => `pci/0000:03:10.${i}`),
    ...o,
  });
const vfs = (n: number) => Array.from({ length: n }, (_, i) => pci(`0000:03:10.${i}`, { driver: 'ixgbevf', iommuGroup: String(40 + i), physfn: 'pci/0000:03:00.0' }));
const vfRule = rule(0, 'ixgbe', { name: 'sriov-nic' });
const vfsTo = (count: number) => desired([['0000:03:00.0', vfRule]], { vfs: [{ pf: 'pci/0000:03:00.0', count, target: { kind: 'default' }, rule: vfRule }] });
const vf3: UsageFact = { kind: 'netif', detail: 'interface enp3s0v3 up with 198.51.100.7/24' };

s('lowering the VF count is blocked when a VF is in use: the count goes through 0', () => {
  const h = withUsage(host([pf(4), ...vfs(4)]), { 'pci/0000:03:10.3': [vf3] });
  const p = plan(h, vfsTo(2));
  assert.equal(p.blocked.map((b) => [b.code, b.device]), [['in-use', 'pci/0000:03:00.0']]);
  assert.is(
    p.blocked[0]!.message,
    '0000:03:10.3, a VF of 0000:03:00.0, is in use: interface enp3s0v3 up with 198.51.100.7/24 (the plan sets sriov_numvfs of 0000:03:00.0 to 0, which destroys the VF)',
  );
  assert.match(p.blocked[0]!.fix!, "set force: true on rule 'sriov-nic' (line 3)");
});

s('raising a nonzero VF count also goes through 0, so it is blocked the same way', () => {
  const h = withUsage(host([pf(4), ...vfs(4)]), { 'pci/0000:03:10.0': [vf3] });
  const counts = stepLines(plan(h, vfsTo(6)).steps).filter((l) => l.startsWith('set-numvfs'));
  assert.equal(counts, ['set-numvfs pci/0000:03:00.0 4->0', 'set-numvfs pci/0000:03:00.0 0->6']);
  assert.match(plan(h, vfsTo(6)).blocked[0]!.message, '0000:03:10.0, a VF of 0000:03:00.0, is in use');
});

s('a PF keeping its driver and VF count leaves VFs in use alone', () => {
  const h = withUsage(host([pf(2), ...vfs(2)]), { 'pci/0000:03:10.1': [vm] });
  const p = plan(h, vfsTo(2));
  assert.ok(p.applyable);
  assert.equal(p.steps, []);
});

s('a PF leaving its driver takes its VFs along: a VF in use blocks it', () => {
  const h = withUsage(host([pf(2), ...vfs(2)]), { 'pci/0000:03:10.1': [vm] });
  const p = plan(h, desired([['0000:03:00.0', 'vfio-pci']]));
  assert.equal(p.blocked.map((b) => b.code), ['in-use']);
  assert.match(p.blocked[0]!.message, '(the plan unbinds 0000:03:00.0 from ixgbe, which destroys the VF)');
});

s('force on the PF rule covers the VFs it destroys', () => {
  const forced = rule(0, 'ixgbe', { name: 'sriov-nic', force: true });
  const h = withUsage(host([pf(4), ...vfs(4)]), { 'pci/0000:03:10.3': [vf3] });
  const p = plan(h, desired([['0000:03:00.0', forced]], { vfs: [{ pf: 'pci/0000:03:00.0', count: 0, target: { kind: 'default' }, rule: forced }] }));
  assert.ok(p.applyable);
  assert.ok(p.changes.find((c) => c.device === 'pci/0000:03:00.0')!.forced);
  assert.match(p.warnings[0]!.message, /^forced past the in-use guard \(netif\): 0000:03:10\.3, a VF of 0000:03:00\.0/);
});

// ---------------------------------------------------------------------------------------------
// Boot VGA comes from the device itself, so it holds even where no usage was gathered.

const igpu = (o: Partial<Device> = {}) => pci('0000:00:02.0', { vendor: '8086', device: '3e92', class: '030000', driver: 'i915', iommuGroup: '2', bootVga: true, ...o });

s('the boot VGA cannot leave its host driver without force, even with no usage facts', () => {
  const p = plan(host([igpu()]), desired([['0000:00:02.0', 'vfio-pci']]));
  assert.equal(p.blocked.map((b) => b.code), ['in-use']);
  assert.match(p.blocked[0]!.message, /^0000:00:02\.0 is in use: the boot VGA device, which the firmware console draws on .* \(the plan unbinds it from i915\)$/);
  assert.match(p.blocked[0]!.fix!, 'run the host from another display device');
});

s('an unbound boot VGA (efifb or simpledrm on it) is blocked from going to VFIO', () => {
  const p = plan(host([igpu({ driver: null })]), desired([['0000:00:02.0', 'vfio-pci']]));
  assert.match(p.blocked[0]!.message, '(the plan binds it to vfio-pci)');
});

s('a boot VGA already on vfio-pci may go back to the kernel\'s choice: there is no console left to lose', () => {
  const p = plan(host([igpu({ driver: 'vfio-pci', override: 'vfio-pci' })]), desired([['0000:00:02.0', 'default']]));
  assert.ok(p.applyable);
});

s('a framebuffer console on a GPU blocks like any other use', () => {
  const h = withUsage(host([igpu({ bootVga: false })]), { 'pci/0000:00:02.0': [{ kind: 'fbcon', detail: 'framebuffer fb0 (i915drmfb) carries the text console (fbcon)' }] });
  const p = plan(h, desired([['0000:00:02.0', 'vfio-pci']]));
  assert.match(p.blocked[0]!.fix!, 'detach the console from the framebuffer');
});

s('a host without usage facts (a copied sysfs tree) plans unbinds with a warning that the guards could not look', () => {
  const p = plan(host([nic()], { usage: undefined }), desired([['0000:00:03.0', 'vfio-pci']]));
  assert.ok(p.applyable);
  assert.ok(p.warnings.some((w) => /in-use guards could not check mounts, swap, network interfaces or open VFIO devices/.test(w.message)));
  const live = plan(host([nic()]), desired([['0000:00:03.0', 'vfio-pci']]));
  assert.not.ok(live.warnings.some((w) => /in-use guards could not check/.test(w.message)), 'a live host with no facts found says nothing');
});

// ---------------------------------------------------------------------------------------------
// What a reviewer sees.

s('the plan document and its rendering show the refusal, and later what was forced', () => {
  const h = withUsage(host([disk()]), { 'pci/0000:00:04.0': [rootMount] });
  const blocked = toPlanDocument(plan(h, desired([['0000:00:04.0', 'none']])), h);
  assert.equal(blocked.blocked.map((b) => [b.code, b.address]), [['in-use', '0000:00:04.0']]);
  assert.match(renderPlan(blocked, { color: false }), /x 0000:00:04\.0 is in use: \/dev\/vda → vda1 mounted on \/ .*\[in-use\]\n\s+fix: unmount those file systems/);

  const forced = toPlanDocument(plan(h, desired([['0000:00:04.0', 'none']]), { force: true }), h);
  assert.ok(forced.applyable);
  assert.ok(forced.changes[0]!.forced);
  const text = renderPlan(forced, { color: false });
  assert.match(text, /^~ 0000:00:04\.0 .*\(spec, rule devices\[0\] line 3, forced\)$/m);
  assert.match(text, /! forced past the in-use guard \(mount\): 0000:00:04\.0 is in use: \/dev\/vda → vda1 mounted on \//);
});

s.run();
