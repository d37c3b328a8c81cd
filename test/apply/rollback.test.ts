import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execute } from '../../src/apply/executor.js';
import { applyError } from '../../src/apply/result.js';
import { splitKey } from '../../src/domain/names.js';
import type { Step } from '../../src/domain/types.js';
import { KernelModel } from '../../src/kernel/model.js';
import { workstation } from '../kernel/hosts.js';
import { devices, handPlan, planFor, planTo, ports, PASSTHROUGH, vfsRule } from './fixtures.js';

const s = suite('rollback');

/**
 * Makes step `step` fail as the kernel (or the world) would: modprobe fails, the step's write
 * meets an errno, or, for a verify, something else moves the device just before it is checked.
 */
async function breakStep(k: KernelModel, step: Step): Promise<void> {
  switch (step.kind) {
    case 'load-module':
      k.failModule(step.module, `modprobe: ERROR: could not insert '${step.module}': Operation not permitted`);
      return;
    case 'verify': {
      const { name } = splitKey(step.device);
      await k.write(`bus/pci/drivers/${k.dev(name).driver}/unbind`, name);
      return;
    }
    default:
      k.inject({ path: /./, errno: 'EIO' }); // the next write, which is this step's
  }
}

s('a fault at any step of a multi-device plan leaves the host exactly as it was', async () => {
  const steps = planTo(workstation(), PASSTHROUGH).steps;
  assert.ok(steps.length > 10);
  for (let i = 0; i < steps.length; i++) {
    const k = workstation();
    const before = devices(k);
    const result = await execute(planTo(k, PASSTHROUGH), ports(k), {
      hooks: { onStepStart: (step, index) => (index === i ? breakStep(k, step) : undefined) },
    });
    const label = `fault at step ${i} (${steps[i]!.kind})`;
    assert.is(result.outcome, 'rolled-back', label);
    assert.is(result.failure!.index, i, label);
    assert.is(result.completed.length, i, label);
    assert.equal(result.rollback!.failed, [], label);
    assert.equal(devices(k), before, label);
  }
});

/** An SR-IOV NVMe PF with one VF, which a VM uses through vfio-pci (by override). */
async function sriovHost(): Promise<KernelModel> {
  const k = new KernelModel()
    .driver('pci', 'nvme', { ids: [{ class: '0108' }], sriov: true })
    .driver('pci', 'vfio-pci')
    .pci('0000:02:00.0', { vendor: '1b36', device: '0010', class: '010802', group: '9', driver: 'nvme', sriov: { totalVfs: 2, numVfs: 1 } });
  await k.write('bus/pci/devices/0000:02:00.1/driver_override', 'vfio-pci');
  await k.write('bus/pci/drivers_probe', '0000:02:00.1');
  return k;
}

/** Bindings and VF counts; IOMMU group numbers are left out, as a recreated VF gets a new one. */
const bindings = (k: KernelModel) =>
  devices(k).map((d) => ({ key: d.key, driver: d.driver, override: d.override, sriov: d.sriov, virtfns: d.virtfns }));

s('a fault at any step of a VF count change restores the PF and recreates its VFs as they were', async () => {
  const steps = planFor(await sriovHost(), vfsRule('0000:02:00.0', 2, 'vfio-pci')).steps;
  // The VF in use is unbound before the count change destroys it.
  assert.equal(steps.map((x) => (x.kind === 'set-numvfs' ? `${x.from}->${x.to}` : x.kind)), ['unbind', '1->0', '0->2']);
  for (let i = 0; i < steps.length; i++) {
    const k = await sriovHost();
    const before = bindings(k);
    assert.is(k.dev('0000:02:00.1').driver, 'vfio-pci');
    const result = await execute(planFor(k, vfsRule('0000:02:00.0', 2, 'vfio-pci')), ports(k), {
      hooks: { onStepStart: (step, index) => (index === i ? breakStep(k, step) : undefined) },
    });
    assert.is(result.outcome, 'rolled-back', `fault at step ${i}`);
    assert.equal(bindings(k), before, `fault at step ${i}`);
  }
});

s('a failure after a VF count change takes the count back through 0 and restores the old VF', async () => {
  const k = await sriovHost();
  const before = bindings(k);
  const steps: Step[] = [
    ...planFor(k, vfsRule('0000:02:00.0', 2, 'vfio-pci')).steps,
    // Something the plan expects does not hold: the apply fails after both count steps.
    { kind: 'verify', device: 'pci/0000:02:00.0', driver: 'vfio-pci', override: null, group: '9' },
  ];
  const result = await execute(handPlan(steps), ports(k));
  assert.is(result.outcome, 'rolled-back');
  assert.equal(result.rollback!.restored, ['pci/0000:02:00.0', 'pci/0000:02:00.1']);
  const numvfs = k.writes.filter((w) => w.path.endsWith('sriov_numvfs')).map((w) => w.value);
  assert.equal(numvfs, ['0', '2', '0', '1'], 'the kernel refuses 2 -> 1 directly');
  assert.equal(bindings(k), before);
});

s('a rollback that fails itself names the device, where it is, and where it should be', async () => {
  const k = workstation();
  const gpu = planTo(k, PASSTHROUGH.slice(0, 2));
  // The first probe fails; then restoring the GPU to nvidia fails too.
  k.inject({ path: 'bus/pci/drivers_probe', value: '0000:01:00.0', errno: 'EINVAL' });
  k.inject({ path: 'bus/pci/drivers/nvidia/bind', errno: 'EIO' });
  const result = await execute(gpu, ports(k));
  assert.is(result.outcome, 'rollback-failed');
  assert.is(result.failure!.step.kind, 'probe');
  assert.match(result.failure!.message, /^vfio-pci refused 0000:01:00\.0 \(a bridge, a denylisted device, or no IOMMU group/);
  assert.equal(result.rollback!.restored, ['pci/0000:01:00.1']);
  assert.equal(result.rollback!.failed, [
    {
      device: 'pci/0000:01:00.0',
      state: { driver: null, override: null },
      wanted: { driver: 'nvidia', override: null },
      message: "nvidia's probe of 0000:01:00.0 failed with an I/O error (the driver does not support this device?); see `dmesg` (EIO)",
    },
  ]);
  assert.is(k.dev('0000:01:00.1').driver, 'snd_hda_intel');
  const err = applyError(result)!;
  assert.is(err.kind, 'rollback-failed');
  assert.is(err.exitCode, 4);
  assert.match(err.message, /The rollback did not complete\. Left behind:\n  pci\/0000:01:00\.0: unbound, no override; before the apply: on nvidia, no override/);
  assert.match(err.message, /Restored: pci\/0000:01:00\.1\./);
  assert.match(err.message, /Modules loaded by this apply stay loaded: vfio_pci\./);
});

s('a write that never returns is reported as a hang naming the device and what holds it', async () => {
  const k = workstation();
  await execute(planTo(k, [['0000:00:1c.0', 'vfio-pci']]), ports(k));
  // A VM holds the NIC through /dev/vfio/7: unbinding it from vfio-pci blocks in the kernel.
  k.openVfioGroup('7');
  const result = await execute(planTo(k, [['0000:00:1c.0', 'default']]), ports(k), { writeTimeoutMs: 20 });
  assert.is(result.outcome, 'rollback-failed');
  assert.is(result.failure!.step.kind, 'unbind');
  assert.is(result.failure!.device, 'pci/0000:00:1c.0');
  assert.match(result.failure!.message, /^unbinding 0000:00:1c\.0 from vfio-pci did not return within 20 ms/);
  assert.match(result.failure!.message, /a process using it through VFIO \(a running VM/);
  assert.match(result.failure!.message, /cannot be cancelled: 0000:00:1c\.0 is in an unknown state/);
  // The stuck device is not written again: rollback reports it instead.
  const writesAfterHang = k.writes.slice(k.writes.findIndex((w) => w.result === 'pending') + 1);
  assert.equal(writesAfterHang, []);
  assert.equal(result.rollback!.failed.map((f) => [f.device, f.state, f.message]), [
    ['pci/0000:00:1c.0', { driver: 'vfio-pci', override: null }, 'a write to it never returned; its state is unknown'],
  ]);
  k.release();
});

s('an injected hang on one device leaves the other devices rolled back', async () => {
  const k = workstation();
  const before = devices(k);
  k.inject({ path: 'bus/pci/drivers/e1000e/unbind', errno: 'hang' });
  const result = await execute(planTo(k, PASSTHROUGH), ports(k), { writeTimeoutMs: 20 });
  assert.is(result.outcome, 'rollback-failed');
  assert.match(result.failure!.message, /^unbinding 0000:00:1c\.0 from e1000e did not return within 20 ms/);
  assert.equal(result.rollback!.restored, ['pci/0000:01:00.1', 'pci/0000:01:00.0']);
  assert.equal(result.rollback!.failed.map((f) => f.device), ['pci/0000:00:1c.0']);
  const others = (list: typeof before) => list.filter((d) => d.name !== '0000:00:1c.0');
  assert.equal(others(devices(k)), others(before));
  k.release();
});

s('a device hot-unplugged mid-apply: a clear error, and the others rolled back', async () => {
  const k = workstation();
  const before = devices(k);
  const p = planTo(k, PASSTHROUGH.slice(0, 2));
  const result = await execute(p, ports(k), {
    hooks: {
      onStepDone: (step) => {
        if (step.kind === 'set-override' && step.device === 'pci/0000:01:00.1') k.removeDevice('0000:01:00.1');
      },
    },
  });
  // The rollback of everything still there completes, so this is exit 3 (rolled back), not 4.
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.device, 'pci/0000:01:00.1');
  assert.match(result.failure!.message, /^device 0000:01:00\.1 disappeared while unbinding 0000:01:00\.1 from snd_hda_intel \(hot-unplug\?\)/);
  assert.equal(result.rollback!.restored, ['pci/0000:01:00.0']);
  assert.equal(result.rollback!.failed, []);
  assert.equal(result.rollback!.gone, ['pci/0000:01:00.1']);
  assert.match(applyError(result)!.message, /Gone from the host while the apply ran \(hot-unplug\?\), nothing to restore: pci\/0000:01:00\.1/);
  assert.equal(devices(k), before.filter((d) => d.name !== '0000:01:00.1'));
});

s('rollback clears an override it set with a lone newline', async () => {
  const k = workstation();
  k.inject({ path: 'bus/pci/drivers/e1000e/unbind', errno: 'EBUSY' });
  const result = await execute(planTo(k, [['0000:00:1c.0', 'vfio-pci']]), ports(k));
  assert.is(result.outcome, 'rolled-back');
  const overrides = k.writes.filter((w) => w.path.endsWith('/driver_override')).map((w) => w.value);
  assert.equal(overrides, ['vfio-pci', '\n']);
});

s('rollback restores a stale override that names another driver than the bound one', async () => {
  // Bound to e1000e, with an override someone set to vfio-pci and never probed.
  const k = workstation();
  await k.load('vfio_pci');
  await k.write('bus/pci/devices/0000:00:1c.0/driver_override', 'vfio-pci');
  const before = devices(k);
  const steps: Step[] = [
    { kind: 'unbind', device: 'pci/0000:00:1c.0', driver: 'e1000e', group: '7' },
    { kind: 'verify', device: 'pci/0000:00:1c.0', driver: 'e1000', override: 'vfio-pci', group: '7' },
  ];
  const result = await execute(handPlan(steps), ports(k));
  assert.is(result.outcome, 'rolled-back');
  assert.equal(devices(k), before);
});

s('rollback steps are reported through the hook, in order', async () => {
  const k = workstation();
  k.failProbe('e1000', '0000:00:1c.0', 'EIO');
  const seen: string[] = [];
  await execute(planTo(k, [['0000:00:1c.0', 'e1000']]), ports(k), {
    hooks: { onRollbackStep: (device, what) => void seen.push(`${device}: ${what}`) },
  });
  assert.equal(seen, [
    'pci/0000:00:1c.0: clearing driver_override of 0000:00:1c.0',
    'pci/0000:00:1c.0: binding 0000:00:1c.0 to e1000e',
  ]);
});

s.run();
