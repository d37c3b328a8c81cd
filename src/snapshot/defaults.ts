// What driver the kernel would bind to each device with no driver_override: what a `default`
// target leads to, which the kernel model must know to simulate one. Two sources of evidence:
// - the device sits on a host driver without an override: the kernel chose it;
// - modules.alias (and modules.builtin.modinfo for built-in drivers): the first module whose
//   alias glob matches the device's modalias, as `modprobe $MODALIAS` resolves it.
// Neither knows about blacklists, softdeps or vfio-pci `ids=` in /etc/modprobe.d.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDriverName, isModuleName, isVfioDriver, moduleNameOf } from '../domain/names.js';
import { aliasRegExp } from '../desire/variant.js';
import type { Bus, DeviceKey, Host, ModuleAlias } from '../domain/types.js';
import { guessedDriver } from '../kernel/from-host.js';
import { layout, linkName } from '../sysfs/layout.js';
import type { SysfsPort } from '../sysfs/port.js';
import type { DefaultDriver } from './document.js';

/** `alias <glob> <module>` lines; comments and anything else are skipped. */
export function parseModulesAlias(text: string): ModuleAlias[] {
  const out: ModuleAlias[] = [];
  for (const line of text.split('\n')) {
    const m = /^alias\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (m && isModuleName(m[2]!)) out.push({ pattern: m[1]!, module: moduleNameOf(m[2]!) });
  }
  return out;
}

/** modules.builtin.modinfo: NUL-separated `module.key=value`; the `alias` keys of built-in drivers. */
export function parseBuiltinModinfo(text: string): ModuleAlias[] {
  const out: ModuleAlias[] = [];
  for (const entry of text.split('\0')) {
    const m = /^([^.=]+)\.alias=(.+)$/.exec(entry);
    if (m && isModuleName(m[1]!)) out.push({ pattern: m[2]!, module: moduleNameOf(m[1]!) });
  }
  return out;
}

/** A host's aliases, looked up by modalias. Tens of thousands of globs: filter by literal prefix first. */
export class AliasTable {
  private readonly entries: { prefix: string; alias: ModuleAlias; re?: RegExp }[];

  constructor(aliases: ModuleAlias[]) {
    this.entries = aliases.map((alias) => ({ prefix: alias.pattern.split(/[*?[]/, 1)[0]!, alias }));
  }

  /** Modules whose alias matches, in file order, each once. */
  modules(modalias: string): string[] {
    const out: string[] = [];
    for (const e of this.entries) {
      if (!modalias.startsWith(e.prefix) || out.includes(e.alias.module)) continue;
      e.re ??= aliasRegExp(e.alias.pattern);
      if (e.re.test(modalias)) out.push(e.alias.module);
    }
    return out;
  }
}

function readOptional(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The aliases under a kernel's module directory (`/lib/modules/<release>`), or null without modules.alias. */
export function readAliasTable(libModules: string): AliasTable | null {
  const aliases = readOptional(join(libModules, 'modules.alias'));
  if (aliases === null) return null;
  const builtin = readOptional(join(libModules, 'modules.builtin.modinfo')) ?? '';
  return new AliasTable([...parseModulesAlias(aliases), ...parseBuiltinModinfo(builtin)]);
}

/**
 * Which driver a module registers on a bus. A loaded module says so itself (`module/<m>/drivers/
 * pci:<driver>`); otherwise a registered driver of that module name, else the usual naming
 * (`vfio_pci` registers `vfio-pci`, most others their own name).
 */
export function moduleDrivers(sysfs: SysfsPort, host: Host): (bus: Bus, module: string) => string {
  return (bus, module) => {
    const own = sysfs.list(`${layout.loadedModules}/${module}/drivers`).find((e) => e.startsWith(`${bus}:`));
    if (own && isDriverName(own.slice(bus.length + 1))) return own.slice(bus.length + 1);
    return host.drivers[bus].find((d) => moduleNameOf(d) === module) ?? guessedDriver(module).name;
  };
}

/** The module a registered driver belongs to (its `module` link), or null for one without. */
function boundModule(sysfs: SysfsPort, bus: Bus, driver: string): string | null {
  if (!isDriverName(driver)) return null;
  const module = linkName(sysfs.readLink(`${layout.busDrivers(bus)}/${driver}/module`));
  return module !== null && isModuleName(module) ? module : null;
}

export function defaultDrivers(
  host: Host,
  sysfs: SysfsPort,
  aliases: AliasTable | null,
): Record<DeviceKey, DefaultDriver> {
  const driverOf = moduleDrivers(sysfs, host);
  const out: Record<DeviceKey, DefaultDriver> = {};
  for (const d of host.devices) {
    const candidates = d.modalias && aliases ? aliases.modules(d.modalias) : [];
    if (d.override === null && d.driver !== null && !isVfioDriver(d.driver)) {
      out[d.key] = { driver: d.driver, module: boundModule(sysfs, d.bus, d.driver), source: 'bound', candidates };
    } else if (candidates.length > 0) {
      out[d.key] = { driver: driverOf(d.bus, candidates[0]!), module: candidates[0]!, source: 'modules.alias', candidates };
    } else {
      out[d.key] = { driver: null, module: null, source: 'unknown', candidates };
    }
  }
  return out;
}
