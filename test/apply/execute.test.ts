import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execute } from '../../src/apply/executor.js';
import { applyError, type ApplyResult } from '../../src/apply/result.js';
import { VrError } from '../../src/domain/errors.js';
import type { Step } from '../../src/domain/types.js';
import { board, workstation } from '../kernel/hosts.js';
import { devices, handPlan, planFor, planTo, ports, PASSTHROUGH, vfsRule } from './fixtures.js';

const s = suite('execute');

s('applies a GPU + audio + NIC passthrough plan and the host then matches it', async () => {
  const k = workstation();
  const p = planTo(k, PASSTHROUGH);
  const result = await execute(p, ports(k));
  assert.is(result.outcome, 'applied');
  assert.is(result.completed.length, p.steps.length);
  assert.equal(result.modulesLoaded, ['vfio_pci']);
  for (const [address] of PASSTHROUGH) {
    assert.equal(k.dev(address).driver, 'vfio-pci', address);
    assert.equal(k.dev(address).override, 'vfio-pci', address);
  }
  assert.equal(k.vfioNodes(), ['1', '7']);
  const seen = devices(k).filter((d) => PASSTHROUGH.some(([a]) => d.name === a));
  assert.ok(seen.every((d) => d.driver === 'vfio-pci' && d.override === 'vfio-pci'));
  // Nothing outside the plan moved.
  assert.is(k.dev('0000:02:00.0').driver, 'nvme');
  assert.is(k.dev('0000:03:01.0').driver, 'e1000');
});

s('a second run plans nothing and writes nothing', async () => {
  const k = workstation();
  await execute(planTo(k, PASSTHROUGH), ports(k));
  const writes = k.writes.length;
  const again = planTo(k, PASSTHROUGH);
  assert.equal(again.steps, []);
  const result = await execute(again, ports(k));
  assert.is(result.outcome, 'noop');
  assert.is(k.writes.length, writes);
});

s('one write per step, to the paths the kernel expects', async () => {
  const k = workstation();
  await execute(planTo(k, [['0000:00:1c.0', 'vfio-pci']]), ports(k));
  assert.equal(
    k.writes.map((w) => `${w.path} <- ${JSON.stringify(w.value)}`),
    [
      'bus/pci/devices/0000:00:1c.0/driver_override <- "vfio-pci"',
      'bus/pci/drivers/e1000e/unbind <- "0000:00:1c.0"',
      'bus/pci/drivers_probe <- "0000:00:1c.0"',
    ],
  );
  assert.equal(k.loads, ['vfio_pci']);
});

s('clearing an override writes a lone newline, never an empty write or a NUL', async () => {
  const k = workstation();
  await execute(planTo(k, [['0000:00:1c.0', 'vfio-pci']]), ports(k));
  const result = await execute(planTo(k, [['0000:00:1c.0', 'default']]), ports(k));
  assert.is(result.outcome, 'applied');
  const overrides = k.writes.filter((w) => w.path.endsWith('/driver_override'));
  assert.equal(overrides.map((w) => w.value), ['vfio-pci', '\n']);
  assert.equal(k.dev('0000:00:1c.0'), { ...k.dev('0000:00:1c.0'), driver: 'e1000e', override: null });
});

s('refuses a blocked plan before any write, listing what blocks it', async () => {
  const k = workstation();
  // The two e1000 share group 12 with a bridge on shpchp: VFIO cannot claim that group.
  const p = planTo(k, [['0000:03:01.0', 'vfio-pci'], ['0000:03:02.0', 'vfio-pci']]);
  assert.is(p.applyable, false);
  try {
    await execute(p, ports(k));
    assert.unreachable('a blocked plan was applied');
  } catch (err) {
    assert.instance(err, VrError);
    assert.is((err as VrError).kind, 'safety');
    assert.match((err as VrError).message, /nothing was written/);
    assert.match((err as VrError).message, /0000:00:03\.0/);
  }
  assert.is(k.writes.length, 0);
  assert.is(k.loads.length, 0);
});

s('refuses a (saved) plan whose names could climb out of the sysfs root', async () => {
  const k = workstation();
  const p = handPlan([{ kind: 'unbind', device: 'pci/0000:00:1c.0', driver: '../../../../etc', group: '7' }]);
  try {
    await execute(p, ports(k));
    assert.unreachable();
  } catch (err) {
    assert.is((err as VrError).kind, 'input');
    assert.match((err as Error).message, /invalid driver/);
  }
  assert.is(k.writes.length, 0);
});

s('a probe the kernel accepts but that binds nothing fails, and rolls back to the exact state before', async () => {
  const k = workstation();
  // kernel-lab.md: e1000 overridden onto an e1000e NIC; drivers_probe returns success, nothing binds.
  k.failProbe('e1000', '0000:00:1c.0', 'EIO');
  const before = devices(k);
  const result = await execute(planTo(k, [['0000:00:1c.0', 'e1000']]), ports(k));
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.step.kind, 'probe');
  assert.is(result.failure!.device, 'pci/0000:00:1c.0');
  assert.is(
    result.failure!.message,
    'probe of e1000 on 0000:00:1c.0 failed: the kernel accepted the probe but bound no driver; see `dmesg`',
  );
  assert.equal(result.rollback, { restored: ['pci/0000:00:1c.0'], failed: [], gone: [] });
  assert.equal(devices(k), before);
});

s('unbind ENODEV counts as done only when the device really left that driver', async () => {
  const k = workstation();
  const p = planTo(k, [['0000:00:1c.0', 'vfio-pci']]);
  const result = await execute(p, ports(k), {
    hooks: {
      // Another tool unbinds the NIC just before our unbind: ours meets ENODEV.
      onStepStart: async (step) => {
        if (step.kind === 'unbind') await k.write('bus/pci/drivers/e1000e/unbind', '0000:00:1c.0');
      },
    },
  });
  assert.is(result.outcome, 'applied');
  assert.ok(k.writes.some((w) => w.path === 'bus/pci/drivers/e1000e/unbind' && w.result === 'ENODEV'));
  assert.is(k.dev('0000:00:1c.0').driver, 'vfio-pci');

  const k2 = workstation();
  k2.inject({ path: 'bus/pci/drivers/e1000e/unbind', errno: 'ENODEV' });
  const refused = await execute(planTo(k2, [['0000:00:1c.0', 'vfio-pci']]), ports(k2));
  assert.is(refused.outcome, 'rolled-back');
  assert.is(refused.failure!.errno, 'ENODEV');
  assert.match(refused.failure!.message, /0000:00:1c\.0 is not bound to e1000e/);
});

s('hooks see every step start and finish, with plan indices', async () => {
  const k = workstation();
  const p = planTo(k, PASSTHROUGH);
  const seen: string[] = [];
  await execute(p, ports(k), {
    hooks: {
      onStepStart: (step, i, total) => void seen.push(`start ${i}/${total} ${step.kind}`),
      onStepDone: (step, i, total, ms) => {
        assert.ok(ms >= 0);
        seen.push(`done ${i}/${total} ${step.kind}`);
      },
    },
  });
  const expected = p.steps.flatMap((step, i) => [`start ${i}/${p.steps.length} ${step.kind}`, `done ${i}/${p.steps.length} ${step.kind}`]);
  assert.equal(seen, expected);
});

s('an abort signal lets the step in flight finish, then rolls back', async () => {
  const k = workstation();
  const before = devices(k);
  const controller = new AbortController();
  const p = planTo(k, PASSTHROUGH);
  const result = await execute(p, ports(k), {
    signal: controller.signal,
    hooks: {
      onStepStart: (_step, i) => {
        if (i === 3) controller.abort('SIGINT');
      },
    },
  });
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.completed.length, 4, 'the unbind in flight completed');
  assert.is(result.failure!.index, 4);
  assert.match(result.failure!.message, /interrupted by SIGINT/);
  assert.equal(devices(k), before);
  assert.equal(result.modulesLoaded, ['vfio_pci'], 'modules stay loaded');
  assert.equal(k.loadedModules().includes('vfio_pci'), true);
});

s('a VF count change is applied and read back', async () => {
  const k = workstation();
  const p = planFor(k, vfsRule('0000:02:00.0', 2, 'vfio-pci'));
  assert.equal(p.steps.map((x) => x.kind), ['set-numvfs']);
  const result = await execute(p, ports(k));
  assert.is(result.outcome, 'applied');
  assert.is(k.dev('0000:02:00.0').numVfs, 2);
});

s('kernel refusals are explained for the device, not as a bare errno', async () => {
  const k = workstation();
  const run = (steps: Step[]): Promise<ApplyResult> => execute(handPlan(steps), ports(k));

  const tooMany = await run([{ kind: 'set-numvfs', device: 'pci/0000:02:00.0', from: 0, to: 5, group: '9' }]);
  assert.is(tooMany.failure!.message, '5 VFs is more than 0000:02:00.0 supports (sriov_totalvfs is 2) (ERANGE)');

  const wrongDriver = await run([{ kind: 'bind', device: 'pci/0000:00:02.0', driver: 'e1000e', group: '2' }]);
  assert.is(wrongDriver.failure!.errno, 'ENODEV');
  assert.match(wrongDriver.failure!.message, /^driver e1000e does not accept device 0000:00:02\.0 \(its driver_override names another driver, or no ID/);

  await run([{ kind: 'set-numvfs', device: 'pci/0000:02:00.0', from: 0, to: 1, group: '9' }]);
  const busy = await run([{ kind: 'set-numvfs', device: 'pci/0000:02:00.0', from: 1, to: 2, group: '9' }]);
  assert.match(busy.failure!.message, /already has VFs enabled; sriov_numvfs must go to 0 before it can be set to 2 \(EBUSY\)/);
});

s('platform and probe-time refusals through bind', async () => {
  const k = board();
  await k.load('vfio_platform');
  await k.write('bus/platform/devices/12ce0000.i2c/driver_override', 'vfio-platform');
  await k.write('bus/platform/drivers/s3c-i2c/unbind', '12ce0000.i2c');
  k.failProbe('vfio-platform', '12ce0000.i2c', 'ENOENT');
  const bindStep: Step = { kind: 'bind', device: 'platform/12ce0000.i2c', driver: 'vfio-platform', group: '3' };
  const noReset = await execute(handPlan([bindStep]), ports(k));
  assert.match(noReset.failure!.message, /^vfio-platform found no reset handler for 12ce0000\.i2c/);

  const k2 = workstation();
  await k2.write('bus/pci/drivers/e1000e/unbind', '0000:00:1c.0');
  k2.failProbe('e1000e', '0000:00:1c.0', 'EPROBE_DEFER');
  const deferred = await execute(handPlan([{ kind: 'bind', device: 'pci/0000:00:1c.0', driver: 'e1000e', group: '7' }]), ports(k2));
  assert.is(deferred.failure!.errno, 'EAGAIN');
  assert.match(deferred.failure!.message, /deferred .* it may bind later by itself/);
});

s('a module that fails to load stops the apply before any sysfs write', async () => {
  const k = workstation();
  k.failModule('vfio_pci', "modprobe: ERROR: could not insert 'vfio_pci': Operation not permitted");
  const result = await execute(planTo(k, PASSTHROUGH), ports(k));
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.message, "loading module vfio_pci failed: modprobe: ERROR: could not insert 'vfio_pci': Operation not permitted");
  assert.equal(result.modulesLoaded, []);
  assert.is(k.writes.length, 0);
  assert.match(applyError(result)!.message, /\nNothing had changed: the host is as it was before\.$/);
});

s('a module that loads but registers no such driver is a failure, and stays loaded', async () => {
  const k = workstation();
  const result = await execute(handPlan([{ kind: 'load-module', module: 'nouveau', driver: 'nouveau', bus: 'pci', group: null }]), ports(k));
  assert.is(result.outcome, 'rolled-back');
  assert.match(result.failure!.message, /^module nouveau loaded, but no driver nouveau appeared under bus\/pci\/drivers/);
  assert.equal(result.modulesLoaded, ['nouveau']);
});

s('a journal hook that throws before a step keeps that step from writing', async () => {
  const k = workstation();
  const before = devices(k);
  const result = await execute(planTo(k, [['0000:00:1c.0', 'vfio-pci']]), ports(k), {
    hooks: {
      onStepStart: (step) => {
        if (step.kind === 'unbind') throw new Error('journal: No space left on device');
      },
    },
  });
  assert.is(result.outcome, 'rolled-back');
  assert.is(result.failure!.message, 'journal: No space left on device');
  assert.not.ok(k.writes.some((w) => w.path.endsWith('/unbind')));
  assert.equal(devices(k), before);
});

s('applyError: exit-code kinds and a message that says what is left', async () => {
  const k = workstation();
  k.failProbe('e1000', '0000:00:1c.0', 'EIO');
  const result = await execute(planTo(k, [['0000:00:1c.0', 'e1000']]), ports(k));
  const err = applyError(result)!;
  assert.is(err.kind, 'rolled-back');
  assert.is(err.exitCode, 3);
  assert.is(
    err.message,
    [
      'apply failed at step 3 (probe pci/0000:00:1c.0): probe of e1000 on 0000:00:1c.0 failed: the kernel accepted the probe but bound no driver; see `dmesg`',
      'Rolled back: the host is as it was before (restored pci/0000:00:1c.0).',
    ].join('\n'),
  );
  assert.is(applyError({ outcome: 'applied', completed: [], modulesLoaded: [] }), null);
});

s.run();
