// The real-kernel lab: boots Debian's 6.1 and 6.12 kernels under QEMU, runs the scenarios of
// guest/scenarios.ts with the real CLI against each guest's real sysfs, and asserts here on what
// the kernels showed. Both guests boot at once (one vCPU each) to use the machine's two cores.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { CACHE, LabUnavailable, provision, type LabKernel } from './provision.js';
import { bootGuest, type BootOutcome } from './qemu.js';
import { LAB, type DeviceFacts } from './guest/kernel.js';
import { SCENARIOS } from './guest/scenarios.js';
import { buildMtty } from './mdev-module.js';
import { sriovMdevChecks } from './sriov-mdev.checks.js';

const { nic0: NIC0, bridge: BRIDGE, leg1: LEG1, leg2: LEG2, nvme0: NVME0, nvmeVfs: NVME_VFS, hot0: HOT0 } = LAB;
type Snapshot = Record<string, DeviceFacts>;
interface Run {
  exit: number | null;
  stdout?: string;
  stderr: string;
}

// While developing a scenario, VR_LAB_ONLY=name,name and VR_LAB_KERNELS=6.12 narrow a local run;
// the checks of scenarios left out pass without asserting. CI always runs the whole lab.
const ONLY = process.env.VR_LAB_ONLY?.split(',').filter(Boolean);
const ONLY_KERNELS = process.env.VR_LAB_KERNELS?.split(',').filter(Boolean);
if ((ONLY || ONLY_KERNELS) && process.env.CI === 'true') throw new Error('VR_LAB_ONLY and VR_LAB_KERNELS are for local runs: CI runs the whole lab');
class NotSelected extends Error {}

function kernels(): LabKernel[] {
  try {
    const list = provision(undefined, (l) => console.log(l)).filter((k) => !ONLY_KERNELS || ONLY_KERNELS.includes(k.label));
    // mdev runs for real where the kernel's mtty sample can be built (6.12: its source is in apt).
    for (const k of list) if (k.label === '6.12') buildMtty(k, (l) => console.log(l));
    return list;
  } catch (e) {
    // Under CI a missing piece is a failure, never a silent skip.
    if (!(e instanceof LabUnavailable) || process.env.CI === 'true') throw e;
    console.log(`lab skipped: ${e.message}`);
    return [];
  }
}

async function bootAndLog(kernel: LabKernel): Promise<BootOutcome> {
  const boot = (): Promise<BootOutcome> =>
    bootGuest({
      kernel,
      job: `exec node dist/test/lab/guest/runner.js ${(ONLY ?? Object.keys(SCENARIOS)).join(' ')}`,
      // Generous: on a loaded 2-core machine one guest's scenarios took 8 minutes.
      timeoutMs: 20 * 60_000,
      async onSync(line, qmp) {
        const [, command, id] = line.split(' ');
        if (command === 'device_del') await qmp.execute('device_del', { id });
      },
    });
  let outcome = await boot();
  if (outcome.bootSeconds === null) {
    // The guest never reached its job: an emulator or boot hiccup, not something the product did.
    console.log(`lab ${kernel.label}: the guest did not come up; booting once more. Its console ended with:\n${outcome.console.slice(-600)}`);
    outcome = await boot();
  }
  const logs = join(CACHE, 'logs');
  mkdirSync(logs, { recursive: true });
  writeFileSync(join(logs, `${kernel.label}.log`), outcome.console);
  console.log(`lab ${kernel.label} (${kernel.release}): booted in ${outcome.bootSeconds} s, whole run ${(outcome.wallMs / 1000).toFixed(1)} s`);
  console.log(`  scenarios (s): ${outcome.results.map((r) => `${r.scenario} ${Number(r.seconds).toFixed(1)}`).join(', ')}`);
  return outcome;
}

/** Everything but `except`, to check that a scenario left the other devices alone. */
function others(snap: Snapshot, except: string[]): Snapshot {
  return Object.fromEntries(Object.entries(snap).filter(([name]) => !except.includes(name)));
}

const said = (run: Run): string => `${run.stdout ?? ''}\n${run.stderr}`;
const show = (run: Run): string => `exit ${run.exit}; output:\n${said(run).trim().slice(-1500)}`;

const labKernels = kernels();
// Both guests run at once; the suites below only read what they printed.
const outcomes = await Promise.all(labKernels.map(bootAndLog));

labKernels.forEach((kernel, i) => {
  const results = new Map(outcomes[i]!.results.map((r) => [r.scenario, r]));
  const log = join(CACHE, 'logs', `${kernel.label}.log`);
  const labSuite = suite(`lab ${kernel.label}`);
  const s = Object.assign(
    (name: string, check: () => unknown) =>
      labSuite(name, async () => {
        try {
          await check();
        } catch (e) {
          if (!(e instanceof NotSelected)) throw e;
        }
      }),
    { run: () => labSuite.run() },
  ) as unknown as Test;

  // The facts of one scenario, or a failure that says where the guest's console log is.
  const facts = (name: string): Record<string, any> => {
    if (ONLY && !ONLY.includes(name)) throw new NotSelected(name);
    const r = results.get(name);
    if (!r) assert.unreachable(`scenario ${name} printed no result; see ${log}`);
    if (r!.error) assert.unreachable(`scenario ${name} crashed in the guest: ${r!.error}`);
    return r!;
  };

  s('the guest has the layout the scenarios rely on, and vfio-pci is not loaded', () => {
    const f = facts('layout');
    const d = f.devices as Snapshot;
    assert.is(d[NIC0]!.driver, 'e1000e');
    assert.is(Object.values(d).filter((x) => x.group === d[NIC0]!.group).length, 1, 'e1000e alone in its group');
    assert.equal([d[LEG1]!.driver, d[LEG2]!.driver], ['e1000', 'e1000']);
    assert.equal([d[LEG1]!.group, d[LEG2]!.group], [d[BRIDGE]!.group, d[BRIDGE]!.group], 'both e1000 share the bridge group');
    assert.is(d[NVME0]!.driver, 'nvme');
    assert.is(f.sriovTotalVfs, '2');
    assert.is(d.pcspkr!.driver, 'pcspkr');
    assert.ok(Object.values(d).every((x) => x.override === null), 'no driver_override set at boot');
    assert.is(f.vfioPciLoaded, false);
  });

  s('plan changes nothing on the kernel and reports pending changes', () => {
    const f = facts('lifecycle');
    assert.is(f.plan.exit, 2, show(f.plan));
    assert.ok(f.plan.doc && typeof f.plan.doc === 'object', 'plan --json prints a JSON document');
    assert.equal(f.afterPlan, f.before);
    assert.is(f.vfioLoadedAfterPlan, false, 'plan does not load modules');
  });

  s('apply loads vfio-pci, binds the endpoint and its /dev/vfio node appears', () => {
    const f = facts('lifecycle');
    assert.is(f.apply.exit, 0, show(f.apply));
    const nic = (f.afterApply as Snapshot)[NIC0]!;
    assert.is(nic.driver, 'vfio-pci');
    assert.is(nic.override, 'vfio-pci');
    assert.ok(nic.vfioNode, `/dev/vfio/${nic.group} exists`);
    assert.is(f.vfioLoadedAfterApply, true);
    assert.equal(others(f.afterApply, [NIC0]), others(f.before, [NIC0]), 'no other device changed');
  });

  s('a VM can take the bound device (QEMU opens it through VFIO)', () => {
    const f = facts('lifecycle');
    assert.is(f.client.exit, 0, f.client.stderr);
    assert.ok(f.client.sawDevice, 'the device shows up in the VM');
  });

  s('a second apply of the same file is a no-op', () => {
    const f = facts('lifecycle');
    assert.is(f.again.exit, 0, show(f.again));
    assert.equal(f.afterAgain, f.afterApply);
    assert.match(said(f.again), 'No changes');
  });

  s('`default` restores the host driver, clears the override and removes the node', () => {
    const f = facts('lifecycle');
    assert.is(f.restore.exit, 0, show(f.restore));
    assert.equal(f.afterRestore[NIC0], f.before[NIC0]);
    assert.equal(f.afterRestore, f.before);
  });

  s('strict group policy refuses a half-bound shared group and writes nothing', () => {
    const f = facts('strictGroup');
    assert.is(f.apply.exit, 1, show(f.apply));
    assert.equal(f.after, f.before);
    assert.match(said(f.apply), LEG2, 'names the sibling that blocks the group');
  });

  s('`include` binds the whole group to vfio-pci and leaves the bridge alone', () => {
    const f = facts('includeGroup');
    assert.is(f.apply.exit, 0, show(f.apply));
    for (const leg of [LEG1, LEG2]) {
      assert.is(f.after[leg].driver, 'vfio-pci', leg);
      assert.ok(f.after[leg].vfioNode, `${leg}: /dev/vfio/${f.after[leg].group}`);
    }
    // The group's /dev/vfio node is the bridge's group node too; what must not move is its binding.
    const bridge = (snap: Snapshot): unknown => ({ driver: snap[BRIDGE]!.driver, override: snap[BRIDGE]!.override, present: snap[BRIDGE]!.present });
    assert.equal(bridge(f.after), bridge(f.before), 'bridge unchanged');
    assert.equal(others(f.after, [LEG1, LEG2, BRIDGE]), others(f.before, [LEG1, LEG2, BRIDGE]));
  });

  s('a real probe failure mid-apply rolls everything back (exit 3)', () => {
    const f = facts('probeFailure');
    assert.is(f.apply.exit, 3, show(f.apply));
    assert.equal(f.after, f.before);
    assert.match(said(f.apply), HOT0);
  });

  s('a platform device goes to `none` and back to `default`', () => {
    const f = facts('platform');
    assert.is(f.none.exit, 0, show(f.none));
    assert.is(f.afterNone.driver, null);
    assert.is(f.back.exit, 0, show(f.back));
    assert.equal(f.afterBack, f.before);
  });

  s('SR-IOV: the PF keeps nvme, its two VFs go to vfio-pci in their own groups; again: no changes', () => {
    const f = facts('sriov');
    assert.is(f.apply.exit, 0, show(f.apply));
    assert.is(f.numvfs, '2');
    assert.is(f.pf.driver, 'nvme');
    const vfs = f.vfs as DeviceFacts[];
    assert.equal(vfs.map((v) => v.driver), ['vfio-pci', 'vfio-pci'], NVME_VFS.join(' '));
    assert.ok(vfs.every((v) => v.vfioNode));
    assert.is(new Set([f.pf.group, ...vfs.map((v) => v.group)]).size, 3);
    const hostProbed = (f.kernelLog as string[]).filter((l) => /nvme \S+: pci function 0000:02:00\.[12]/.test(l));
    assert.equal(hostProbed, [], 'nvme never probed the VFs (they were created with sriov_drivers_autoprobe off)');
    assert.is(f.second.exit, 0, show(f.second));
    assert.match(said(f.second), 'No changes');
  });

  s('an open /dev/vfio/N blocks taking the device back, naming the holder; released, it works', () => {
    const f = facts('vfioInUse');
    assert.is(f.bound.exit, 0, show(f.bound));
    assert.ok(f.holding, 'the holder opened the group node');
    assert.is(f.refused.exit, 1, show(f.refused));
    assert.match(said(f.refused), String(f.holderPid), 'names the pid that holds the node');
    assert.is(f.whileHeld.driver, 'vfio-pci');
    assert.is(f.released.exit, 0, show(f.released));
    assert.equal([f.after.driver, f.after.override], ['e1000e', null]);
  });

  s('plan refuses to take the virtio device that carries the root file system, naming the mount', () => {
    const f = facts('rootShare');
    assert.is(f.plan.exit, 1, show(f.plan));
    assert.match(said(f.plan), 'hostroot', 'names the 9p share');
    assert.is(f.device.driver, 'virtio-pci');
  });

  s('SIGKILL mid-apply: the next apply detects it and writes nothing; rollback --recover restores', () => {
    const f = facts('sigkill');
    assert.ok(f.reachedHold, 'the apply reached its first write to nvme0');
    assert.is(f.killed.signal, 'SIGKILL');
    assert.is(f.atKill[NIC0].driver, 'vfio-pci', 'killed after nic0 moved');
    assert.equal(f.atKill[NVME0], f.before[NVME0], 'killed before the write to nvme0');
    assert.is(f.rerun.exit, 1, show(f.rerun));
    assert.match(said(f.rerun), /interrupted/i);
    assert.match(said(f.rerun), 'rollback --recover', 'says what to do');
    assert.equal(f.afterRerun, f.atKill, 'the refused apply wrote nothing');
    assert.is(f.recover.exit, 0, show(f.recover));
    assert.equal(f.after, f.before);
  });

  s('watch binds the device, puts it back after a hand-made drift, and stops cleanly on SIGTERM', () => {
    const f = facts('watch');
    const events = f.events as Record<string, any>[];
    const log = `events:\n${events.map((e) => JSON.stringify(e)).join('\n').slice(-3000)}\nstderr: ${f.stopped?.stderr.slice(-1000)}`;
    assert.ok(f.bound1, `nic0 reached vfio-pci; ${log}`);
    assert.ok(f.settled, `a later pass found nothing to do; ${log}`);
    assert.ok(f.driftMade, `the hand-made drift left nic0 on e1000e with no override: ${JSON.stringify(f.drifted)}`);
    assert.ok(f.rebound, `watch put nic0 back on vfio-pci; ${log}`);
    assert.equal([f.afterRebind.driver, f.afterRebind.override], ['vfio-pci', 'vfio-pci']);
    assert.ok(f.stopped, 'watch exited within a minute of SIGTERM');
    assert.is(f.stopped.exit, 0, log);
    const before = events.slice(0, f.eventsBeforeDrift);
    const after = events.slice(f.eventsBeforeDrift);
    const appliedNic0 = (e: Record<string, any>): boolean => e.event === 'apply' && e.outcome === 'applied' && e.devices?.includes(NIC0);
    assert.ok(before.some(appliedNic0), `an apply of nic0 before the drift; ${log}`);
    assert.ok(after.some((e) => e.event === 'drift' && e.devices?.includes(NIC0)), `a drift event names nic0; ${log}`);
    assert.ok(after.some(appliedNic0), `an apply of nic0 after the drift; ${log}`);
    assert.not.ok(events.some((e) => e.event === 'error'), log);
  });

  s('hot-unplug mid-apply: a clear error and the other device rolled back', () => {
    const f = facts('hotUnplug');
    assert.ok(f.reachedHold, 'the apply reached its first write to hot0');
    assert.is(f.atHold.driver, 'vfio-pci', 'nic0 had moved when hot0 went away');
    assert.ok(f.unplugged, 'the guest saw hot0 go away');
    assert.is(f.apply.exit, 3, show(f.apply));
    assert.match(said(f.apply), HOT0);
    assert.equal(f.after[NIC0], f.before[NIC0]);
    // snapshot() lists the devices the bus still has: hot0 is absent, or present: false.
    assert.not.ok(f.after[HOT0]?.present, 'hot0 stays gone after the apply');
  });

  sriovMdevChecks(s, facts, kernel.label);

  s.run();
});
