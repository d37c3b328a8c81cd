// The VFs a `vfs:` count change will create, before they exist. The kernel places VF i of a PF at
// the PF's routing ID plus sriov_offset + i * sriov_stride (drivers/pci/iov.c pci_iov_virtfn_bus/
// devfn), so their addresses are known in advance, and rules (`pf:`, `vf:`, ids) can be matched
// against them; apply checks that the kernel put them there.

import { deviceKey, isVfioDriver } from '../domain/names.js';
import type { Device, Host, RuleTarget, StateFile, Target } from '../domain/types.js';
import { transition } from '../plan/transition.js';
import { compileSelector } from './match.js';
import { chooseVfioDriver, vfioModalias } from './variant.js';

/** PCI address plus a routing-ID distance, or null past the last bus. */
export function vfAddress(pf: string, distance: number): string | null {
  const rid = parseInt(pf.slice(5, 7), 16) * 256 + parseInt(pf.slice(8, 10), 16) * 8 + Number(pf[11]) + distance;
  if (rid > 0xffff) return null;
  const h2 = (n: number): string => n.toString(16).padStart(2, '0');
  return `${pf.slice(0, 4)}:${h2(rid >> 8)}:${h2((rid & 0xff) >> 3)}.${rid & 7}`;
}

/** Why the VFs a count change makes cannot be predicted (the plan then binds them one apply later), or null. */
export function unpredictable(pf: Device): string | null {
  if (pf.sriov?.offset === undefined || pf.sriov.stride === undefined) {
    return `${pf.name} shows no sriov_offset/sriov_stride (a kernel before 4.13, or a copied tree without them), so the new VFs' addresses are not known in advance`;
  }
  return null;
}

/** The VFs `count` would create on `pf`, as devices that do not exist yet; null when not predictable. */
export function predictVfs(pf: Device, count: number): Device[] | null {
  const { offset, stride, vfDevice } = pf.sriov ?? {};
  if (offset === undefined || stride === undefined) return null;
  const vfs: Device[] = [];
  for (let i = 0; i < count; i++) {
    const name = vfAddress(pf.name, offset + i * stride);
    if (name === null) return null;
    const vf: Device = {
      key: deviceKey('pci', name),
      bus: 'pci',
      name,
      driver: null,
      // vfio-pci as PF driver gives its new VFs its own name as override (5.7+, kernel-abi.md 6).
      override: isVfioDriver(pf.driver) ? pf.driver : null,
      iommuGroup: null,
      isBridge: false,
      physfn: pf.key,
      predicted: { index: i },
    };
    for (const k of ['vendor', 'subsystemVendor', 'subsystemDevice', 'class', 'numaNode'] as const) {
      if (pf[k] !== undefined) (vf as unknown as Record<string, unknown>)[k] = pf[k];
    }
    const device = vfDevice ?? pf.device;
    if (device !== undefined) vf.device = device;
    vf.modalias = `pci:${vfioModalias(vf).slice('vfio_pci:'.length)}`;
    vfs.push(vf);
  }
  return vfs;
}

/** `vfio` made concrete for one device; other targets as written. */
export function concreteTarget(target: RuleTarget, device: Device, host: Host): Target {
  return target.kind === 'vfio' ? chooseVfioDriver(device, host) : target;
}

/**
 * VFs this state file creates: for every PF a `vfs:` block gives a new, nonzero count, when the PF
 * keeps its driver in the same apply (its driver creates the VFs; a rebind destroys them) and their
 * addresses can be predicted. The first rule naming a PF decides, as in resolve.
 */
export function createdVfs(state: StateFile, host: Host): Device[] {
  const pfTarget = new Map<string, Target>();
  const counts = new Map<string, number>();
  for (const rule of state.rules) {
    const match = compileSelector(rule.match);
    for (const d of host.devices) {
      if (!d.sriov || d.physfn || d.isBridge || !match(d, host)) continue;
      if (!pfTarget.has(d.key)) pfTarget.set(d.key, concreteTarget(rule.target, d, host));
      if (rule.vfs && !counts.has(d.key)) counts.set(d.key, rule.vfs.count);
    }
  }
  const out: Device[] = [];
  for (const [key, count] of counts) {
    const pf = host.devices.find((d) => d.key === key)!;
    const tr = transition(pf, pfTarget.get(key)!);
    const keepsDriver = pf.driver !== null && (tr === null || (tr.unbind === null && !tr.probe));
    if (count === 0 || count === pf.sriov!.numVfs || count > pf.sriov!.totalVfs || !keepsDriver) continue;
    out.push(...(predictVfs(pf, count) ?? []));
  }
  return out;
}

/** The host as it will be once the VF counts are set: the PFs' old VFs replaced by `created`. */
export function futureHost(host: Host, created: Device[]): Host {
  if (created.length === 0) return host;
  const byPf = new Map<string, Device[]>();
  for (const vf of created) byPf.set(vf.physfn!, [...(byPf.get(vf.physfn!) ?? []), vf]);
  const devices = host.devices
    .filter((d) => !(d.physfn !== undefined && byPf.has(d.physfn)))
    .map((d) => {
      const vfs = byPf.get(d.key);
      return vfs ? { ...d, sriov: { ...d.sriov!, numVfs: vfs.length }, virtfns: vfs.map((v) => v.key) } : d;
    });
  devices.push(...created);
  devices.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { ...host, devices };
}
