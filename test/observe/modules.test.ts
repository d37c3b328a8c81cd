import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SystemModules, moduleNameFromPath } from '../../src/observe/modules.js';

const mods = suite<{ dir: string }>('SystemModules', { dir: '' });

mods.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'vr-modules-'));
});
mods.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

mods('module names from paths lose the directory and extension and use underscores', () => {
  assert.is(moduleNameFromPath('kernel/drivers/vfio/pci/vfio-pci.ko.xz'), 'vfio_pci');
  assert.is(moduleNameFromPath('kernel/drivers/nvme/host/nvme.ko.zst'), 'nvme');
  assert.is(moduleNameFromPath('kernel/drivers/pci/pci-stub.ko'), 'pci_stub');
});

mods('available() reads modules.dep and modules.builtin, sorted and deduplicated', ({ dir }) => {
  writeFileSync(
    join(dir, 'modules.dep'),
    'kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/pci/vfio-pci-core.ko.xz\n' +
      'kernel/drivers/vfio/pci/vfio-pci-core.ko.xz:\nkernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz:\n',
  );
  writeFileSync(join(dir, 'modules.builtin'), 'kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/pci/pcie/portdrv.ko\n');
  assert.equal(new SystemModules({ libModules: dir }).available(), ['e1000e', 'portdrv', 'vfio_pci', 'vfio_pci_core', 'virtio_pci']);
});

mods('without modules.dep the list is unknown (null), not empty', ({ dir }) => {
  assert.is(new SystemModules({ libModules: join(dir, 'missing') }).available(), null);
  assert.is(new SystemModules({ libModules: dir }).available(), null);
});

mods('load runs modprobe NAME and rejects with its stderr', async ({ dir }) => {
  const log = join(dir, 'calls');
  const fake = join(dir, 'modprobe');
  writeFileSync(
    fake,
    `#!/bin/sh\necho "$@" >> ${log}\n[ "$1" = vfio_pci ] && exit 0\necho "modprobe: FATAL: Module $1 not found in directory /lib/modules/x" >&2\nexit 1\n`,
  );
  chmodSync(fake, 0o755);
  const m = new SystemModules({ libModules: dir, modprobe: fake });
  await m.load('vfio_pci');
  await m.load('nope').then(
    () => assert.unreachable('load should reject'),
    (err: Error) => assert.is(err.message, 'modprobe: FATAL: Module nope not found in directory /lib/modules/x'),
  );
  await m.load('-r').then(
    () => assert.unreachable('an option is not a module name'),
    (err: Error) => assert.match(err.message, /invalid module name/),
  );
  assert.is(readFileSync(log, 'utf8'), 'vfio_pci\nnope\n');
});

mods.run();
