// driverctl(8) persists each override it sets as /etc/driverctl.d/<bus>-<device>, holding the
// driver name, and re-applies them at boot. `export` reads them so a host configured with driverctl
// can move to vfio-reconcile knowing which overrides driverctl would keep putting back.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceKey, isDeviceName, isDriverName } from '../domain/names.js';
import { BUSES, type Bus, type DeviceKey } from '../domain/types.js';

export interface DriverctlOverride {
  driver: string;
  /** The file it is persisted in. */
  file: string;
}

/** Device -> persisted override; {} when driverctl has none (or is not installed). */
export function readDriverctl(etc: string): Record<DeviceKey, DriverctlOverride> {
  const dir = join(etc, 'driverctl.d');
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return {};
  }
  const out: Record<DeviceKey, DriverctlOverride> = {};
  for (const name of names) {
    const dash = name.indexOf('-');
    const bus = name.slice(0, dash) as Bus;
    const device = name.slice(dash + 1);
    if (dash <= 0 || !BUSES.includes(bus) || !isDeviceName(bus, device)) continue;
    let driver: string;
    try {
      driver = readFileSync(join(dir, name), 'utf8').trim();
    } catch {
      continue;
    }
    if (isDriverName(driver)) out[deviceKey(bus, device)] = { driver, file: join(dir, name) };
  }
  return out;
}
