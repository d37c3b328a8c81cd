// The host's kernel modules: what can be loaded (from <lib/modules>/<release>/modules.dep and
// modules.builtin) and loading one with modprobe. The list decides whether a plan can promise a
// `load-module` step; without the directory the list is unknown (null), not empty.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { isModuleName, moduleNameOf } from '../domain/names.js';
import type { ModuleAlias } from '../domain/types.js';
import type { ModulePort } from '../sysfs/port.js';

/** `kernel/drivers/vfio/pci/vfio-pci.ko.xz` -> `vfio_pci`. */
export function moduleNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return moduleNameOf(base.replace(/\.ko(\.(xz|zst|gz))?$/, ''));
}

function readLines(file: string): string[] | null {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return null;
  }
}

export class SystemModules implements ModulePort {
  private readonly libModules: string;
  private readonly modprobe: string;
  private names: string[] | null | undefined;
  private aliases: ModuleAlias[] | null | undefined;

  /** `libModules`: the release's directory, e.g. /lib/modules/6.12.117-amd64. */
  constructor(opts: { libModules: string; modprobe?: string }) {
    this.libModules = opts.libModules;
    this.modprobe = opts.modprobe ?? 'modprobe';
  }

  available(): string[] | null {
    if (this.names !== undefined) return this.names;
    const dep = readLines(join(this.libModules, 'modules.dep'));
    if (dep === null) return (this.names = null);
    const names = new Set<string>();
    for (const line of dep) {
      const colon = line.indexOf(':');
      if (colon > 0) names.add(moduleNameFromPath(line.slice(0, colon)));
    }
    // Built-in modules never need loading, but a plan may name them: modprobe accepts them.
    for (const line of readLines(join(this.libModules, 'modules.builtin')) ?? []) {
      if (line.trim()) names.add(moduleNameFromPath(line.trim()));
    }
    return (this.names = [...names].sort());
  }

  /** `alias vfio_pci:<glob> <module>` lines of modules.alias: what `driver: vfio` chooses from. */
  vfioAliases(): ModuleAlias[] | null {
    if (this.aliases !== undefined) return this.aliases;
    const lines = readLines(join(this.libModules, 'modules.alias'));
    if (lines === null) return (this.aliases = null);
    const out: ModuleAlias[] = [];
    for (const line of lines) {
      const m = /^alias\s+(vfio_pci:\S+)\s+(\S+)\s*$/.exec(line);
      if (m && isModuleName(m[2]!)) out.push({ pattern: m[1]!, module: moduleNameOf(m[2]!) });
    }
    return (this.aliases = out);
  }

  load(module: string): Promise<void> {
    if (!isModuleName(module)) return Promise.reject(new Error(`refusing to modprobe invalid module name ${JSON.stringify(module)}`));
    return new Promise((resolve, reject) => {
      execFile(this.modprobe, [module], (err, _stdout, stderr) => {
        if (!err) return resolve();
        const message = String(stderr).trim();
        reject(new Error(message || `${this.modprobe} ${module}: ${err.message}`));
      });
    });
  }
}

/** The running kernel's modules: /lib/modules/$(uname -r). */
export function runningKernelModules(): SystemModules {
  return new SystemModules({ libModules: join('/lib/modules', release()) });
}
