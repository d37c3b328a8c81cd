// A kernel model rebuilt from an observed Host, for offline simulation (`--snapshot`). A Host says
// what is bound, not why, so some things are assumed:
// - each bound device matches its current driver's ID table (a rebind to `default` returns it);
// - VFIO drivers match by driver_override only, as on the real kernel;
// - a registered driver belongs to the loaded module of the same name, if any;
// - a PF's driver supports sriov_numvfs, except a vfio driver on a PF with no VFs (enable_sriov=0);
// - an unloaded module registers one driver named after it (`vfio_pci` -> `vfio-pci` for the
//   VFIO family and pci-stub, otherwise the module name), on the pci bus unless it is vfio_platform;
// - where the caller knows a device's default driver (a snapshot's modules.alias evidence), that
//   driver's match table covers the device, so clearing an override predicts the right driver.

import { isVfioDriver, moduleNameOf } from '../domain/names.js';
import { BUSES, type Device, type Host } from '../domain/types.js';
import { platformBaseName } from './match.js';
import type { KernelModel } from './model.js';

/** A driver the kernel would bind to a device with no override, and the module that registers it. */
export interface DefaultBinding {
  driver: string;
  module: string | null;
}

const DASHED = /^(vfio_|pci_stub$)|_vfio_pci$/;

/** The driver an unloaded module is assumed to register. */
export function guessedDriver(module: string): { bus: 'pci' | 'platform'; name: string } {
  const name = DASHED.test(module) ? module.replace(/_/g, '-') : module;
  return { bus: module === 'vfio_platform' ? 'platform' : 'pci', name };
}

/** Routing ID (bus * 256 + devfn) of a PCI address. */
function rid(address: string): number {
  return parseInt(address.slice(5, 7), 16) * 256 + parseInt(address.slice(8, 10), 16) * 8 + Number(address[11]);
}

export function buildFromHost(k: KernelModel, host: Host, defaults: Record<string, DefaultBinding> = {}): void {
  const loaded = new Set(host.modules.loaded);
  for (const m of new Set([...host.modules.available, ...host.modules.loaded])) k.module(m, { loaded: loaded.has(m) });

  const sriovDrivers = new Set(
    host.devices.filter((d) => d.sriov && d.driver !== null && (d.sriov.numVfs > 0 || !isVfioDriver(d.driver))).map((d) => d.driver),
  );
  const registered = new Set<string>();
  for (const bus of BUSES) {
    for (const name of host.drivers[bus]) {
      const module = moduleNameOf(name);
      k.driver(bus, name, { module: loaded.has(module) ? module : null, sriov: bus === 'pci' && sriovDrivers.has(name) });
      registered.add(`${bus}/${name}`);
    }
  }
  for (const m of host.modules.available) {
    const { bus, name } = guessedDriver(m);
    if (!loaded.has(m) && !registered.has(`${bus}/${name}`)) k.driver(bus, name, { module: m, loaded: false });
  }

  for (const d of host.devices) {
    const def = defaults[d.key];
    if (def && !k.state.driver(d.bus, def.driver)) {
      k.driver(d.bus, def.driver, { module: def.module, loaded: false });
    }
  }

  const byKey = new Map(host.devices.map((d) => [d.key, d]));
  // PFs before their VFs, so each VF can attach to its PF in virtfn order.
  const vfs = host.devices.filter((d) => d.physfn && byKey.has(d.physfn));
  const vfKeys = new Set(vfs.map((d) => d.key));
  for (const d of host.devices) {
    if (vfKeys.has(d.key)) continue;
    if (d.bus === 'platform') {
      k.platform(d.name, {
        driver: d.driver,
        override: d.override,
        group: d.iommuGroup,
        ...(d.compatible ? { compatible: d.compatible } : {}),
        ...(d.modalias !== undefined ? { modalias: d.modalias } : {}),
      });
      continue;
    }
    k.pci(d.name, { ...pciSpec(d), ...(d.sriov ? { sriov: sriovSpec(d, byKey) } : {}) });
    for (const vfKey of d.virtfns ?? []) {
      const vf = byKey.get(vfKey);
      if (vf) k.pci(vf.name, { ...pciSpec(vf), physfn: d.name });
    }
  }
  teachDefaults(k, host, defaults);
}

/** Extend a default driver's match table to its device: the PCI ids, or the first compatible / base name. */
function teachDefaults(k: KernelModel, host: Host, defaults: Record<string, DefaultBinding>): void {
  for (const d of host.devices) {
    const drv = defaults[d.key] && k.state.driver(d.bus, defaults[d.key]!.driver);
    if (!drv || drv.vfio) continue;
    if (d.bus === 'pci') {
      drv.ids.push({
        vendor: d.vendor ?? 'ffff',
        device: d.device ?? 'ffff',
        ...(d.subsystemVendor !== undefined ? { subsystemVendor: d.subsystemVendor } : {}),
        ...(d.subsystemDevice !== undefined ? { subsystemDevice: d.subsystemDevice } : {}),
      });
    } else if (d.compatible?.length) drv.compatible.push(d.compatible[0]!);
    else drv.names.push(platformBaseName(d.name));
  }
}

function pciSpec(d: Device) {
  return {
    vendor: d.vendor ?? 'ffff',
    device: d.device ?? 'ffff',
    driver: d.driver,
    override: d.override,
    group: d.iommuGroup,
    ...(d.subsystemVendor !== undefined ? { subsystemVendor: d.subsystemVendor } : {}),
    ...(d.subsystemDevice !== undefined ? { subsystemDevice: d.subsystemDevice } : {}),
    ...(d.class !== undefined ? { class: d.class } : {}),
    ...(d.modalias !== undefined ? { modalias: d.modalias } : {}),
    ...(d.numaNode !== undefined ? { numa: d.numaNode } : {}),
    ...(d.bootVga ? { bootVga: true } : {}),
  };
}

function sriovSpec(pf: Device, byKey: Map<string, Device>) {
  const vfs = (pf.virtfns ?? []).map((key) => byKey.get(key)).filter((v): v is Device => v !== undefined);
  // sriov_offset/sriov_stride when the host showed them, else what the existing VFs tell.
  const first = pf.sriov!.offset ?? (vfs[0] ? rid(vfs[0].name) - rid(pf.name) : 1);
  const stride = pf.sriov!.stride ?? (vfs[1] ? rid(vfs[1].name) - rid(vfs[0]!.name) : 1);
  return {
    totalVfs: pf.sriov!.totalVfs,
    autoprobe: pf.sriov!.driversAutoprobe,
    vfDevice: pf.sriov!.vfDevice ?? vfs[0]?.device ?? pf.device ?? 'ffff',
    offset: first,
    stride,
  };
}
