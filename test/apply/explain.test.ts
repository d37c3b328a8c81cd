import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { explainError, explainHang, explainSilentProbe, likelyHolder } from '../../src/apply/explain.js';

const s = suite('explain');
const GPU = '0000:01:00.0';

s('the same errno means different things on different attributes', () => {
  assert.is(explainError({ op: 'unbind', device: GPU, driver: 'nvidia' }, 'ENODEV'), `${GPU} is not bound to nvidia (ENODEV)`);
  assert.match(
    explainError({ op: 'bind', device: GPU, driver: 'nvidia' }, 'ENODEV'),
    /^driver nvidia does not accept device 0000:01:00\.0 \(its driver_override names another driver, or no ID of nvidia matches it/,
  );
  assert.is(explainError({ op: 'probe', device: GPU, override: null }, 'ENODEV'), `the bus does not know device ${GPU} (ENODEV)`);
});

s('SR-IOV count refusals say what to do', () => {
  assert.is(
    explainError({ op: 'numvfs', device: GPU, to: 4 }, 'EBUSY'),
    `${GPU} already has VFs enabled; sriov_numvfs must go to 0 before it can be set to 4 (EBUSY)`,
  );
  assert.is(
    explainError({ op: 'numvfs', device: GPU, to: 9, totalVfs: 8 }, 'ERANGE'),
    `9 VFs is more than ${GPU} supports (sriov_totalvfs is 8) (ERANGE)`,
  );
  assert.match(explainError({ op: 'numvfs', device: GPU, to: 2 }, 'ENOENT'), /no driver, or its driver has no SR-IOV support/);
});

s('vfio refusals point at the IOMMU, bridges and the denylist', () => {
  const viaBind = explainError({ op: 'bind', device: GPU, driver: 'vfio-pci' }, 'EINVAL');
  const viaProbe = explainError({ op: 'probe', device: GPU, override: 'vfio-pci' }, 'EINVAL');
  for (const m of [viaBind, viaProbe]) {
    assert.match(m, /^vfio-pci refused 0000:01:00\.0 \(a bridge, a denylisted device, or no IOMMU group/);
  }
  assert.match(explainError({ op: 'probe', device: GPU, override: null }, 'EINVAL'), /supplier it depends on is not ready/);
  assert.match(explainError({ op: 'bind', device: GPU, driver: 'vfio-pci' }, 'EBUSY'), /PF with VFs enabled/);
  assert.match(explainError({ op: 'bind', device: GPU, driver: 'nvidia' }, 'EBUSY'), /owned by a VFIO user/);
});

s('platform, deferral and I/O probe errors', () => {
  assert.match(
    explainError({ op: 'bind', device: '12ce0000.i2c', driver: 'vfio-platform' }, 'ENOENT'),
    /^vfio-platform found no reset handler for 12ce0000\.i2c .*vfio_platform\.reset_required=0/,
  );
  assert.match(explainError({ op: 'bind', device: GPU, driver: 'nvidia' }, 'EAGAIN'), /deferred .* may bind later by itself \(EAGAIN\)$/);
  assert.match(explainError({ op: 'bind', device: GPU, driver: 'e1000' }, 'EIO'), /e1000's probe of 0000:01:00\.0 failed with an I\/O error/);
});

s('an errno without a specific meaning still reads as a sentence, with its errno', () => {
  assert.is(
    explainError({ op: 'override', device: GPU, value: 'vfio-pci' }, 'ENOSPC'),
    `setting driver_override of ${GPU} to vfio-pci failed: kernel error (ENOSPC)`,
  );
  assert.is(
    explainError({ op: 'override', device: GPU, value: null }, 'EACCES'),
    `permission denied clearing driver_override of ${GPU}: run as root (EACCES)`,
  );
});

s('a hang names the device, the likely holder, and the unknown state', () => {
  const m = explainHang({ op: 'unbind', device: GPU, driver: 'snd_hda_intel' }, 30_000, 'snd_hda_intel');
  assert.match(m, /^unbinding 0000:01:00\.0 from snd_hda_intel did not return within 30 s/);
  assert.match(m, /an ALSA client/);
  assert.match(m, /0000:01:00\.0 is in an unknown state until it returns\.$/);
  assert.match(explainHang({ op: 'numvfs', device: GPU, to: 0 }, 500, 'ixgbe'), /no VF is in use/);
  assert.match(likelyHolder('nvme'), /mounted filesystem/);
  assert.match(likelyHolder('e1000e'), /VFIO .* filesystem .* ALSA/);
});

s('a silent probe failure says the kernel accepted it', () => {
  assert.is(
    explainSilentProbe('0000:00:02.0', 'e1000', null),
    'probe of e1000 on 0000:00:02.0 failed: the kernel accepted the probe but bound no driver; see `dmesg`',
  );
  assert.is(explainSilentProbe('0000:00:02.0', 'vfio-pci', 'e1000e'), 'probe of vfio-pci on 0000:00:02.0 failed: the kernel bound e1000e instead');
});

s.run();
