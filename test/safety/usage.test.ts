import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Host, UsageFact } from '../../src/domain/types.js';
import { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import { gatherUsage } from '../../src/observe/usage.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { FakeHost } from './fake-host.js';

/**
 * A VM-like host: virtio disk and NIC, an NVMe behind a root port, a 9p and a virtio-fs function,
 * a GPU, an SR-IOV NIC with two VFs, and a two-function card on vfio-pci in group 12.
 */
function model(): KernelModel {
  return new KernelModel()
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'virtio-pci')
    .driver('pci', 'nvme')
    .driver('pci', 'i915')
    .driver('pci', 'ixgbe', { sriov: true })
    .driver('pci', 'ixgbevf')
    .driver('pci', 'vfio-pci')
    .pci('0000:00:02.0', { vendor: '1af4', device: '1042', class: '018000', driver: 'virtio-pci' })
    .pci('0000:00:03.0', { vendor: '1af4', device: '1041', class: '020000', driver: 'virtio-pci' })
    .pci('0000:00:04.0', { vendor: '1af4', device: '1049', class: '000200', driver: 'virtio-pci' })
    .pci('0000:00:05.0', { vendor: '1af4', device: '105a', class: '018000', driver: 'virtio-pci' })
    .pci('0000:00:06.0', { vendor: '1af4', device: '1042', class: '018000', driver: 'virtio-pci' })
    .pci('0000:00:1c.0', { vendor: '8086', device: '1901', class: '060400', driver: 'pcieport' })
    .pci('0000:01:00.0', { vendor: '144d', device: 'a808', class: '010802', driver: 'nvme', parent: '0000:00:1c.0' })
    .pci('0000:00:08.0', { vendor: '8086', device: '3e92', class: '030000', driver: 'i915' })
    .pci('0000:03:00.0', { vendor: '8086', device: '10fb', class: '020000', driver: 'ixgbe', sriov: { totalVfs: 4, vfDevice: '10ed', numVfs: 2, autoprobe: false } })
    .pci('0000:04:00.0', { vendor: '10de', device: '2204', class: '030000', group: '12', driver: 'vfio-pci' })
    .pci('0000:04:00.1', { vendor: '10de', device: '1aef', class: '040300', group: '12', driver: 'vfio-pci' });
}

interface State {
  fh: FakeHost;
  host: Host;
}

const s = suite<State>('usage: what holds a device');

s.before.each((ctx) => {
  ctx.fh = new FakeHost(model());
  ctx.host = observe(new FsSysfsPort(ctx.fh.sys));
});
s.after.each((ctx) => ctx.fh.cleanup());

const gather = (ctx: State, env = ctx.fh.env()) => gatherUsage(env, ctx.host);
const details = (facts: UsageFact[] | undefined) => (facts ?? []).map((f) => `${f.kind}: ${f.detail}`);

s('a host with nothing in use has no facts at all', (ctx) => {
  assert.equal(gather(ctx), {});
});

s('a whole disk mounted on / (this machine\'s shape): matched by major:minor', (ctx) => {
  const { fh } = ctx;
  fh.block('vda', `${fh.pci('0000:00:02.0')}/virtio1`, { devno: '254:0' });
  fh.mount('254:0', '/', 'ext4', '/dev/root');
  assert.equal(details(gather(ctx)['pci/0000:00:02.0']), ['mount: /dev/vda mounted on /']);
});

s('partitions and an LVM chain: every mount named with the chain that reaches it', (ctx) => {
  const { fh } = ctx;
  const nvme = fh.block('nvme0n1', `${fh.pci('0000:01:00.0')}/nvme/nvme0`, { devno: '259:0' });
  fh.block('nvme0n1p1', nvme, { devno: '259:1', partition: true });
  fh.block('nvme0n1p2', nvme, { devno: '259:2', partition: true, holders: ['dm-0', 'dm-1'] });
  fh.virtualBlock('dm-0', { devno: '253:0', dmName: 'vg-root' });
  fh.virtualBlock('dm-1', { devno: '253:1', dmName: 'vg-swap' });
  fh.mount('259:1', '/boot/efi', 'vfat', '/dev/nvme0n1p1');
  // btrfs reports an anonymous device number: only the source names the volume.
  fh.mount('0:45', '/', 'btrfs', '/dev/mapper/vg-root');
  fh.mount('0:45', '/home with space', 'btrfs', '/dev/mapper/vg-root');
  fh.devLink('mapper/vg-swap', '../dm-1');
  fh.swap('/dev/mapper/vg-swap');
  const facts = gather(ctx);
  assert.equal(details(facts['pci/0000:01:00.0']), [
    'mount: /dev/nvme0n1 → nvme0n1p1 mounted on /boot/efi',
    'mount: /dev/nvme0n1 → nvme0n1p2 → dm-0 (vg-root) mounted on /, /home with space',
    'swap: /dev/nvme0n1 → nvme0n1p2 → dm-1 (vg-swap) in use as swap',
  ]);
  assert.not.ok(facts['pci/0000:00:1c.0'], 'the root port above the NVMe is not the one in use');
});

s('a holder nothing mounts (an md array, an LV for a VM) still holds the disk', (ctx) => {
  const { fh } = ctx;
  const vdb = fh.block('vdb', `${fh.pci('0000:00:06.0')}/virtio5`, { devno: '254:16', holders: ['md0'] });
  fh.virtualBlock('md0', { devno: '9:0', holders: ['dm-3'] });
  fh.virtualBlock('dm-3', { devno: '253:3', dmName: 'vms-win10' });
  assert.ok(vdb);
  assert.equal(details(gather(ctx)['pci/0000:00:06.0']), [
    'holder: /dev/vdb → md0 → dm-3 (vms-win10) is active (nothing mounted from it, but a VM or service may be using it)',
  ]);
});

s('a swap partition named by its /dev path', (ctx) => {
  const { fh } = ctx;
  const vda = fh.block('vda', `${fh.pci('0000:00:02.0')}/virtio1`, { devno: '254:0' });
  fh.block('vda2', vda, { devno: '254:2', partition: true });
  fh.swap('/dev/vda2');
  assert.equal(details(gather(ctx)['pci/0000:00:02.0']), ['swap: /dev/vda → vda2 in use as swap']);
});

s('a mount only another mount namespace has (a container) counts too', (ctx) => {
  const { fh } = ctx;
  fh.block('vdb', `${fh.pci('0000:00:06.0')}/virtio5`, { devno: '254:16' });
  fh.mountNamespace('self', 4026531840);
  fh.mountNamespace(1, 4026531840);
  fh.mountNamespace(900, 4026532999);
  fh.mount('254:16', '/var/lib/data', 'xfs', '/dev/vdb', 900);
  assert.equal(details(gather(ctx)['pci/0000:00:06.0']), ['mount: /dev/vdb mounted on /var/lib/data']);
});

s('9p and virtio-fs shares, matched by their tags', (ctx) => {
  const { fh } = ctx;
  fh.virtio('virtio3', fh.pci('0000:00:04.0'), { driver: '9pnet_virtio', mountTag: 'hostshare' });
  const fsDev = fh.virtio('virtio4', fh.pci('0000:00:05.0'), { driver: 'virtiofs' });
  fh.virtiofs('0', fsDev, 'myfs');
  fh.mount('0:50', '/mnt/host', '9p', 'hostshare');
  fh.mount('0:51', '/srv/shared', 'virtiofs', 'myfs');
  fh.mount('0:52', '/srv/other', 'virtiofs', 'someone-else');
  const facts = gather(ctx);
  assert.equal(details(facts['pci/0000:00:04.0']), ['mount: 9p share "hostshare" (virtio3) mounted on /mnt/host']);
  assert.equal(details(facts['pci/0000:00:05.0']), ['mount: virtio-fs share "myfs" (virtio4) mounted on /srv/shared']);
});

s('a 9p tag nothing mounts is not in use', (ctx) => {
  const { fh } = ctx;
  fh.virtio('virtio3', fh.pci('0000:00:04.0'), { driver: '9pnet_virtio', mountTag: 'hostshare' });
  assert.equal(gather(ctx), {});
});

s('virtio-fs on a kernel that does not show tags: any virtio-fs mount may be this device\'s', (ctx) => {
  const { fh } = ctx;
  fh.virtio('virtio4', fh.pci('0000:00:05.0'), { driver: 'virtiofs' });
  fh.mount('0:51', '/srv/shared', 'virtiofs', 'myfs');
  assert.match(details(gather(ctx)['pci/0000:00:05.0'])[0]!, /does not show its tag; virtio-fs shares are mounted on \/srv\/shared/);
});

s('interfaces: up with addresses counts, link-local only or down does not', (ctx) => {
  const { fh } = ctx;
  const nic = `${fh.pci('0000:00:03.0')}/virtio2`;
  fh.netif('eth0', nic, { up: true });
  fh.netif('eth9', `${fh.pci('0000:00:06.0')}/virtio5`, { up: true }); // up, only fe80::
  fh.net = {
    links: [
      { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 24, scope: 'global' }, { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' }] },
      { ifname: 'eth9', addr_info: [{ family: 'inet6', local: 'fe80::9', prefixlen: 64, scope: 'link' }] },
    ],
    routes: [
      { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
      { dst: '192.0.2.0/24', dev: 'eth0', protocol: 'kernel' },
      { dst: 'fe80::/64', dev: 'eth9', protocol: 'kernel' },
    ],
  };
  const facts = gather(ctx);
  assert.equal(details(facts['pci/0000:00:03.0']), ['netif: interface eth0 up with 192.0.2.2/24, carrying the default route']);
  assert.not.ok(facts['pci/0000:00:06.0']);
});

s('an interface that is down is not in use, whatever addresses it keeps', (ctx) => {
  const { fh } = ctx;
  fh.netif('eth0', `${fh.pci('0000:00:03.0')}/virtio2`, { up: false });
  fh.net = { links: [{ ifname: 'eth0', addr_info: [{ local: '192.0.2.2', prefixlen: 24, scope: 'global' }] }], routes: [] };
  assert.equal(gather(ctx), {});
});

s('a bridge port carries the bridge: its addresses are named through it', (ctx) => {
  const { fh } = ctx;
  fh.netif('enp3s0', fh.pci('0000:03:00.0'), { up: true, uppers: ['vmbr0'] });
  fh.netif('vmbr0', 'devices/virtual', { up: true });
  fh.net = { links: [{ ifname: 'vmbr0', addr_info: [{ local: '10.0.0.5', prefixlen: 16, scope: 'global' }] }], routes: [{ dst: '10.99.0.0/16', gateway: '10.0.0.1', dev: 'vmbr0' }] };
  assert.equal(details(gather(ctx)['pci/0000:03:00.0']), ['netif: interface enp3s0 (under vmbr0) up with 10.0.0.5/16, with routes to 10.99.0.0/16']);
});

s('a VF\'s interface is a fact about the VF, not the PF', (ctx) => {
  const { fh, host } = ctx;
  const vf = host.devices.find((d) => d.key === host.devices.find((p) => p.name === '0000:03:00.0')!.virtfns![1])!;
  fh.netif('enp3s0v1', fh.pci(vf.name), { up: true });
  fh.net = { links: [{ ifname: 'enp3s0v1', addr_info: [{ local: '198.51.100.7', prefixlen: 24, scope: 'global' }] }], routes: [] };
  const facts = gather(ctx);
  assert.equal(Object.keys(facts), [vf.key]);
  assert.match(details(facts[vf.key])[0]!, 'interface enp3s0v1 up with 198.51.100.7/24');
});

s('when addresses cannot be read, an up interface is assumed in use and the reason shown', (ctx) => {
  const { fh } = ctx;
  fh.netif('eth0', `${fh.pci('0000:00:03.0')}/virtio2`, { up: true });
  const facts = gather(ctx, fh.env(() => {
    throw new Error('spawn ip ENOENT');
  }));
  assert.equal(details(facts['pci/0000:00:03.0']), ['netif: interface eth0 is up; its addresses could not be read (spawn ip ENOENT)']);
});

s('a framebuffer on the GPU counts only while fbcon is bound to a console', (ctx) => {
  const { fh } = ctx;
  fh.framebuffer('fb0', fh.pci('0000:00:08.0'), 'i915drmfb');
  fh.vtconsole('vtcon0', '(S) dummy device', true);
  fh.vtconsole('vtcon1', '(M) frame buffer device', false);
  assert.equal(gather(ctx), {});
  fh.vtconsole('vtcon2', '(M) frame buffer device', true);
  assert.equal(details(gather(ctx)['pci/0000:00:08.0']), ['fbcon: framebuffer fb0 (i915drmfb) carries the text console (fbcon)']);
});

s('/dev/vfio/N open by a process: every member of the group, with pid and command line', (ctx) => {
  const { fh } = ctx;
  fh.process(4242, ['qemu-system-x86_64', '-name', 'win10', '-device', 'vfio-pci,host=04:00.0'], ['/dev/vfio/vfio', '/dev/vfio/12', 'socket:[123]']);
  fh.process(77, ['sshd'], ['/dev/null']);
  const facts = gather(ctx);
  const want = ['vfio-open: /dev/vfio/12 open by pid 4242 (qemu-system-x86_64 -name win10 -device vfio-pci,host=04:00.0)'];
  assert.equal(details(facts['pci/0000:04:00.0']), want);
  assert.equal(details(facts['pci/0000:04:00.1']), want);
  assert.equal(Object.keys(facts).length, 2);
});

s('/dev/vfio/devices/vfioX (iommufd cdev): only the device it belongs to', (ctx) => {
  const { fh } = ctx;
  fh.mkdir(`${fh.pci('0000:04:00.1')}/vfio-dev/vfio3`);
  fh.process(5000, ['cloud-hypervisor'], ['/dev/iommu', '/dev/vfio/devices/vfio3']);
  const facts = gather(ctx);
  assert.equal(details(facts['pci/0000:04:00.1']), ['vfio-open: /dev/vfio/devices/vfio3 open by pid 5000 (cloud-hypervisor)']);
  assert.not.ok(facts['pci/0000:04:00.0']);
});

s.run();
