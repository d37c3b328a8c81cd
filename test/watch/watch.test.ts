// `watch` on the kernel model with a virtual clock: every sleep of the loop is a step of a script
// that changes the "machine" (hotplug, a hand-made rebind, a fault) and stops the loop when done,
// so each test runs a bounded number of passes and no test depends on real time.

import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import type { RunEnv } from '../../src/cli/context.js';
import { reconcileOnce, type PassOptions } from '../../src/fleet/reconcile.js';
import { backoffMs, watch, type WatchEvent, type WatchOutcome } from '../../src/fleet/watch.js';
import { KernelModel } from '../../src/kernel/model.js';
import { acquireLock } from '../../src/state/lock.js';
import { openStateDir } from '../../src/state/dir.js';
import { tempDir } from '../cli/harness.js';
import { FakeMachine, journalRecords, workspace } from '../state/support.js';

const s = suite('watch');
const tmp = tempDir('watch');
s.after(() => tmp.cleanup());

const INTERVAL = 30_000;
const POLL = 2_000;

interface Script {
  /** Called after every sleep of the loop with the events so far; call stop() to end the loop. */
  (ctx: { events: WatchEvent[]; sleeps: number; slept: number[]; stop: () => void }): void | Promise<void>;
}

interface Run {
  events: WatchEvent[];
  outcome: WatchOutcome;
  /** Every sleep the loop asked for, in ms. */
  slept: number[];
  stateDir: string;
}

let n = 0;

/** Runs watch on `model` with `state` until the script stops it (or 400 sleeps, a test bug). */
async function runWatch(model: KernelModel, state: string, script: Script, opts: { reportOnly?: boolean; stateDir?: string; sysfs?: RunEnv['sysfs']; stop?: AbortController; machine?: FakeMachine } = {}): Promise<Run> {
  const w = workspace();
  const machine = opts.machine ?? new FakeMachine();
  const env: RunEnv = { sysfs: opts.sysfs ?? model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel, stateHost: machine.process(800 + ++n) };
  const stateDir = opts.stateDir ?? join(tmp.dir, `state-${n}`);
  const pass: PassOptions = {
    statePath: w.file('state.yaml', state),
    stateDir,
    force: false,
    reportOnly: opts.reportOnly ?? false,
    lockTimeoutMs: 0,
    writeTimeoutMs: 5_000,
    command: 'vfio-reconcile watch state.yaml',
    tool: 'vfio-reconcile test',
    say: () => {},
  };
  const events: WatchEvent[] = [];
  const slept: number[] = [];
  const stop = opts.stop ?? new AbortController();
  let t = Date.parse('2025-03-01T10:00:00Z');
  try {
    const outcome = await watch(
      { intervalMs: INTERVAL, pollMs: POLL, maxBackoffMs: 300_000 },
      {
        sysfs: env.sysfs,
        pass: (signal) => reconcileOnce(env, pass, signal),
        clock: {
          now: () => t,
          async sleep(ms, signal) {
            if (signal.aborted) return;
            t += ms;
            slept.push(ms);
            if (slept.length > 400) throw new Error(`script never stopped the loop; events: ${JSON.stringify(events.map((e) => e.event))}`);
            await script({ events, sleeps: slept.length, slept, stop: () => stop.abort('SIGTERM') });
          },
        },
        emit: (e) => void events.push(e),
      },
      stop.signal,
    );
    return { events, outcome, slept, stateDir };
  } finally {
    w.cleanup();
  }
}

const names = (events: WatchEvent[]) => events.map((e) => e.event);
const of = (events: WatchEvent[], name: string) => events.filter((e) => e.event === name);

const GPU_USB = `version: 1
devices:
  - name: rtx3090
    match: { address: "01:00.*", vendor: "10de" }
    count: 2
    driver: vfio-pci
  - name: asmedia-usb
    match: { vendor: "1b21", class: "0c03" }
    driver: vfio-pci
`;
const HOTPLUG = '0000:06:00.0';

s('applies at start, stays quiet while converged, and binds a hotplugged device at the next poll', async () => {
  const model = gpuPassthrough();
  let phase = 0;
  const run = await runWatch(model, GPU_USB, ({ events, stop }) => {
    const plans = of(events, 'plan').length;
    if (phase === 0 && plans === 2) {
      // A second ASMedia controller arrives; xhci_hcd takes it at once, as the kernel would.
      model.hotplug(HOTPLUG, { vendor: '1b21', device: '2142', class: '0c0330', group: '15' });
      assert.is(model.dev(HOTPLUG).driver, 'xhci_hcd');
      phase = 1;
    } else if (phase === 1 && plans === 3) {
      model.removeDevice(HOTPLUG);
      phase = 2;
    } else if (phase === 2 && plans === 4) stop();
  });
  assert.is(run.outcome.exitCode, 0);
  assert.equal(names(run.events), ['plan', 'apply', 'plan', 'device-added', 'plan', 'apply', 'device-removed', 'plan']);
  const [start, idle, hotplug, gone] = of(run.events, 'plan');
  assert.equal([start!.trigger, start!.changes, idle!.trigger, idle!.changes], ['start', 3, 'interval', 0]);
  assert.equal(of(run.events, 'device-added')[0], { time: of(run.events, 'device-added')[0]!.time, event: 'device-added', device: HOTPLUG, bus: 'pci' });
  assert.equal([hotplug!.trigger, hotplug!.changes, gone!.trigger, gone!.changes], ['devices', 1, 'devices', 0]);
  const applies = of(run.events, 'apply');
  assert.equal(applies.map((a) => [a.outcome, a.changes]), [['applied', 3], ['applied', 1]]);
  assert.is(model.dev('0000:05:00.0').driver, 'vfio-pci');
  // The hotplug was noticed at the first poll after it, not at the next interval.
  assert.ok(run.slept.every((ms) => ms === POLL), `the loop waits in poll steps: ${run.slept.join(',')}`);
  assert.is(run.slept.length, 15 + 1 + 1 + 1, 'one interval of polls, one poll each for the hotplug and the removal, one to stop');
});

s('VFs a pass creates are reported as new devices, planned again at once, and end up bound', async () => {
  // An X710 port whose VFs (154c) start at routing offset 16, as on the real card; no VF driver loaded.
  const model = new KernelModel({ kernel: '6.1.0-28-amd64' })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: false })
    .pci('0000:3b:00.0', { vendor: '8086', device: '1572', class: '020000', group: '31', driver: 'i40e', sriov: { totalVfs: 64, vfDevice: '154c', offset: 16, stride: 1 } });
  const state = `version: 1
devices:
  - name: x710
    match: { address: "3b:00.0" }
    vfs: { count: 2, driver: vfio-pci }
`;
  const run = await runWatch(model, state, ({ events, stop }) => {
    if (of(events, 'device-added').length && of(events, 'plan').at(-1)?.changes === 0) stop();
  });
  assert.equal(names(run.events).slice(0, 2), ['plan', 'apply']);
  const added = of(run.events, 'device-added').map((e) => e.device);
  assert.equal(added, ['0000:3b:02.0', '0000:3b:02.1'], 'the VFs, seen at the first poll after the pass');
  assert.is(of(run.events, 'plan').at(-1)!.trigger, 'devices', 'the VFs triggered a pass right away');
  for (const vf of added) assert.is(model.dev(vf as string).driver, 'vfio-pci', `${vf} bound`);
  assert.equal(of(run.events, 'error'), []);
});

s('drift: the host moved away from the last apply; --report-only says so and writes nothing', async () => {
  const model = gpuPassthrough();
  const stateDir = join(tmp.dir, 'drift-state');
  // An earlier apply (an agent pass) bound the GPU pair and the USB controller.
  await runWatch(model, GPU_USB, ({ stop }) => stop(), { stateDir });
  // Then someone hands the USB controller back to xhci_hcd by hand.
  await model.write('bus/pci/devices/0000:05:00.0/driver_override', '\n');
  await model.write('bus/pci/drivers/vfio-pci/unbind', '0000:05:00.0');
  await model.write('bus/pci/drivers_probe', '0000:05:00.0');
  const writes = model.writes.length;

  const run = await runWatch(model, GPU_USB, ({ events, stop }) => void (of(events, 'plan').length === 2 && stop()), { reportOnly: true, stateDir });
  assert.equal(names(run.events), ['plan', 'drift', 'plan', 'drift']);
  assert.equal([run.events[1]!.changes, run.events[1]!.devices], [1, ['0000:05:00.0']]);
  assert.equal(run.events[0]!.reasons, { spec: 0, drift: 1, prune: 0, group: 0 });
  assert.is(model.writes.length, writes, 'report-only writes nothing');

  // Without --report-only the same drift is repaired in the first pass.
  const fix = await runWatch(model, GPU_USB, ({ stop }) => stop(), { stateDir });
  assert.equal(names(fix.events), ['plan', 'drift', 'apply']);
  assert.is(model.dev('0000:05:00.0').driver, 'vfio-pci');
});

s('a failing pass is logged and retried with backoff; the loop carries on and converges', async () => {
  const model = gpuPassthrough();
  // The USB controller's override write fails twice (EIO), then works.
  model.inject({ path: 'bus/pci/devices/0000:05:00.0/driver_override', value: 'vfio-pci', errno: 'EIO', times: 2 });
  const run = await runWatch(model, GPU_USB, ({ events, stop }) => void (of(events, 'apply').at(-1)?.outcome === 'applied' && stop()));
  assert.equal(names(run.events), ['plan', 'apply', 'error', 'plan', 'apply', 'error', 'plan', 'apply']);
  const errors = of(run.events, 'error');
  assert.equal(errors.map((e) => [e.kind, e.exitCode, e.retryInMs]), [['rolled-back', 3, 1000], ['rolled-back', 3, 2000]]);
  assert.match(String(errors[0]!.message), /EIO/);
  assert.equal(of(run.events, 'plan').map((e) => e.trigger), ['start', 'retry', 'retry']);
  assert.equal(of(run.events, 'apply').map((e) => e.outcome), ['rolled-back', 'rolled-back', 'applied']);
  assert.equal(run.slept, [1000, 2000, POLL], 'the waits after failures were the backoff (1 s, then 2 s), not the interval');
  assert.is(model.dev('0000:05:00.0').driver, 'vfio-pci');
  assert.equal([backoffMs(1, 300_000), backoffMs(3, 300_000), backoffMs(20, 300_000)], [1000, 4000, 300_000]);
});

s('a lock held by another apply is an error event, and the pass after it applies', async () => {
  const model = gpuPassthrough();
  const stateDir = join(tmp.dir, 'locked-state');
  const machine = new FakeMachine();
  const dir = openStateDir(stateDir, { create: true })!;
  const lock = await acquireLock(dir, machine.process(42), { command: 'vfio-reconcile apply other.yaml', timeoutMs: 0 });
  const run = await runWatch(
    model,
    GPU_USB,
    ({ events, stop }) => {
      if (of(events, 'error').length === 1) lock.release();
      if (of(events, 'apply').length === 1) stop();
    },
    { stateDir, machine },
  );
  assert.equal(names(run.events), ['error', 'plan', 'apply']);
  assert.equal([run.events[0]!.kind, run.events[0]!.retryInMs], ['lock', 1000]);
  assert.match(String(run.events[0]!.message), /pid 42/);
});

s('a stop during an apply lets the step finish, rolls that apply back, and ends cleanly', async () => {
  const model = gpuPassthrough();
  const before = ['0000:01:00.0', '0000:01:00.1', '0000:05:00.0'].map((d) => [model.dev(d).driver, model.dev(d).override]);
  const stop = new AbortController();
  // SIGTERM arrives while the first override write is in the kernel.
  const sysfs: RunEnv['sysfs'] = {
    root: model.root,
    read: (p) => model.read(p),
    readLink: (p) => model.readLink(p),
    list: (p) => model.list(p),
    write: async (p, v) => {
      await model.write(p, v);
      if (p.endsWith('/driver_override') && v === 'vfio-pci') stop.abort('SIGTERM');
    },
  };
  const run = await runWatch(model, GPU_USB, () => assert.unreachable('no sleep: the loop ends after the pass'), { sysfs, stop });
  assert.equal(run.outcome, { exitCode: 0, passes: 1 });
  assert.equal(names(run.events), ['plan', 'apply'], 'no error event for a requested stop');
  assert.is(run.events[1]!.outcome, 'rolled-back');
  assert.equal(['0000:01:00.0', '0000:01:00.1', '0000:05:00.0'].map((d) => [model.dev(d).driver, model.dev(d).override]), before);
  assert.ok(journalRecords(run.stateDir).some((r) => r.type === 'signal' && r.signal === 'SIGTERM'), 'the journal records the signal');
});

s.run();
