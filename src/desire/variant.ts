// `driver: vfio`: the most specific VFIO driver for one device (kernel-abi.md section 3). Variant
// drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...) publish `vfio_pci:` aliases for the devices they
// support; the device's modalias with `pci:` replaced by `vfio_pci:` is matched against them, the
// alias with the fewest wildcards wins, and without a match it is vfio-pci.

import { moduleNameOf } from '../domain/names.js';
import type { Device, Host, ModuleAlias, Target } from '../domain/types.js';

/** fnmatch(3) without flags, as modprobe matches aliases: `*`, `?` and bracket expressions. */
export function aliasRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const close = c === '[' ? glob.indexOf(']', i + 2) : -1;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (close > 0) {
      re += `[${glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

const wildcards = (pattern: string): number => (pattern.match(/[*?[]/g) ?? []).length;

/** `pci:v...` as vfio_pci aliases spell it, synthesised from the ids when the device shows none. */
export function vfioModalias(d: Device): string {
  if (d.modalias?.startsWith('pci:')) return `vfio_pci:${d.modalias.slice(4)}`;
  const hex8 = (v: string | undefined) => (v ?? '0').toUpperCase().padStart(8, '0');
  const cls = (d.class ?? '000000').toUpperCase();
  return `vfio_pci:v${hex8(d.vendor)}d${hex8(d.device)}sv${hex8(d.subsystemVendor)}sd${hex8(d.subsystemDevice)}bc${cls.slice(0, 2)}sc${cls.slice(2, 4)}i${cls.slice(4, 6)}`;
}

/** The driver a module registers: variant drivers are named after their module; vfio_pci is vfio-pci. */
function driverOf(module: string, host: Host): string {
  const registered = host.drivers.pci.find((d) => moduleNameOf(d) === module);
  if (registered) return registered;
  return module === 'vfio_pci' ? 'vfio-pci' : module;
}

/** The most specific matching variant alias, ties broken by length then module name (deterministic). */
function bestAlias(aliases: ModuleAlias[], modalias: string): ModuleAlias | undefined {
  const matching = aliases.filter((a) => a.module !== 'vfio_pci' && aliasRegExp(a.pattern).test(modalias));
  matching.sort((a, b) => wildcards(a.pattern) - wildcards(b.pattern) || b.pattern.length - a.pattern.length || (a.module < b.module ? -1 : 1));
  return matching[0];
}

/** The concrete target `driver: vfio` means for `device`, with the reason the plan shows. */
export function chooseVfioDriver(device: Device, host: Host): Extract<Target, { kind: 'driver' }> {
  if (device.bus === 'platform') return { kind: 'driver', driver: 'vfio-platform', chosen: 'vfio-platform: the VFIO driver for platform devices' };
  const modalias = vfioModalias(device);
  const aliases = host.modules.vfioAliases;
  if (aliases === undefined) {
    return { kind: 'driver', driver: 'vfio-pci', chosen: 'vfio-pci: no modules.alias was read for this kernel, so no variant driver could be matched' };
  }
  const best = bestAlias(aliases, modalias);
  if (!best) return { kind: 'driver', driver: 'vfio-pci', chosen: `vfio-pci: no VFIO variant driver in modules.alias matches ${modalias}` };
  const driver = driverOf(best.module, host);
  return { kind: 'driver', driver, chosen: `${driver}: modules.alias ${best.pattern}` };
}
