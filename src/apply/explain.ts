// What a refused or stuck sysfs write means for that device and that operation (kernel-abi.md
// section 11). The same errno means different things on different attributes (ENODEV from
// `unbind` is "not bound there", from `bind` "this driver does not accept the device"), so the
// table is keyed by operation and errno. A user should never be left with a bare errno.

import { isVfioDriver } from '../domain/names.js';

/** One write the executor makes, with the facts a message needs. Device names are kernel names. */
export type WriteOp =
  | { op: 'numvfs'; device: string; to: number; totalVfs?: number }
  | { op: 'autoprobe'; device: string; to: boolean }
  | { op: 'mdev-create'; uuid: string; parent: string; type: string; available: string | null }
  | { op: 'mdev-remove'; uuid: string }
  | { op: 'mdev-attr'; uuid: string; attr: string }
  | { op: 'override'; device: string; value: string | null }
  | { op: 'unbind'; device: string; driver: string }
  | { op: 'bind'; device: string; driver: string }
  | { op: 'probe'; device: string; override: string | null }
  | { op: 'module'; module: string };

type Table = { [K in WriteOp['op']]: Record<string, (w: Extract<WriteOp, { op: K }>) => string> };

const STRERROR: Record<string, string> = {
  ENODEV: 'No such device',
  EBUSY: 'Device or resource busy',
  EINVAL: 'Invalid argument',
  EEXIST: 'File exists',
  ENOMEM: 'Cannot allocate memory',
  EAGAIN: 'Resource temporarily unavailable',
  ENOENT: 'No such file or directory',
  ERANGE: 'Numerical result out of range',
  EUSERS: 'Too many users',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EIO: 'Input/output error',
};

const vfioRefusal = (driver: string, device: string) =>
  `${driver} refused ${device} (a bridge, a denylisted device, or no IOMMU group: ` +
  `is the IOMMU enabled, e.g. intel_iommu=on / amd_iommu=on?)`;

const TABLE: Table = {
  numvfs: {
    EBUSY: (w) => `${w.device} already has VFs enabled; sriov_numvfs must go to 0 before it can be set to ${w.to}`,
    ERANGE: (w) =>
      `${w.to} VFs is more than ${w.device} supports` + (w.totalVfs !== undefined ? ` (sriov_totalvfs is ${w.totalVfs})` : ''),
    ENOENT: (w) =>
      `${w.device} cannot create VFs now: it has no driver, or its driver has no SR-IOV support ` +
      `(vfio-pci needs enable_sriov=1)`,
    EINVAL: (w) => `the kernel rejected ${w.to} as a VF count for ${w.device}`,
  },
  autoprobe: {
    EINVAL: (w) => `the kernel rejected ${w.to ? 1 : 0} as sriov_drivers_autoprobe of ${w.device}`,
  },
  'mdev-create': {
    EINVAL: (w) => `the kernel rejected ${w.uuid} as an mdev UUID on ${w.parent} (it wants 36 characters, 8-4-4-4-12 hex)`,
    EEXIST: (w) => `an mdev with UUID ${w.uuid} already exists (on ${w.parent} or another parent); UUIDs are host-wide`,
    EUSERS: (w) =>
      `no instance of mdev type ${w.type} is left on ${w.parent}` +
      (w.available !== null ? ` (available_instances read ${w.available} before the write; types that share the parent's resources use each other's up)` : ''),
    ENODEV: (w) => `${w.parent} is going away (its driver is unregistering it), so it creates no mdev`,
  },
  'mdev-remove': {
    EAGAIN: (w) => `mdev ${w.uuid} is still being created; try again`,
    ENODEV: (w) => `mdev ${w.uuid} is already gone`,
  },
  'mdev-attr': {
    EINVAL: (w) => `the parent driver rejected the value written to ${w.attr} of mdev ${w.uuid}`,
  },
  override: {
    EINVAL: (w) => `the kernel rejected ${JSON.stringify(w.value)} as driver_override of ${w.device} (too long)`,
    ENOMEM: (w) => `out of memory setting driver_override of ${w.device}`,
  },
  unbind: {
    ENODEV: (w) => `${w.device} is not bound to ${w.driver}`,
  },
  bind: {
    ENODEV: (w) =>
      `driver ${w.driver} does not accept device ${w.device} (its driver_override names another driver, ` +
      `or no ID of ${w.driver} matches it; a VF also needs an override when its PF has autoprobe off)`,
    EBUSY: (w) =>
      isVfioDriver(w.driver)
        ? `${w.driver} cannot take ${w.device}: it is already bound, or it is a PF with VFs enabled`
        : `${w.driver} cannot take ${w.device}: it is already bound, or its IOMMU group is owned by a VFIO user (a running VM?)`,
    EINVAL: (w) => (isVfioDriver(w.driver) ? vfioRefusal(w.driver, w.device) : `${w.driver} refused ${w.device}; see \`dmesg\``),
    ENOENT: (w) =>
      w.driver === 'vfio-platform' || w.driver === 'vfio-amba'
        ? `${w.driver} found no reset handler for ${w.device} (load its vfio-reset module, or set ` +
          `${w.driver.replace('-', '_')}.reset_required=0)`
        : `driver ${w.driver} has no bind attribute (not loaded, or it does not allow manual binding)`,
    EAGAIN: (w) =>
      `probe of ${w.driver} on ${w.device} was deferred (a supplier it needs is not ready); it may bind later by itself`,
    EIO: (w) =>
      `${w.driver}'s probe of ${w.device} failed with an I/O error (the driver does not support this device?); see \`dmesg\``,
  },
  probe: {
    ENODEV: (w) => `the bus does not know device ${w.device}`,
    EINVAL: (w) =>
      w.override !== null && isVfioDriver(w.override)
        ? vfioRefusal(w.override, w.device)
        : `attaching a driver to ${w.device} failed (a supplier it depends on is not ready?); see \`dmesg\``,
  },
  module: {},
};

const ANY_OP: Record<string, (what: string) => string> = {
  EACCES: (what) => `permission denied ${what}: run as root`,
  EPERM: (what) => `not permitted ${what}: run as root (CAP_SYS_ADMIN)`,
};

/** An override as the kernel shows it: unset reads `(null)`. */
export function showOverride(value: string | null): string {
  return value === null ? '(null)' : JSON.stringify(value);
}

/** The write in words: `unbinding 0000:01:00.0 from nvidia`. */
export function describe(w: WriteOp): string {
  switch (w.op) {
    case 'numvfs':
      return `setting sriov_numvfs of ${w.device} to ${w.to}`;
    case 'autoprobe':
      return `setting sriov_drivers_autoprobe of ${w.device} to ${w.to ? 1 : 0}`;
    case 'mdev-create':
      return `creating mdev ${w.uuid} (${w.type} on ${w.parent})`;
    case 'mdev-remove':
      return `removing mdev ${w.uuid}`;
    case 'mdev-attr':
      return `writing ${w.attr} of mdev ${w.uuid}`;
    case 'override':
      return w.value === null ? `clearing driver_override of ${w.device}` : `setting driver_override of ${w.device} to ${w.value}`;
    case 'unbind':
      return `unbinding ${w.device} from ${w.driver}`;
    case 'bind':
      return `binding ${w.device} to ${w.driver}`;
    case 'probe':
      return `probing ${w.device}`;
    case 'module':
      return `loading module ${w.module}`;
  }
}

/** The meaning of `errno` for this write, ending with the errno name so it can be looked up. */
export function explainError(w: WriteOp, errno: string): string {
  const specific = (TABLE[w.op] as Record<string, (w: WriteOp) => string>)[errno];
  const text = specific ? specific(w) : ANY_OP[errno]?.(describe(w)) ?? `${describe(w)} failed: ${STRERROR[errno] ?? 'kernel error'}`;
  return `${text} (${errno})`;
}

/** What usually keeps a device busy, judged from the driver that holds it. */
export function likelyHolder(driver: string | null): string {
  if (driver !== null && isVfioDriver(driver)) {
    return 'a process using it through VFIO (a running VM: look for /dev/vfio/<group> in /proc/*/fd)';
  }
  if (driver !== null && /^snd/.test(driver)) return 'an ALSA client (a media player, PipeWire or PulseAudio)';
  if (driver !== null && /^(nvme|ahci|virtio[-_]blk|sd|usb-storage|megaraid|mpt3sas)/.test(driver)) {
    return 'a mounted filesystem, swap, or an LVM/MD volume on it';
  }
  return 'a process using it through VFIO (a running VM), a mounted filesystem on it, or an ALSA client';
}

/** A write that did not return in time: what is stuck, the likely cause, and what that leaves. */
export function explainHang(w: WriteOp, ms: number, driver: string | null): string {
  const secs = ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
  const head = `${describe(w)} did not return within ${secs}`;
  if (w.op === 'module') return `${head}; modprobe may still be running`;
  if (w.op === 'mdev-create' || w.op === 'mdev-remove' || w.op === 'mdev-attr') {
    const why = w.op === 'mdev-remove' ? `a process holds mdev ${w.uuid} through VFIO (a running VM), and the removal waits until it lets go` : 'the parent driver has not finished';
    return `${head}: ${why}. The write cannot be cancelled: mdev ${w.uuid} is in an unknown state until it returns.`;
  }
  const cause =
    w.op === 'unbind'
      ? `${w.driver} waits for ${w.device} to be released; usually it is held by ${likelyHolder(w.driver)}`
      : w.op === 'numvfs' && w.to === 0
        ? `removing the VFs of ${w.device} waits until no VF is in use (a VM holding a VF through VFIO?)`
        : `the kernel holds the device lock of ${w.device} (a probe or remove still running` +
          (driver ? `; ${driver} may be held by ${likelyHolder(driver)}` : '') +
          ')';
  return `${head}: ${cause}. The write cannot be cancelled: ${w.device} is in an unknown state until it returns.`;
}

/** `during`: what the executor was doing, e.g. describe(w) or `verifying`. */
export function explainVanished(device: string, during: string): string {
  return `device ${device} disappeared while ${during} (hot-unplug?)`;
}

/** drivers_probe succeeds even when nothing bound (kernel-abi.md section 2): the read-back tells. */
export function explainSilentProbe(device: string, wanted: string, got: string | null): string {
  return got === null
    ? `probe of ${wanted} on ${device} failed: the kernel accepted the probe but bound no driver; see \`dmesg\``
    : `probe of ${wanted} on ${device} failed: the kernel bound ${got} instead`;
}
