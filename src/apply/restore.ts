// Rollback: put every device the apply touched back into its state from before the apply.
//
// Rollback restores states instead of replaying the completed steps inverted, because the inverse
// steps are not valid kernel operations on their own: re-binding the old driver while the override
// still names vfio-pci fails with ENODEV; an override undone after the probe it steered leaves the
// match to chance; and a PF whose sriov_numvfs passes through 0 destroys and recreates its VFs,
// which lose their overrides. Restoring a recorded state (override, then driver, then VF count,
// each read back) is correct whatever subset of the steps ran, and whatever a failure left half done.

import { deviceKey, mdevUuidOf, splitKey } from '../domain/names.js';
import type { BindingState, DeviceKey } from '../domain/types.js';
import { layout, linkName } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import { describe } from './explain.js';
import { ApplyError, deviceExists, readBinding, readDriver, readNumVfs, type Io } from './io.js';
import { mdevPlacement, restoreMdev } from './mdev-ops.js';
import { bind, probe, setAutoprobe, setNumVfs, setOverride, unbind } from './ops.js';
import { describeBinding, type ApplyHooks, type RollbackReport } from './result.js';

/** A device the apply wrote to, with its state from just before the first write. */
export interface Touched {
  key: DeviceKey;
  pre: BindingState;
  /** A PF's `sriov_numvfs` and `sriov_drivers_autoprobe` then, and its VFs' bindings then. */
  sriov?: { numVfs: number; vfs: Map<DeviceKey, BindingState>; autoprobe?: boolean };
  /** For an mdev (`mdev/<uuid>`): where it was then, or null when it did not exist. */
  mdev?: { parent: string; type: string } | null;
  /** A VF's PF. */
  physfn?: DeviceKey;
  /**
   * Captured only because a module load could bind it (unbound, and nothing in the plan names
   * it): restored like any other, but listed as restored only if it had moved.
   */
  bystander?: boolean;
  /** A write to it never returned: its state is unknown and nothing more may be written to it. */
  hung: boolean;
  /**
   * The override last known to be set. A hung device is reported with this instead of reading
   * driver_override, which blocks on the device lock the stuck write holds (kernel-abi.md 1.1).
   */
  override: string | null;
}

export function capture(sysfs: SysfsPort, key: DeviceKey): Touched {
  const uuid = mdevUuidOf(key);
  if (uuid !== null) return { key, pre: { driver: null, override: null }, hung: false, override: null, mdev: mdevPlacement(sysfs, uuid) };
  const { bus, name } = splitKey(key);
  const pre = readBinding(sysfs, key);
  const touched: Touched = { key, pre, hung: false, override: pre.override };
  const pf = linkName(sysfs.readLink(layout.attr(bus, name, 'physfn')));
  if (pf !== null) touched.physfn = deviceKey(bus, pf);
  const numVfs = readNumVfs(sysfs, key);
  if (numVfs !== undefined) {
    const vfs = new Map<DeviceKey, BindingState>();
    for (let i = 0; i < numVfs; i++) {
      const vf = linkName(sysfs.readLink(layout.attr(bus, name, `virtfn${i}`)));
      if (vf !== null) vfs.set(deviceKey(bus, vf), readBinding(sysfs, deviceKey(bus, vf)));
    }
    const autoprobe = sysfs.read(layout.attr(bus, name, 'sriov_drivers_autoprobe'));
    touched.sriov = { numVfs, vfs, ...(autoprobe !== null ? { autoprobe: autoprobe !== '0' } : {}) };
  }
  return touched;
}

/** `touched` in order of first touch; restored in reverse. */
export async function rollBack(touched: Touched[], io: Io, hooks: ApplyHooks = {}): Promise<RollbackReport> {
  const report: RollbackReport = { restored: [], failed: [], gone: [] };
  const rio = observed(io, hooks);
  const byKey = new Map(touched.map((t) => [t.key, t]));

  /** Restores one device; false when it could not be. `always`: list it as restored even if it had not moved. */
  const restore = async (rec: Touched, pre: BindingState, always: boolean, sriov?: Touched['sriov']): Promise<boolean> => {
    const fail = (message: string, state: BindingState) => {
      report.failed.push({ device: rec.key, state, wanted: pre, message });
      return false;
    };
    if (rec.hung) {
      return fail('a write to it never returned; its state is unknown', { driver: readDriver(io.sysfs, rec.key), override: rec.override });
    }
    if (!deviceExists(io.sysfs, rec.key)) {
      // Hot-unplugged while the apply ran: nothing of it is left to restore, and nothing of ours is
      // left half-done on it, so the rollback of the rest still completes (exit 3, not 4).
      report.gone.push(rec.key);
      return false;
    }
    const before = readBinding(io.sysfs, rec.key);
    try {
      await restoreBinding(rio, rec, pre, sriov);
    } catch (err) {
      const hung = err instanceof ApplyError && err.hung;
      if (hung) rec.hung = true;
      const state = hung ? { driver: readDriver(io.sysfs, rec.key), override: rec.override } : readBinding(io.sysfs, rec.key);
      return fail((err as Error).message, state);
    }
    if (always || before.driver !== pre.driver || before.override !== pre.override) report.restored.push(rec.key);
    return true;
  };

  // A VF's state depends on its PF's VF count (going through 0 recreates it blank), so the VFs of
  // a touched PF are restored right after that PF rather than in their own place in the order.
  // A VF is known as such by its physfn link, or, when it was already gone as the apply first
  // touched it (destroyed by an earlier count change), by a touched PF that had it then.
  const underTouchedPf = (t: Touched) =>
    (t.physfn !== undefined && byKey.get(t.physfn)?.sriov !== undefined) || touched.some((pf) => pf.sriov?.vfs.has(t.key));
  for (const rec of [...touched].reverse()) {
    if (rec.mdev !== undefined) {
      await restoreMdevRecord(rio, rec, report);
      continue;
    }
    if (underTouchedPf(rec)) continue;
    if (!rec.sriov) {
      await restore(rec, rec.pre, rec.bystander !== true);
      continue;
    }
    const { numVfs, vfs: preVfs } = rec.sriov;
    const pfOk = await restore(rec, rec.pre, true, rec.sriov);
    const vfs = new Set([...preVfs.keys(), ...touched.filter((t) => t.physfn === rec.key).map((t) => t.key)]);
    for (const vf of vfs) {
      const own = byKey.get(vf);
      // A VF written to before its PF (unbound before its count changed) was captured first, so its
      // own record holds the state from before the apply; otherwise the PF's capture does.
      const ownFirst = own !== undefined && touched.indexOf(own) < touched.indexOf(rec);
      const pre = ownFirst ? own.pre : (preVfs.get(vf) ?? own!.pre);
      if (!deviceExists(io.sysfs, vf)) {
        // A VF the apply created is gone once its PF is back to its old count: its restored state.
        if (!preVfs.has(vf)) continue;
        if (report.gone.includes(rec.key)) {
          report.gone.push(vf);
          continue;
        }
        if (!pfOk) {
          const message = `gone with the VFs of ${rec.key}, which could not be restored to ${numVfs} VFs`;
          report.failed.push({ device: vf, state: { driver: null, override: null }, wanted: pre, message });
          continue;
        }
      }
      await restore(own ?? { key: vf, pre, hung: false, override: null }, pre, own !== undefined);
    }
  }
  return report;
}

/**
 * Override first, so no match can pick a wrong driver once the device is unbound; then leave the
 * current driver; then bring the old one back. A PF's VF count is lowered before the rebind (by
 * the driver that created the VFs) and raised after it (by the restored driver).
 */
async function restoreBinding(io: Io, rec: Touched, pre: BindingState, sriov?: Touched['sriov']): Promise<void> {
  const key = rec.key;
  const numVfs = sriov?.numVfs;
  const now = readBinding(io.sysfs, key);
  const rebind = pre.driver !== null && now.driver !== pre.driver;
  // A saved override that names another driver than the saved one (set after binding, never
  // probed) would steer the match away from it: rebind under an override naming the saved driver,
  // then put the saved override back.
  const steer = rebind && pre.override !== null && pre.override !== pre.driver ? pre.driver : pre.override;
  const override = async (value: string | null) => {
    await setOverride(io, key, value);
    rec.override = value;
  };
  if (now.override !== steer) await override(steer);
  if (numVfs !== undefined) await lowerNumVfs(io, key, numVfs);
  if (now.driver !== null && now.driver !== pre.driver) await unbind(io, key, now.driver);
  if (rebind) {
    if (steer === pre.driver) await probe(io, key, pre.driver!);
    else await bind(io, key, pre.driver!);
  }
  // VFs come back as they were created before: with the autoprobe setting of then.
  if (sriov?.autoprobe !== undefined) await restoreAutoprobe(io, key, sriov.autoprobe);
  if (numVfs !== undefined) await raiseNumVfs(io, key, numVfs);
  if (steer !== pre.override) await override(pre.override);
  const after = readBinding(io.sysfs, key);
  if (after.driver !== pre.driver || after.override !== pre.override) {
    throw new ApplyError(`after restoring it reads back ${describeBinding(after)}`, { device: key });
  }
}

/** The kernel refuses to change a non-zero VF count to another non-zero one (EBUSY): go through 0. */
async function lowerNumVfs(io: Io, key: DeviceKey, want: number): Promise<void> {
  const now = readNumVfs(io.sysfs, key);
  if (now !== undefined && now !== want && now !== 0) await setNumVfs(io, key, 0);
}

async function restoreAutoprobe(io: Io, key: DeviceKey, on: boolean): Promise<void> {
  const { bus, name } = splitKey(key);
  const now = io.sysfs.read(layout.attr(bus, name, 'sriov_drivers_autoprobe'));
  if (now !== null && (now !== '0') !== on) await setAutoprobe(io, key, on);
}

/** An mdev back where it was (mdev-ops.ts restoreMdev), reported like a device. */
async function restoreMdevRecord(io: Io, rec: Touched, report: RollbackReport): Promise<void> {
  const none = { driver: null, override: null };
  if (rec.hung) {
    report.failed.push({ device: rec.key, state: none, wanted: none, message: 'a write to it never returned; its state is unknown' });
    return;
  }
  try {
    if (await restoreMdev(io, mdevUuidOf(rec.key)!, rec.mdev!)) report.restored.push(rec.key);
  } catch (err) {
    if (err instanceof ApplyError && err.hung) rec.hung = true;
    report.failed.push({ device: rec.key, state: none, wanted: none, message: (err as Error).message });
  }
}

async function raiseNumVfs(io: Io, key: DeviceKey, want: number): Promise<void> {
  const now = readNumVfs(io.sysfs, key);
  if (now !== undefined && now !== want) await setNumVfs(io, key, want);
}

function observed(io: Io, hooks: ApplyHooks): Io {
  const onStep = hooks.onRollbackStep;
  if (!onStep) return io;
  return {
    ...io,
    async write(path, value, w, device) {
      if (device !== undefined) await onStep(device, describe(w));
      return io.write(path, value, w, device);
    },
  };
}
