// Runs inside the QEMU lab guest (bench/lab/rebind.ts boots it): times moving the lab's endpoints to
// vfio-pci and back three ways, each from the same starting state:
//   - vfio-reconcile apply (one process per direction, the tool's own plan, journal and verify);
//   - a plain sequential shell loop of the minimal writes (override, unbind, drivers_probe);
//   - a loop of `driverctl --nosave set-override` / `unset-override`.
// Prints one `LABRESULT {json}` line (the lab's protocol) with every timing in milliseconds.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { stateFile, stateYaml, WORK } from '../../test/lab/guest/cli.js';
import { assertInsideLab, device, LAB, resetToBoot } from '../../test/lab/guest/kernel.js';

assertInsideLab();

const ROUNDS = Number(process.env.VR_BENCH_ROUNDS ?? 3);
/** Packages only the build and the tests use: not copied. */
const DEV_ONLY = new Set(['typescript', '@esbuild', 'esbuild', '@types', 'postject', 'fast-check', 'uvu', '.bin']);

/**
 * The guest sees the repository over 9p, where loading Node modules (hundreds of small files) is
 * slow enough under TCG to swamp what is measured: run the tool from a copy in the guest's RAM, as
 * it would run from a local disk.
 */
function localApp(): string {
  const app = `${WORK}/app`;
  const modules = readdirSync('node_modules').filter((m) => !DEV_ONLY.has(m)).map((m) => `node_modules/${m}`);
  const copy = sh(`rm -rf ${app} && mkdir -p ${app}/dist ${app}/node_modules && cp -r package.json bin schemas ${app}/ && cp -r dist/src ${app}/dist/ && cp -r ${modules.join(' ')} ${app}/node_modules/`);
  if (!copy.ok) throw new Error(`copying the app into the guest: ${copy.stderr}`);
  return `${app}/bin/run.js`;
}
const BIN = localApp();

function vr(args: string[]): { ms: number; exit: number | null; stderr: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, exit: r.status, stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
}

/**
 * The endpoints to rebind: two NICs in IOMMU groups of their own and the bridged pair sharing one.
 * Not QEMU's NVMe VFs: nvme cannot probe a VF the PF has given no queues, so they have no driver
 * to go back to (and driverctl unset-override fails on them).
 */
function targets(): string[] {
  return [LAB.nic0, LAB.hot0, LAB.leg1, LAB.leg2];
}

function sh(script: string): { ms: number; ok: boolean; stderr: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, ok: r.status === 0, stderr: (r.stderr ?? '').trim() };
}

function setup(): void {
  resetToBoot();
  // The same starting point for every method: the boot drivers, vfio-pci already loaded.
  if (!sh('modprobe vfio-pci').ok) throw new Error('modprobe vfio-pci failed');
}

/** Why the devices are not on `expected` (one driver, or each device's own), or null when they are. */
function onlyOn(devices: string[], expected: (string | null)[]): string | null {
  const wrong = devices.filter((d, i) => device(d).driver !== expected[i]);
  return wrong.length ? `not where expected: ${wrong.map((d) => `${d} on ${device(d).driver ?? '(none)'}`).join(', ')}` : null;
}

type Pass = { ms: number; error: string | null };
type Method = { toVfio: (devs: string[]) => Pass; back: (devs: string[]) => Pass };

const shellLoop: Method = {
  toVfio: (devs) => {
    const r = sh(devs.map((d) => `echo vfio-pci > /sys/bus/pci/devices/${d}/driver_override; echo ${d} > /sys/bus/pci/devices/${d}/driver/unbind; echo ${d} > /sys/bus/pci/drivers_probe`).join('\n'));
    return { ms: r.ms, error: r.ok ? null : r.stderr };
  },
  back: (devs) => {
    const r = sh(devs.map((d) => `echo > /sys/bus/pci/devices/${d}/driver_override; echo ${d} > /sys/bus/pci/devices/${d}/driver/unbind; echo ${d} > /sys/bus/pci/drivers_probe`).join('\n'));
    return { ms: r.ms, error: r.ok ? null : r.stderr };
  },
};

const driverctl: Method = {
  toVfio: (devs) => {
    const r = sh(devs.map((d) => `driverctl --nosave set-override ${d} vfio-pci`).join(' && '));
    return { ms: r.ms, error: r.ok ? null : r.stderr };
  },
  back: (devs) => {
    const r = sh(devs.map((d) => `driverctl --nosave unset-override ${d}`).join(' && '));
    return { ms: r.ms, error: r.ok ? null : r.stderr };
  },
};

function reconcile(round: number): Method {
  const dir = `${WORK}/bench-state-${round}`;
  const apply = (name: string, driver: string, devs: string[]): Pass => {
    const file = stateFile(name, stateYaml(devs.map((d) => ({ match: { address: d }, driver }))));
    const r = vr(['apply', file, '--state-dir', dir]);
    return { ms: r.ms, error: r.exit === 0 ? null : `exit ${r.exit}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}` };
  };
  return { toVfio: (devs) => apply('bench-vfio', 'vfio-pci', devs), back: (devs) => apply('bench-default', 'default', devs) };
}

function run(method: (round: number) => Method): { toVfio: number[]; back: number[]; error?: string } {
  const out: { toVfio: number[]; back: number[]; error?: string } = { toVfio: [], back: [] };
  for (let round = 0; round < ROUNDS; round++) {
    setup();
    const devs = targets();
    const before = devs.map((d) => device(d).driver);
    const m = method(round);
    const there = m.toVfio(devs);
    const error = there.error ?? onlyOn(devs, devs.map(() => 'vfio-pci'));
    if (error) return { ...out, error: `to vfio-pci: ${error}` };
    const back = m.back(devs);
    const backError = back.error ?? onlyOn(devs, before);
    if (backError) return { ...out, error: `back: ${backError}` };
    out.toVfio.push(there.ms);
    out.back.push(back.ms);
  }
  return out;
}

/** What a vfio-reconcile run costs before any write: Node's start, and a plan of the same change. */
function overheads(): { node: number[]; plan: number[]; error?: string } {
  setup();
  const file = stateFile('bench-plan', stateYaml(targets().map((d) => ({ match: { address: d }, driver: 'vfio-pci' }))));
  const out: { node: number[]; plan: number[]; error?: string } = { node: [], plan: [] };
  for (let round = 0; round < ROUNDS; round++) {
    out.node.push(sh(`${process.execPath} -e 0`).ms);
    const r = vr(['plan', file]);
    if (r.exit !== 0) return { ...out, error: `plan exit ${r.exit}: ${r.stderr.trim().split('\n').pop()}` };
    out.plan.push(r.ms);
  }
  return out;
}

const started = Date.now();
let result: Record<string, unknown>;
try {
  result = {
    scenario: 'rebind',
    devices: targets(),
    rounds: ROUNDS,
    overheads: overheads(),
    reconcile: run(reconcile),
    shell: run(() => shellLoop),
    driverctl: sh('command -v driverctl').ok ? run(() => driverctl) : { error: 'driverctl is not installed on the host (the guest shares its root)' },
  };
} catch (e) {
  result = { scenario: 'rebind', error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}
resetToBoot();
result.seconds = (Date.now() - started) / 1000;
process.stdout.write(`LABRESULT ${JSON.stringify(result)}\n`);
