// The ports a command runs against, built from its flags: the sysfs tree under --sysfs-root, the
// module source that goes with it, and the host's name and kernel release. Tests inject a kernel
// model here (injectEnv) instead of stubbing anything below.

import { realpathSync, statSync } from 'node:fs';
import { hostname as osHostname, release } from 'node:os';
import { join } from 'node:path';
import { VrError } from '../domain/errors.js';
import { liveHostEnv, type HostEnv } from '../observe/host-env.js';
import { runningKernelModules } from '../observe/modules.js';
import { DEFAULT_WRITE_TIMEOUT_MS } from '../apply/executor.js';
import { openSnapshotEnv } from '../snapshot/env.js';
import type { LoadedSnapshot } from '../snapshot/load.js';
import type { StateHost } from '../state/host.js';
import { FsSysfsPort } from '../sysfs/fs-port.js';
import { WriteWorker } from '../sysfs/write-worker.js';
import { pciIdsPaths, pciNames, type Names } from './names.js';
import type { ModulePort, SysfsPort } from '../sysfs/port.js';

export interface RunEnv {
  sysfs: SysfsPort;
  modules: ModulePort;
  /** Matched against a state file's `hosts:` globs. */
  hostname: string;
  /**
   * DMI product name for a state file's `dmi:` when it comes from elsewhere than the sysfs tree
   * (a snapshot); absent: read from `sysfs` (fleet/identity.ts).
   */
  dmiProduct?: string;
  /** machine-id for a state file's `machineIds:` (`--machine-id`, a snapshot); absent: `hostFiles.etc`/machine-id. */
  machineId?: string;
  /** Decides the IOMMU-group viability rule; unknown means the modern (5.19+) one. */
  kernelRelease?: string;
  /** pci.ids names for human output; absent without the database. */
  names?: Names;
  /**
   * Where the in-use guards read mounts, interfaces and open files. Only for the live /sys: /proc and
   * `ip` describe this machine, not a copied tree, whose plan then checks boot VGA only.
   */
  usage?: HostEnv;
  /** Boot id, clock and process table for the state dir's lock and journal; the live machine's when absent. */
  stateHost?: StateHost;
  /** Host files outside /sys (machine-id, modules.alias, driverctl.d). Only for the live /sys, like `usage`. */
  hostFiles?: HostFiles;
  /** A host read from a snapshot file (`--snapshot`): observeHost returns it instead of reading sysfs. */
  snapshot?: LoadedSnapshot;
}

export interface HostFiles {
  /** `/etc`: machine-id, driverctl.d. */
  etc: string;
  /** The running kernel's module directory, `/lib/modules/<release>`: modules.alias. */
  libModules: string;
}

export interface EnvRequest {
  sysfsRoot: string;
  /** `--hostname`: plan as if on that host. */
  hostname?: string;
  /** `--snapshot`: a snapshot file instead of the sysfs root (nothing of this machine is read). */
  snapshot?: string;
  /** `--machine-id`: plan as if on the machine with that id. */
  machineId?: string;
  /** `--write-timeout` of a command that writes: how long a write may block before its worker process is abandoned. */
  writeTimeoutMs?: number;
}

export type EnvFactory = (req: EnvRequest) => RunEnv;

let injected: EnvFactory | null = null;

/** Test seam: every command builds its ports with `factory` until `injectEnv(null)`. */
export function injectEnv(factory: EnvFactory | null): void {
  injected = factory;
}

export function openEnv(req: EnvRequest): RunEnv {
  if (req.snapshot !== undefined) return openSnapshotEnv(req.snapshot, req);
  if (injected) return injected(req);
  const root = checkedRoot(req.sysfsRoot);
  const live = root === '/sys';
  const names = pciNames(pciIdsPaths(process.env));
  // Writes go through a child process, so one the kernel blocks cannot keep the tool from exiting.
  const sysfs = new FsSysfsPort(root, { writer: new WriteWorker({ holdMs: req.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, warm: req.writeTimeoutMs !== undefined }) });
  return {
    sysfs,
    modules: live ? runningKernelModules() : new DetachedModules(req.sysfsRoot),
    hostname: req.hostname ?? osHostname(),
    ...(req.machineId !== undefined ? { machineId: req.machineId } : {}),
    ...(live ? { kernelRelease: release(), usage: liveHostEnv(sysfs), hostFiles: { etc: '/etc', libModules: join('/lib/modules', release()) } } : {}),
    ...(names ? { names } : {}),
  };
}

/**
 * Commands that write need root: sysfs attributes, modprobe and the state dir are root's. Checked
 * before the lock or any write, so a user who forgot sudo gets one clear line, not an EACCES.
 */
export function requireRoot(command: string, uid: number | undefined = process.getuid?.()): void {
  if (uid === undefined || uid === 0) return;
  throw new VrError('environment', `${command} needs root: it writes sysfs attributes, loads modules and keeps a journal in the state dir`, [
    { message: `running as uid ${uid}`, hint: `run it as root (sudo vfio-reconcile ${command} ...), or use \`plan\` to see what it would do` },
  ]);
}

function checkedRoot(root: string): string {
  const hint = 'point --sysfs-root (or VFIO_RECONCILE_SYSFS_ROOT) at /sys or at a copy of a sysfs tree';
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    throw new VrError('environment', `sysfs root ${root} does not exist`, [{ message: `no such directory: ${root}`, hint }]);
  }
  if (!isDir(join(real, 'bus'))) {
    throw new VrError('environment', `${root} is not a sysfs tree: it has no bus/ directory`, [{ message: `no ${join(root, 'bus')}`, hint }]);
  }
  return real;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Modules for a sysfs tree that is not the running kernel's: no module list is known, and modprobe
 * would change the real machine, not the tree, so loading is refused.
 */
class DetachedModules implements ModulePort {
  constructor(private readonly root: string) {}
  available(): null {
    return null;
  }
  load(module: string): Promise<void> {
    return Promise.reject(new Error(`not loading module ${module}: --sysfs-root ${this.root} is not the running kernel's /sys`));
  }
}
