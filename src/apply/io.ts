// Every write the executor makes, in apply and in rollback, goes through here: bounded in time,
// and with the kernel's refusal translated into what it means for the device.

import { KernelWriteError } from '../domain/errors.js';
import { mdevUuidOf, splitKey } from '../domain/names.js';
import type { BindingState, DeviceKey } from '../domain/types.js';
import { layout, linkName } from '../sysfs/layout.js';
import type { ModulePort, SysfsPort } from '../sysfs/port.js';
import { describe, explainError, explainHang, explainVanished, type WriteOp } from './explain.js';

/** A failed write or check, already explained for the user. */
export class ApplyError extends Error {
  readonly device?: DeviceKey;
  readonly errno?: string;
  /** The write never returned: the device is in an unknown state. */
  readonly hung: boolean;
  /** The device is gone from its bus. */
  readonly vanished: boolean;
  constructor(message: string, facts: { device?: DeviceKey; errno?: string; hung?: boolean; vanished?: boolean } = {}) {
    super(message);
    this.name = 'ApplyError';
    if (facts.device !== undefined) this.device = facts.device;
    if (facts.errno !== undefined) this.errno = facts.errno;
    this.hung = facts.hung ?? false;
    this.vanished = facts.vanished ?? false;
  }
}

class Timeout extends Error {}

/**
 * Waits for `work` at most `ms`. A write the kernel blocks (unbind of a device a VM still holds)
 * cannot be cancelled, so on timeout the promise is abandoned, not stopped.
 */
async function bounded(work: () => Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // The timer is deliberately not unref'd: a write that never settles holds no event-loop handle
  // of its own, and the process must stay alive long enough to report the hang.
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout()), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(work), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export function deviceExists(sysfs: SysfsPort, key: DeviceKey): boolean {
  const uuid = mdevUuidOf(key);
  if (uuid !== null) return sysfs.list(layout.mdevDevices).includes(uuid);
  const { bus, name } = splitKey(key);
  return sysfs.list(layout.busDevices(bus)).includes(name);
}

/** `driver_override` as the kernel shows it: `(null)` (or an empty line on SPI) means unset. */
function parseOverride(text: string | null): string | null {
  return text === null || text === '' || text === '(null)' ? null : text;
}

/** The bound driver, from the `driver` link (reading a link takes no device lock). */
export function readDriver(sysfs: SysfsPort, key: DeviceKey): string | null {
  const { bus, name } = splitKey(key);
  return linkName(sysfs.readLink(layout.attr(bus, name, 'driver')));
}

export function readBinding(sysfs: SysfsPort, key: DeviceKey): BindingState {
  const { bus, name } = splitKey(key);
  return {
    driver: readDriver(sysfs, key),
    override: parseOverride(sysfs.read(layout.attr(bus, name, 'driver_override'))),
  };
}

/** `sriov_numvfs`, or undefined for a device without SR-IOV. */
export function readNumVfs(sysfs: SysfsPort, key: DeviceKey): number | undefined {
  const { bus, name } = splitKey(key);
  const text = sysfs.read(layout.attr(bus, name, 'sriov_numvfs'));
  return text === null ? undefined : Number(text);
}

export interface Io {
  readonly sysfs: SysfsPort;
  /** One bounded write on behalf of `device`; rejects with an explained ApplyError. */
  write(path: string, value: string, w: WriteOp, device?: DeviceKey): Promise<void>;
  loadModule(module: string): Promise<void>;
}

export function makeIo(sysfs: SysfsPort, modules: ModulePort, timeoutMs: number): Io {
  return {
    sysfs,
    async write(path, value, w, device) {
      // Known before the write, for the hang message: what holds a device is judged by its driver.
      const driver = device === undefined ? null : readDriver(sysfs, device);
      try {
        await bounded(() => sysfs.write(path, value), timeoutMs);
      } catch (err) {
        if (err instanceof Timeout) throw new ApplyError(explainHang(w, timeoutMs, driver), { device, hung: true });
        if (!(err instanceof KernelWriteError)) throw new ApplyError(`${describe(w)} failed: ${(err as Error).message}`, { device });
        // (An mdev being created does not exist yet: its absence explains nothing.)
        if (device !== undefined && w.op !== 'mdev-create' && !deviceExists(sysfs, device)) {
          throw new ApplyError(`${explainVanished(splitKey(device).name, describe(w))} (${err.code})`, {
            device,
            errno: err.code,
            vanished: true,
          });
        }
        throw new ApplyError(explainError(w, err.code), { device, errno: err.code });
      }
    },
    async loadModule(module) {
      const w: WriteOp = { op: 'module', module };
      try {
        await bounded(() => modules.load(module), timeoutMs);
      } catch (err) {
        if (err instanceof Timeout) throw new ApplyError(explainHang(w, timeoutMs, null), { hung: true });
        throw new ApplyError(`loading module ${module} failed: ${(err as Error).message}`);
      }
    },
  };
}
