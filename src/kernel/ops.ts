// What the kernel does when user space writes an attribute or a module registers a driver: the
// store() functions of the attributes the model emulates, device_attach, driver registration and
// SR-IOV VF creation. Each returns an Outcome; blocking and settling are the model's business.

import type { Bus } from '../domain/types.js';
import type { Outcome } from './faults.js';
import { KERNEL_BUG, matches, probeError } from './match.js';
import { MdevOps } from './mdev.js';
import type { KDevice, KDriver, KernelState, KSriov } from './state.js';
import { parseBool, parseU16, storeOverride } from './values.js';

/** `0000:02:00.0` plus a routing-ID distance: where a VF lands. */
function addressPlus(pf: string, distance: number): string {
  const [domain, bus, devfn] = [pf.slice(0, 4), parseInt(pf.slice(5, 7), 16), parseInt(pf.slice(8, 10), 16) * 8 + Number(pf[11])];
  const rid = bus * 256 + devfn + distance;
  const h2 = (n: number): string => n.toString(16).padStart(2, '0');
  return `${domain}:${h2(rid >> 8)}:${h2((rid & 0xff) >> 3)}.${rid & 7}`;
}

export class KernelOps {
  readonly mdev: MdevOps;

  constructor(private readonly s: KernelState) {
    this.mdev = new MdevOps(s);
  }

  /**
   * Register a driver. Loading its module then binds every unbound device it matches, like
   * bus_add_driver; the builder describes a host as it is and never probes.
   */
  register(drv: KDriver, probe: boolean): void {
    drv.registered = true;
    this.s.registered.push(drv);
    if (!probe || !this.s.autoprobe[drv.bus]) return;
    for (const dev of this.s.devices.values()) {
      if (dev.driver === null && matches(drv, dev)) this.tryProbe(drv, dev);
    }
  }

  /** pci_enable_sriov: VFs appear and, like any added device, are offered to drivers. */
  createVfs(pf: KDevice, count: number, probe: boolean): Outcome {
    const sriov = pf.sriov as KSriov;
    for (let i = 0; i < count; i++) {
      const name = addressPlus(pf.name, sriov.offset + i * sriov.stride);
      const vf: KDevice = {
        bus: 'pci',
        name,
        vendor: pf.vendor,
        device: sriov.vfDevice,
        driver: null,
        // vfio-pci as PF driver captures its VFs (5.7+).
        override: pf.driver !== null && this.s.driver('pci', pf.driver)?.vfio ? pf.driver : null,
        // Without an IOMMU (the PF has no group) VFs have none either.
        group: sriov.vfGroups === 'pf' || pf.group === null ? pf.group : this.s.freshGroup(),
        numa: pf.numa,
        bootVga: false,
        parent: null,
        virtfns: [],
        physfn: { pf: pf.name, index: i },
      };
      for (const k of ['subsystemVendor', 'subsystemDevice', 'class', 'revision'] as const) {
        if (pf[k] !== undefined) vf[k] = pf[k];
      }
      this.s.devices.set(`pci/${name}`, vf);
      pf.virtfns.push(name);
    }
    sriov.numVfs = count;
    this.s.changed();
    if (probe) {
      for (const vf of pf.virtfns) {
        const outcome = this.attach(this.s.device('pci', vf)!);
        if (outcome !== 'ok') return outcome;
      }
    }
    return 'ok';
  }

  destroyVfs(pf: KDevice): void {
    for (const vf of pf.virtfns) this.s.devices.delete(`pci/${vf}`);
    pf.virtfns = [];
    pf.sriov!.numVfs = 0;
    this.s.changed();
  }

  /** Probe `drv` on `dev`; binds on success. Returns the probe's errno or null. */
  tryProbe(drv: KDriver, dev: KDevice): string | null {
    const err = probeError(this.s, drv, dev);
    if (err === KERNEL_BUG) {
      this.s.panicked = `kernel BUG in vfio_iommu_group_notifier: ${drv.name} bound to ${dev.name} in group ${dev.group} held by user space`;
      return err;
    }
    if (err === null) {
      dev.driver = drv.name;
      this.s.changed();
    }
    return err;
  }

  /** device_attach: the first registered driver that matches and probes wins; failures are skipped. */
  attach(dev: KDevice): Outcome {
    if (dev.driver !== null) return 'ok';
    for (const drv of this.s.registered) {
      if (!matches(drv, dev)) continue;
      const err = this.tryProbe(drv, dev);
      if (err === KERNEL_BUG) return this.hangForever();
      if (err === null) break;
    }
    return 'ok';
  }

  hangForever(): Outcome {
    return { until: 'panic', then: () => this.hangForever() };
  }

  storeOverride(dev: KDevice, value: string): Outcome {
    const r = storeOverride(value, this.s.version);
    if ('errno' in r) return r;
    dev.override = r.override;
    this.s.changed();
    return 'ok';
  }

  storeUnbind(drv: KDriver, value: string): Outcome {
    const dev = this.s.device(drv.bus, deviceArg(value));
    if (!dev || dev.driver !== drv.name) return { errno: 'ENODEV' };
    // An mdev parent's driver unregisters the parent on remove(), which removes its mdevs first.
    const parents = [...this.s.mdevParents.values()].filter((p) => p.dev === dev && p.driver === drv.name);
    const unbind = (): Outcome => {
      // Every PF driver's remove() disables SR-IOV.
      if (dev.sriov && dev.sriov.numVfs > 0) this.destroyVfs(dev);
      for (const p of parents) this.mdev.parentGone(p);
      dev.driver = null;
      this.s.changed();
      return 'ok';
    };
    if (drv.vfio && dev.group !== null && this.s.held.has(dev.group)) return { until: dev.group, then: unbind };
    const heldMdev = [...this.s.mdevs.values()].find((m) => parents.includes(m.parent) && this.s.held.has(m.group));
    if (heldMdev) return { until: heldMdev.group, then: unbind };
    return unbind();
  }

  storeBind(drv: KDriver, value: string): Outcome {
    const modern = this.s.version.atLeast(5, 14);
    const dev = this.s.device(drv.bus, deviceArg(value));
    if (!dev || !matches(drv, dev)) return { errno: 'ENODEV' };
    if (dev.driver !== null) return { errno: modern ? 'EBUSY' : 'ENODEV' };
    const err = this.tryProbe(drv, dev);
    if (err === KERNEL_BUG) return this.hangForever();
    if (err === null) return 'ok';
    if (!modern) return { errno: 'ENODEV' };
    return { errno: err === 'EPROBE_DEFER' ? 'EAGAIN' : err };
  }

  storeProbe(bus: Bus, value: string): Outcome {
    const dev = this.s.device(bus, deviceArg(value));
    return dev ? this.attach(dev) : { errno: 'ENODEV' };
  }

  storeNumVfs(dev: KDevice, value: string): Outcome {
    const sriov = dev.sriov!;
    const n = parseU16(value);
    if (n === null) return { errno: 'EINVAL' };
    if (n > sriov.totalVfs) return { errno: 'ERANGE' };
    if (n === sriov.numVfs) return 'ok';
    const drv = dev.driver === null ? undefined : this.s.driver('pci', dev.driver);
    if (!drv?.sriov) return { errno: 'ENOENT' };
    if (n === 0) {
      const held = dev.virtfns.map((vf) => this.s.device('pci', vf)?.group).find((g) => g != null && this.s.held.has(g));
      const destroy = (): Outcome => {
        this.destroyVfs(dev);
        return 'ok';
      };
      return held ? { until: held, then: destroy } : destroy();
    }
    if (sriov.numVfs !== 0) return { errno: 'EBUSY' };
    return this.createVfs(dev, n, true);
  }

  storeVfAutoprobe(dev: KDevice, value: string): Outcome {
    const on = parseBool(value);
    if (on === null) return { errno: 'EINVAL' };
    dev.sriov!.autoprobe = on;
    this.s.changed();
    return 'ok';
  }

  storeBusAutoprobe(bus: Bus, value: string): Outcome {
    // bus.c: a value starting with '0' disables, anything else enables.
    this.s.autoprobe[bus] = !value.startsWith('0');
    this.s.changed();
    return 'ok';
  }
}

/** bind/unbind/drivers_probe compare names with sysfs_streq: exact, one trailing newline allowed. */
function deviceArg(value: string): string {
  return value.endsWith('\n') ? value.slice(0, -1) : value;
}
