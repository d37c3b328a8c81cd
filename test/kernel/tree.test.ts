import { mkdtempSync, readFileSync, readlinkSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSysfsTree } from '../../src/kernel/tree.js';
import { observe } from '../../src/observe/observe.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { board, workstation } from './hosts.js';

const tree = suite<{ dir: string }>('writeSysfsTree', { dir: '' });

tree.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'vr-tree-'));
});
tree.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

tree('observing the tree gives what observing the model gives', async (ctx) => {
  const k = workstation();
  await k.load('vfio_pci');
  await k.write('bus/pci/devices/0000:02:00.0/sriov_drivers_autoprobe', '0');
  await k.write('bus/pci/devices/0000:02:00.0/sriov_numvfs', '2');
  writeSysfsTree(k, ctx.dir);
  assert.equal(observe(new FsSysfsPort(ctx.dir)), observe(k));
});

tree('platform devices round-trip with their devicetree compatibles', (ctx) => {
  const k = board();
  writeSysfsTree(k, ctx.dir);
  const host = observe(new FsSysfsPort(ctx.dir));
  assert.equal(host, observe(k));
  assert.equal(host.devices.find((d) => d.name === '12ce0000.i2c')?.compatible, ['samsung,s3c2440-i2c', 'samsung,s3c2410-i2c']);
  const i2c = join(ctx.dir, 'devices/platform/12ce0000.i2c');
  assert.is(readlinkSync(join(i2c, 'of_node')), '../../../firmware/devicetree/base/i2c@12ce0000');
  assert.is(readFileSync(join(i2c, 'of_node/compatible'), 'utf8'), 'samsung,s3c2440-i2c\0samsung,s3c2410-i2c\0');
});

tree('files end in a newline and links resolve inside the tree, as on /sys', (ctx) => {
  writeSysfsTree(workstation(), ctx.dir);
  const dev = join(ctx.dir, 'bus/pci/devices/0000:01:00.0');
  assert.is(readFileSync(join(dev, 'vendor'), 'utf8'), '0x10de\n');
  assert.is(readFileSync(join(dev, 'driver_override'), 'utf8'), '(null)\n');
  assert.is(readlinkSync(join(dev, 'driver')), '../../../../bus/pci/drivers/nvidia');
  assert.is(realpathSync(join(dev, 'driver')), realpathSync(join(ctx.dir, 'bus/pci/drivers/nvidia')));
  assert.is(realpathSync(join(dev, 'iommu_group')), realpathSync(join(ctx.dir, 'kernel/iommu_groups/1')));
  assert.is(realpathSync(dev), realpathSync(join(ctx.dir, 'devices/pci0000:00/0000:00:01.0/0000:01:00.0')));
  const group = join(ctx.dir, 'kernel/iommu_groups/1/devices/0000:01:00.1');
  assert.is(realpathSync(group), realpathSync(join(ctx.dir, 'devices/pci0000:00/0000:00:01.0/0000:01:00.1')));
});

tree('a unbind written into the tree is a plain file write (no kernel semantics)', async (ctx) => {
  writeSysfsTree(workstation(), ctx.dir);
  const port = new FsSysfsPort(ctx.dir);
  await port.write('bus/pci/drivers/e1000e/unbind', '0000:00:1c.0');
  assert.is(port.read('bus/pci/devices/0000:00:1c.0/driver/unbind'), '0000:00:1c.0');
});

tree.run();
