// The device operations that apply and rollback share: one write each, then a read-back, because
// a write the kernel accepted proves little (drivers_probe succeeds when nothing bound).

import { deviceKey, splitKey } from '../domain/names.js';
import type { DeviceKey } from '../domain/types.js';
import { layout, linkName } from '../sysfs/layout.js';
import { explainSilentProbe, explainVanished, showOverride } from './explain.js';
import { ApplyError, deviceExists, readBinding, readDriver, readNumVfs, type Io } from './io.js';

/** A read-back that disagrees: say the device vanished when it did, else `mismatch`. */
function readBackFailure(io: Io, key: DeviceKey, during: string, mismatch: string): ApplyError {
  const { name } = splitKey(key);
  return deviceExists(io.sysfs, key)
    ? new ApplyError(mismatch, { device: key })
    : new ApplyError(explainVanished(name, during), { device: key, vanished: true });
}

export async function setOverride(io: Io, key: DeviceKey, value: string | null): Promise<void> {
  const { bus, name } = splitKey(key);
  // Clearing is a lone newline: an empty write never reaches the kernel, and a NUL byte stored ""
  // (an override matching nothing) on 5.19-6.0 (kernel-abi.md 1.1).
  await io.write(layout.attr(bus, name, 'driver_override'), value ?? '\n', { op: 'override', device: name, value }, key);
  const now = readBinding(io.sysfs, key).override;
  if (now !== value) {
    throw readBackFailure(io, key, 'setting driver_override',
      `driver_override of ${name} reads ${showOverride(now)} after writing ${showOverride(value)}`);
  }
}

export async function unbind(io: Io, key: DeviceKey, driver: string): Promise<void> {
  const { bus, name } = splitKey(key);
  try {
    await io.write(layout.driverAttr(bus, driver, 'unbind'), name, { op: 'unbind', device: name, driver }, key);
  } catch (err) {
    // ENODEV means "not bound to this driver": the device already moved (udev, another tool, a
    // cascade). That is only fine if a re-read agrees.
    if (err instanceof ApplyError && err.errno === 'ENODEV' && !err.vanished && readDriver(io.sysfs, key) !== driver) return;
    throw err;
  }
  if (readDriver(io.sysfs, key) === driver) {
    throw new ApplyError(`${name} is still bound to ${driver} after the kernel accepted the unbind`, { device: key });
  }
}

/**
 * Asks the bus to match the device again (honours driver_override). `wanted`: the driver it must
 * end on, when known.
 */
export async function probe(io: Io, key: DeviceKey, wanted: string | undefined): Promise<void> {
  const { bus, name } = splitKey(key);
  const override = readBinding(io.sysfs, key).override;
  await io.write(layout.driversProbe(bus), name, { op: 'probe', device: name, override }, key);
  const got = readDriver(io.sysfs, key);
  if (wanted !== undefined && got !== wanted) {
    throw readBackFailure(io, key, `probing ${name}`, explainSilentProbe(name, wanted, got));
  }
}

export async function bind(io: Io, key: DeviceKey, driver: string): Promise<void> {
  const { bus, name } = splitKey(key);
  await io.write(layout.driverAttr(bus, driver, 'bind'), name, { op: 'bind', device: name, driver }, key);
  const got = readDriver(io.sysfs, key);
  if (got !== driver) {
    throw readBackFailure(io, key, `binding ${name}`,
      `bind of ${driver} on ${name} was accepted, but the device is ${got === null ? 'unbound' : `on ${got}`}; see \`dmesg\``);
  }
}

/**
 * `expect`: the VFs the plan predicted (desire/future-vfs.ts), in index order. The kernel must have
 * put them there: later steps of the plan bind devices at those addresses.
 */
export async function setNumVfs(io: Io, key: DeviceKey, count: number, expect?: DeviceKey[]): Promise<void> {
  const { bus, name } = splitKey(key);
  const total = io.sysfs.read(layout.attr(bus, name, 'sriov_totalvfs'));
  const w = { op: 'numvfs' as const, device: name, to: count, ...(total !== null ? { totalVfs: Number(total) } : {}) };
  await io.write(layout.attr(bus, name, 'sriov_numvfs'), String(count), w, key);
  const now = readNumVfs(io.sysfs, key);
  if (now !== count) throw readBackFailure(io, key, `setting sriov_numvfs`, `${name} has ${now} VFs after writing ${count}`);
  if (!expect) return;
  const got = expect.map((_, i) => linkName(io.sysfs.readLink(layout.attr(bus, name, `virtfn${i}`))));
  const wrong = expect.filter((vf, i) => got[i] === null || deviceKey(bus, got[i]!) !== vf);
  if (wrong.length > 0) {
    throw new ApplyError(
      `${name} created its VFs at ${got.map((g) => g ?? '(none)').join(', ')}, not at the predicted ${expect.map((k) => splitKey(k).name).join(', ')} ` +
        `(from sriov_offset and sriov_stride); nothing was bound to them`,
      { device: key },
    );
  }
}

export async function setAutoprobe(io: Io, key: DeviceKey, on: boolean): Promise<void> {
  const { bus, name } = splitKey(key);
  const path = layout.attr(bus, name, 'sriov_drivers_autoprobe');
  await io.write(path, on ? '1' : '0', { op: 'autoprobe', device: name, to: on }, key);
  const now = io.sysfs.read(path);
  if (now !== (on ? '1' : '0')) throw readBackFailure(io, key, 'setting sriov_drivers_autoprobe', `sriov_drivers_autoprobe of ${name} reads ${now} after writing ${on ? 1 : 0}`);
}
