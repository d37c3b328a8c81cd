// The lab's scenarios, as run inside the guest. Each drives the real CLI against the guest's real
// sysfs and returns what the kernel shows afterwards; the host-side test (lab.lab.ts) holds the
// expectations. Every scenario starts from the devices as they booted (runner.ts resets them).

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { cli, cliBackground, cliHeldAt, json, stateFile, stateYaml, waitFor, WORK } from './cli.js';
import { device, LAB, moduleLoaded, resetToBoot, snapshot } from './kernel.js';
import { SRIOV_MDEV_SCENARIOS } from './sriov-mdev.js';

export type Facts = Record<string, unknown>;
export interface Context {
  /** Asks the host to act on the "hardware" (QMP) through a LABSYNC console line. */
  sync(request: string): void;
}
export type Scenario = (ctx: Context) => Promise<Facts> | Facts;

const stateDir = (name: string): string => `${WORK}/state-${name}`;

/** A VM's view: the host's QEMU inside the guest takes the device through VFIO and lists it. */
function vfioClient(address: string): Facts {
  const r = spawnSync('qemu-system-x86_64', ['-accel', 'tcg', '-m', '64', '-nodefaults', '-display', 'none', '-S', '-monitor', 'stdio', '-device', `vfio-pci,host=${address}`], {
    input: 'info pci\nquit\n',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { exit: r.status, sawDevice: /Ethernet controller/.test(r.stdout ?? ''), stderr: (r.stderr ?? '').slice(-400) };
}

const nic0Vfio = stateYaml([{ match: { address: LAB.nic0 }, driver: 'vfio-pci' }]);

// Run in this order, one boot per kernel; hotUnplug removes hot0 for good, so it stays last.
export const SCENARIOS: Record<string, Scenario> = {
  // The harness's own proof: the layout the other scenarios rely on, before the tool runs.
  layout: () => ({
    devices: snapshot(),
    vfioPciLoaded: moduleLoaded('vfio_pci'),
    sriovTotalVfs: readFileSync(`/sys/bus/pci/devices/${LAB.nvme0}/sriov_totalvfs`, 'utf8').trim(),
  }),

  // plan -> apply -> apply again -> default, on the endpoint in its own group.
  lifecycle: () => {
    const toVfio = stateFile('nic0-vfio', nic0Vfio);
    const dir = stateDir('lifecycle');
    const before = snapshot();
    const plan = cli(['plan', toVfio, '--json', '--detailed-exitcode']);
    const afterPlan = snapshot();
    const vfioLoadedAfterPlan = moduleLoaded('vfio_pci');
    const apply = cli(['apply', toVfio, '--state-dir', dir]);
    const afterApply = snapshot();
    const vfioLoadedAfterApply = moduleLoaded('vfio_pci');
    const client = vfioClient(LAB.nic0);
    const again = cli(['apply', toVfio, '--state-dir', dir]);
    const afterAgain = snapshot();
    const restore = cli(['apply', stateFile('nic0-default', stateYaml([{ match: { address: LAB.nic0 }, driver: 'default' }])), '--state-dir', dir]);
    return {
      before,
      plan: { ...plan, doc: json(plan.stdout) },
      afterPlan,
      vfioLoadedAfterPlan,
      apply,
      afterApply,
      vfioLoadedAfterApply,
      client,
      again,
      afterAgain,
      restore,
      afterRestore: snapshot(),
    };
  },

  // One e1000 behind the bridge, its sibling left on e1000: strict policy refuses, writes nothing.
  strictGroup: () => {
    const state = stateFile('leg1-strict', stateYaml([{ match: { address: LAB.leg1 }, driver: 'vfio-pci' }]));
    const before = snapshot();
    const apply = cli(['apply', state, '--state-dir', stateDir('strict')]);
    return { before, apply, after: snapshot() };
  },

  // The same request with `include`: the whole group goes to vfio-pci, the bridge stays as it is.
  includeGroup: () => {
    const state = stateFile('leg1-include', stateYaml([{ match: { address: LAB.leg1 }, driver: 'vfio-pci' }], 'iommuGroups: include'));
    const before = snapshot();
    const apply = cli(['apply', state, '--state-dir', stateDir('include')]);
    return { before, apply, after: snapshot() };
  },

  // nic0 -> vfio-pci succeeds first; hot0 (an e1000e) -> e1000 fails in the real probe
  // ("Unknown MAC Type"), so the apply must undo nic0 too and exit 3.
  probeFailure: () => {
    const state = stateFile('probe-failure', stateYaml([
      { match: { address: LAB.nic0 }, driver: 'vfio-pci' },
      { match: { address: LAB.hot0 }, driver: 'e1000' },
    ]));
    const before = snapshot();
    const apply = cli(['apply', state, '--state-dir', stateDir('probe-failure')]);
    return { before, apply, after: snapshot() };
  },

  // A platform device: unbound with `none`, back to its driver with `default`.
  platform: () => {
    const dir = stateDir('platform');
    const before = device(LAB.pcspkr);
    const none = cli(['apply', stateFile('pcspkr-none', stateYaml([{ match: { name: LAB.pcspkr }, driver: 'none' }])), '--state-dir', dir]);
    const afterNone = device(LAB.pcspkr);
    const back = cli(['apply', stateFile('pcspkr-default', stateYaml([{ match: { name: LAB.pcspkr }, driver: 'default' }])), '--state-dir', dir]);
    return {
      before,
      none,
      afterNone,
      back,
      afterBack: device(LAB.pcspkr),
    };
  },

  // The NVMe PF keeps its driver and gets two VFs on vfio-pci; applying again changes nothing.
  sriov: () => {
    const state = stateFile('nvme-vfs', stateYaml([{ match: { address: LAB.nvme0 }, driver: 'nvme', extra: 'vfs: { count: 2, driver: vfio-pci }' }]));
    const apply = cli(['apply', state, '--state-dir', stateDir('sriov')]);
    const second = cli(['apply', state, '--state-dir', stateDir('sriov')]);
    return {
      apply,
      second,
      pf: device(LAB.nvme0),
      vfs: LAB.nvmeVfs.map(device),
      numvfs: readFileSync(`/sys/bus/pci/devices/${LAB.nvme0}/sriov_numvfs`, 'utf8').trim(),
    };
  },

  // A VM holds /dev/vfio/N open (here a process with the group fd): taking the device back is
  // refused, naming the holder, and works once it is gone.
  vfioInUse: async () => {
    const dir = stateDir('in-use');
    const toDefault = stateFile('nic0-default', stateYaml([{ match: { address: LAB.nic0 }, driver: 'default' }]));
    const bound = cli(['apply', stateFile('nic0-vfio', nic0Vfio), '--state-dir', dir]);
    const node = `/dev/vfio/${device(LAB.nic0).group}`;
    const holder = spawn('sh', ['-c', `exec 3<>${node}; exec sleep 600`], { stdio: 'ignore' });
    const holding = await waitFor(() => {
      try {
        return readlinkSync(`/proc/${holder.pid}/fd/3`) === node;
      } catch {
        return false;
      }
    }, 20);
    const refused = cli(['apply', toDefault, '--state-dir', dir]);
    const whileHeld = device(LAB.nic0);
    const gone = new Promise((res) => holder.once('exit', res));
    holder.kill('SIGKILL');
    await gone;
    const released = cli(['apply', toDefault, '--state-dir', dir]);
    return { bound, holderPid: holder.pid, holding, refused, whileHeld, released, after: device(LAB.nic0) };
  },

  // The guest's own root file system lives on a 9p share: a plan to take its virtio device away
  // must be refused, naming the mount. (Only plan: an unbind here would hang the guest.)
  rootShare: () => {
    const plan = cli(['plan', stateFile('root-share', stateYaml([{ match: { address: LAB.rootShare }, driver: 'vfio-pci' }]))]);
    return { plan, device: device(LAB.rootShare) };
  },

  ...SRIOV_MDEV_SCENARIOS,

  // SIGKILL while the apply is held at nvme0's first write (nic0 already moved); then a new apply,
  // which must notice the interrupted one, and the recovery it points to.
  sigkill: async () => {
    const state = stateFile('sigkill', stateYaml([
      { match: { address: LAB.nic0 }, driver: 'vfio-pci' },
      { match: { address: LAB.nvme0 }, driver: 'vfio-pci' },
    ]));
    const dir = stateDir('sigkill');
    const before = snapshot();
    // The write worker dies with the CLI, but only once strace lets go of it: keep the hold short.
    const held = cliHeldAt(`/sys/bus/pci/devices/${LAB.nvme0}/driver_override`, 10, ['apply', state, '--state-dir', dir]);
    const reachedHold = await waitFor(held.holding, 60);
    const pid = held.cliPid();
    if (pid !== null) process.kill(pid, 'SIGKILL');
    const killed = await held.done;
    const atKill = snapshot();
    const rerun = cli(['apply', state, '--state-dir', dir]);
    const afterRerun = snapshot();
    const recover = cli(['rollback', '--recover', '--state-dir', dir]);
    return { before, reachedHold, killed, atKill, rerun, afterRerun, recover, after: snapshot() };
  },

  // `watch` binds nic0, then puts it back after someone hands it to e1000e by hand; SIGTERM ends it.
  watch: async () => {
    const run = cliBackground(['watch', stateFile('watch', nic0Vfio), '--interval', '2', '--poll', '1', '--state-dir', stateDir('watch')]);
    const events = (): Record<string, any>[] =>
      run.stdout().split('\n').filter(Boolean).map((l) => (json(l) ?? { unparsed: l }) as Record<string, any>);
    try {
      // TCG is slow: the first pass loads vfio-pci and starts node, so give it a minute.
      const bound1 = await waitFor(() => device(LAB.nic0).driver === 'vfio-pci', 60);
      // Drift right after a pass that found nothing to do, so the next pass is a whole interval away.
      const seen = events().length;
      const settled = await waitFor(() => events().slice(seen).some((e) => e.event === 'plan' && e.changes === 0), 60);
      const eventsBeforeDrift = events().length;
      const nic = `/sys/bus/pci/devices/${LAB.nic0}`;
      writeFileSync(`${nic}/driver_override`, '\n');
      writeFileSync(`${nic}/driver/unbind`, LAB.nic0);
      writeFileSync('/sys/bus/pci/drivers_probe', LAB.nic0);
      const drifted = device(LAB.nic0);
      const driftMade = drifted.driver === 'e1000e' && drifted.override === null;
      const rebound = await waitFor(() => device(LAB.nic0).driver === 'vfio-pci', 60);
      const afterRebind = device(LAB.nic0);
      run.child.kill('SIGTERM');
      const stopped = await Promise.race([run.done, new Promise<null>((res) => setTimeout(() => res(null), 60_000))]);
      return { bound1, settled, driftMade, drifted, rebound, afterRebind, stopped, eventsBeforeDrift, events: events() };
    } finally {
      // Never leave a watch running into the next scenario.
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGKILL');
        await run.done;
      }
      resetToBoot();
    }
  },

  // hot0 is unplugged (QMP device_del) while the apply is held at its first write, after nic0 moved.
  hotUnplug: async (ctx) => {
    const state = stateFile('unplug', stateYaml([
      { match: { address: LAB.nic0 }, driver: 'vfio-pci' },
      { match: { address: LAB.hot0 }, driver: 'vfio-pci' },
    ]));
    const before = snapshot();
    const held = cliHeldAt(`/sys/bus/pci/devices/${LAB.hot0}/driver_override`, 8, ['apply', state, '--state-dir', stateDir('unplug')]);
    const reachedHold = await waitFor(held.holding, 60);
    const atHold = device(LAB.nic0);
    // q35 unplugs through ACPI within a second; the write stays held for 8 s.
    ctx.sync('device_del hot0');
    const unplugged = await waitFor(() => !device(LAB.hot0).present, 7);
    const apply = await held.done;
    return { before, reachedHold, atHold, unplugged, apply, after: snapshot() };
  },
};
