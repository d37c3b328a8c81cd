import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadOrder } from './provision.js';

const s = suite('lab provisioning: initramfs module load order');

// Shapes from Debian's 6.12 modules.dep: compressed modules, virtio_pci built in.
const DEP = [
  'kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz',
  'kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz',
  'kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz',
  'kernel/fs/netfs/netfs.ko.xz:',
  'kernel/fs/overlayfs/overlay.ko.xz:',
].join('\n');
const BUILTIN = 'kernel/drivers/virtio/virtio_pci.ko\n';

s('dependencies load before the modules that need them, each once', () => {
  assert.equal(loadOrder(DEP, BUILTIN, ['9pnet_virtio', '9p']), [
    'kernel/fs/netfs/netfs.ko.xz',
    'kernel/net/9p/9pnet.ko.xz',
    'kernel/net/9p/9pnet_virtio.ko.xz',
    'kernel/fs/9p/9p.ko.xz',
  ]);
});

s('built-in modules are skipped; dashes and underscores name the same module', () => {
  assert.equal(loadOrder(DEP, BUILTIN, ['virtio-pci', 'overlay']), ['kernel/fs/overlayfs/overlay.ko.xz']);
});

s('a module the kernel does not have is an error naming it', () => {
  assert.throws(() => loadOrder(DEP, BUILTIN, ['vfio_pci']), /vfio_pci/);
});

s.run();
