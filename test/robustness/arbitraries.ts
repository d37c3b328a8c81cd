// fast-check arbitraries for the property-based tests: random hosts as plain specs (so a failing
// case prints as readable data), built into kernel models; random state files over those hosts;
// random fault points. Hosts mix GPUs, HDMI audio, NICs, NVMe, USB, SR-IOV PFs with VFs, bridges
// on pcieport or shpchp, devices without an IOMMU group, stale overrides, vfio-pci and pci-stub
// loaded or not, and platform devices; three kernel generations with different group rules.

import fc from 'fast-check';
import { KernelModel } from '../../src/kernel/model.js';
import { ERRNOS, type Fault } from './inject.js';

const PCI_KINDS = {
  gpu: { vendor: '10de', device: '2204', class: '030000', driver: 'nouveau' },
  audio: { vendor: '10de', device: '1aef', class: '040300', driver: 'snd_hda_intel' },
  nic: { vendor: '8086', device: '10d3', class: '020000', driver: 'e1000e' },
  nvme: { vendor: '144d', device: 'a80a', class: '010802', driver: 'nvme' },
  usb: { vendor: '1b21', device: '2142', class: '0c0330', driver: 'xhci_hcd' },
  pf: { vendor: '8086', device: '1572', class: '020000', driver: 'i40e' },
  bridge: { vendor: '8086', device: '1901', class: '060400', driver: 'pcieport' },
} as const;
type PciKind = keyof typeof PCI_KINDS;

const PLATFORM_KINDS = {
  xgmac: { compatible: 'amd,xgbe-seattle-v1a', driver: 'amd-xgbe' },
  dma: { compatible: 'arm,pl330', driver: 'pl330' },
} as const;
type PlatformKind = keyof typeof PLATFORM_KINDS;

/** Where a device is bound when the host is built. `host`: the kind's own driver. */
type Binding = 'host' | 'unbound' | 'vfio' | 'stub';
/** A driver_override left on the device; `host` names its own driver. */
type Override = null | 'vfio' | 'none' | 'host';

export interface PciSpec {
  kind: PciKind;
  /** IOMMU group 1..5 (small, so groups are shared), or null: no IOMMU. */
  group: number | null;
  binding: Binding;
  override: Override;
  /** A bridge on shpchp blocks VFIO in its group on 5.19+. */
  shpchp: boolean;
  /** PFs: existing VFs and what each is bound to. */
  vfs: ('iavf' | 'unbound' | 'vfio')[];
}

export interface PlatformSpec {
  kind: PlatformKind;
  group: number | null;
  binding: Exclude<Binding, 'stub'>;
}

export interface HostSpec {
  kernel: '6.12.117' | '6.1.0' | '5.10.0';
  modulesKnown: boolean;
  vfioLoaded: boolean;
  stubLoaded: boolean;
  vfioPlatformLoaded: boolean;
  pci: PciSpec[];
  platform: PlatformSpec[];
}

const group = fc.option(fc.integer({ min: 1, max: 5 }), { freq: 6 });

const pciSpec: fc.Arbitrary<PciSpec> = fc.record({
  kind: fc.constantFrom(...(Object.keys(PCI_KINDS) as PciKind[])),
  group,
  binding: fc.constantFrom<Binding>('host', 'host', 'host', 'unbound', 'vfio', 'stub'),
  override: fc.constantFrom<Override>(null, null, null, 'vfio', 'none', 'host'),
  shpchp: fc.boolean(),
  vfs: fc.array(fc.constantFrom('iavf' as const, 'unbound' as const, 'vfio' as const), { maxLength: 3 }),
});

export const hostSpec: fc.Arbitrary<HostSpec> = fc.record({
  kernel: fc.constantFrom('6.12.117' as const, '6.1.0' as const, '5.10.0' as const),
  modulesKnown: fc.boolean(),
  vfioLoaded: fc.boolean(),
  stubLoaded: fc.boolean(),
  vfioPlatformLoaded: fc.boolean(),
  pci: fc.array(pciSpec, { minLength: 1, maxLength: 7 }),
  platform: fc.array(fc.record({ kind: fc.constantFrom<PlatformKind>('xgmac', 'dma'), group, binding: fc.constantFrom<PlatformSpec['binding']>('host', 'host', 'unbound', 'vfio') }), { maxLength: 2 }),
});

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
/** Each PCI device sits alone on bus i+1, so a PF's VFs (functions 1..3) never collide. */
export const pciAddress = (i: number) => `0000:${hex2(i + 1)}:00.0`;
const vfAddress = (i: number, vf: number) => `0000:${hex2(i + 1)}:00.${vf + 1}`;
export const platformName = (i: number, kind: PlatformKind) => `e0${i}00000.${kind}`;

/** The kernel model for a spec. Bindings the spec cannot have on this host degrade to unbound. */
export function buildHost(spec: HostSpec): KernelModel {
  const k = new KernelModel({ kernel: spec.kernel, modulesKnown: spec.modulesKnown })
    .driver('pci', 'pcieport', { builtin: true, ids: [{ class: '0604' }] })
    .driver('pci', 'shpchp', { ids: [] })
    .driver('pci', 'nouveau', { ids: [['10de', '2204']] })
    .driver('pci', 'snd_hda_intel', { ids: [{ class: '0403' }] })
    .driver('pci', 'e1000e', { ids: [['8086', '10d3']] })
    .driver('pci', 'nvme', { ids: [{ class: '0108' }] })
    .driver('pci', 'xhci_hcd', { builtin: true, ids: [{ class: '0c0330' }] })
    .driver('pci', 'i40e', { ids: [['8086', '1572']], sriov: true })
    .driver('pci', 'iavf', { ids: [['8086', '154c']] })
    .driver('pci', 'vfio-pci', { module: 'vfio_pci', loaded: spec.vfioLoaded })
    .driver('pci', 'pci-stub', { module: 'pci_stub', loaded: spec.stubLoaded })
    .driver('platform', 'amd-xgbe', { module: 'amd_xgbe', compatible: ['amd,xgbe-seattle-v1a'] })
    .driver('platform', 'pl330', { compatible: ['arm,pl330'] })
    .driver('platform', 'vfio-platform', { module: 'vfio_platform', loaded: spec.vfioPlatformLoaded });

  const pciDriver = (kind: PciKind, binding: Binding, shpchp: boolean, group: number | null): string | null => {
    if (kind === 'bridge') return shpchp ? 'shpchp' : 'pcieport';
    if (binding === 'host') return PCI_KINDS[kind].driver;
    // vfio-pci refuses a device without an IOMMU group (no noiommu mode on these hosts).
    if (binding === 'vfio') return spec.vfioLoaded && group !== null ? 'vfio-pci' : null;
    if (binding === 'stub') return spec.stubLoaded ? 'pci-stub' : null;
    return null;
  };
  const override = (o: Override, host: string, vfio: string): string | null =>
    o === null ? null : o === 'vfio' ? vfio : o === 'host' ? host : 'none';

  // Fixed groups (1..5) first, so the fresh groups the builder hands to VFs never collide with them.
  let vfGroup = 100;
  spec.pci.forEach((d, i) => {
    const ids = PCI_KINDS[d.kind];
    const driver = pciDriver(d.kind, d.binding, d.shpchp, d.group);
    // A PF bound to vfio-pci without enable_sriov has no VFs; VFs need their PF's driver.
    const vfs = d.kind === 'pf' && driver === 'i40e' ? d.vfs : [];
    k.pci(pciAddress(i), {
      vendor: ids.vendor,
      device: ids.device,
      class: ids.class,
      group: d.group === null ? null : String(d.group),
      driver,
      // The model has no dynamic IDs (`vfio-pci.ids=`, new_id): vfio-pci holds a device only by an
      // override, which may have been changed since (to none, or the host driver), not cleared.
      override: d.kind === 'bridge' ? null : override(driver === 'vfio-pci' ? (d.override ?? 'vfio') : d.override, ids.driver, 'vfio-pci'),
      ...(d.kind === 'pf' ? { sriov: { totalVfs: 4, vfDevice: '154c' } } : {}),
    });
    vfs.forEach((vf, n) => {
      const vfDriver = vf === 'iavf' ? 'iavf' : vf === 'vfio' && spec.vfioLoaded && d.group !== null ? 'vfio-pci' : null;
      k.pci(vfAddress(i, n), {
        // Without an IOMMU (the PF has no group) VFs have none either.
        vendor: '8086', device: '154c', class: '020000', physfn: pciAddress(i), group: d.group === null ? null : String(vfGroup++),
        driver: vfDriver, override: vfDriver === 'vfio-pci' ? 'vfio-pci' : null,
      });
    });
  });
  spec.platform.forEach((d, i) => {
    const kind = PLATFORM_KINDS[d.kind];
    const driver = d.binding === 'host' ? kind.driver : d.binding === 'vfio' && spec.vfioPlatformLoaded && d.group !== null ? 'vfio-platform' : null;
    k.platform(platformName(i, d.kind), {
      compatible: [kind.compatible],
      group: d.group === null ? null : String(d.group + 10),
      driver,
      override: driver === 'vfio-platform' ? 'vfio-platform' : null,
    });
  });
  return k;
}

// ---------------------------------------------------------------------------------------------
// State files

/** What a rule asks: the VFIO driver of the bus, the device's own driver, the keywords, or junk. */
type Want = 'vfio' | 'host' | 'default' | 'none' | 'stub' | 'unknown';
const want = fc.constantFrom<Want>('vfio', 'vfio', 'host', 'default', 'none', 'stub', 'unknown');

export interface StateSpec {
  iommuGroups: 'strict' | 'include';
  /** Per PCI device (by index): what its rule wants, if it has one. */
  pci: (Want | null)[];
  /** Per PCI device that is a PF: a vfs block (count, and a driver for the VFs or none given). */
  vfs: ({ count: number; driver: Want | null } | null)[];
  platform: (Want | null)[];
  /** Indexes into the host's device list of devices an earlier apply changed (prune, drift). */
  managed: number[];
}

export function stateSpec(host: HostSpec): fc.Arbitrary<StateSpec> {
  const n = host.pci.length;
  return fc.record({
    iommuGroups: fc.constantFrom('strict' as const, 'include' as const),
    pci: fc.array(fc.option(want, { freq: 2 }), { minLength: n, maxLength: n }),
    vfs: fc.array(fc.option(fc.record({ count: fc.integer({ min: 0, max: 4 }), driver: fc.option(want) }), { freq: 2 }), { minLength: n, maxLength: n }),
    platform: fc.array(fc.option(want, { freq: 2 }), { minLength: host.platform.length, maxLength: host.platform.length }),
    managed: fc.uniqueArray(fc.nat(40), { maxLength: 3 }),
  });
}

function driverText(w: Want, bus: 'pci' | 'platform', hostDriver: string): string {
  switch (w) {
    case 'vfio':
      return bus === 'pci' ? 'vfio-pci' : 'vfio-platform';
    case 'host':
      return hostDriver;
    case 'stub':
      return bus === 'pci' ? 'pci-stub' : 'none';
    case 'unknown':
      return 'no-such-driver';
    default:
      return w;
  }
}

/** The state file's YAML for a spec: one rule per device that has one, matched by address or name. */
export function stateYaml(host: HostSpec, st: StateSpec): string {
  const rules: string[] = [];
  host.pci.forEach((d, i) => {
    const lines: string[] = [];
    const w = st.pci[i];
    if (w) lines.push(`    driver: ${driverText(w, 'pci', PCI_KINDS[d.kind].driver)}`);
    const v = d.kind === 'pf' ? st.vfs[i] : null;
    if (v) lines.push(`    vfs: { count: ${v.count}${v.driver ? `, driver: ${driverText(v.driver, 'pci', 'iavf')}` : ''} }`);
    if (lines.length) rules.push(`  - match: { address: "${pciAddress(i)}" }\n${lines.join('\n')}`);
  });
  host.platform.forEach((d, i) => {
    const w = st.platform[i];
    if (w) rules.push(`  - match: { bus: platform, name: "${platformName(i, d.kind)}" }\n    driver: ${driverText(w, 'platform', PLATFORM_KINDS[d.kind].driver)}`);
  });
  return `version: 1\noptions: { iommuGroups: ${st.iommuGroups} }\n${rules.length ? `devices:\n${rules.join('\n')}\n` : ''}`;
}

/** A fault at some step (index taken modulo the plan's length), or none. */
export const faultPoint = fc.option(
  fc.record({ at: fc.nat(200), fault: fc.constantFrom<Fault>(...ERRNOS, 'hang', 'silent-probe', 'moved-before-verify') }),
  { freq: 5 },
);
