// The one I/O port through which vfio-reconcile reads and changes driver bindings.
// Paths are relative to the sysfs root ("bus/pci/devices/0000:01:00.0/driver_override"), never
// absolute: an implementation joins them onto its root, so nothing can escape it.
// Implementations: fs-port.ts (a real tree under --sysfs-root) and kernel/model.ts (in memory,
// with the kernel's bind semantics and fault injection).

import type { ModuleAlias } from '../domain/types.js';

export interface SysfsPort {
  /** Where this port's paths live, for messages (`/sys`, a temp dir, `kernel-model`). */
  readonly root: string;
  /** File contents with one trailing newline removed, or null when absent or unreadable. */
  read(path: string): string | null;
  /** The raw target of a symlink (`../../../bus/pci/drivers/e1000e`), or null when not a link. */
  readLink(path: string): string | null;
  /** Entry names of a directory, sorted; [] when absent. */
  list(path: string): string[];
  /**
   * One write(2) of `value` to an attribute. Rejects with KernelWriteError carrying the errno
   * name when the kernel refuses. May block for as long as the kernel does (unbind of a busy
   * device): callers that must stay responsive bound it themselves.
   */
  write(path: string, value: string): Promise<void>;
}

/** Host facts outside /sys that binding needs: kernel modules. */
export interface ModulePort {
  /** Loadable module names (underscored), or null when no module list is known. */
  available(): string[] | null;
  /** `modprobe NAME`; rejects with a message naming the module when it fails. */
  load(module: string): Promise<void>;
  /**
   * The `vfio_pci:` aliases of modules.alias (VFIO variant drivers), or null when unknown. Optional:
   * a port without it knows none, and `driver: vfio` then picks vfio-pci.
   */
  vfioAliases?(): ModuleAlias[] | null;
}
