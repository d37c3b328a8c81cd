// `export`: a state file that reproduces the host's current non-default bindings, the way in for
// a host configured by hand or with driverctl. A device is exported when something other than the
// kernel's own choice put it where it is: a driver_override (`none` included), or a VFIO driver or
// pci-stub bound without one (vfio-pci `ids=`, new_id); and a PF's VF count. Rules match by address plus vendor and
// device, so the file refuses to act on a different card in that slot. Planning the file on the
// host it came from gives no changes, except where the host itself is mid-change (said in comments).

import { isVfioDriver } from '../domain/names.js';
import type { Device, DeviceKey, Host } from '../domain/types.js';
import type { Names } from '../cli/names.js';
import type { DriverctlOverride } from './driverctl.js';

export interface ExportOptions {
  hostname: string;
  names?: Names;
  driverctl: Record<DeviceKey, DriverctlOverride>;
  tool: string;
  created: Date;
}

export interface Exported {
  text: string;
  /** Exported devices, by key. */
  devices: DeviceKey[];
}

const q = (s: string): string => JSON.stringify(s);

/** Where a device is steered, as a `driver:` value; null when it is where the kernel would put it. */
function steeredTo(d: Device): string | null {
  if (d.override !== null) return d.override;
  return d.driver !== null && (isVfioDriver(d.driver) || d.driver === 'pci-stub') ? d.driver : null;
}

function match(d: Device): string {
  if (d.bus === 'platform') {
    const compatible = d.compatible?.[0];
    return `{ bus: platform, name: ${q(d.name)}${compatible ? `, compatible: ${q(compatible)}` : ''} }`;
  }
  return `{ address: ${q(d.name)}${d.vendor ? `, vendor: ${q(d.vendor)}` : ''}${d.device ? `, device: ${q(d.device)}` : ''} }`;
}

/** `# 0000:01:00.0  NVIDIA Corporation GA102 [GeForce RTX 3090]  (IOMMU group 1; driver_override vfio-pci)` */
function describe(d: Device, target: string, o: ExportOptions): string {
  const name = d.vendor && d.device ? o.names?.(d.vendor, d.device) : d.compatible?.[0];
  const why = d.override !== null ? `driver_override ${d.override}` : `bound to ${d.driver} without an override`;
  const persisted = o.driverctl[d.key]?.driver === d.override && d.override !== null ? ', set with driverctl' : '';
  const group = d.iommuGroup === null ? 'no IOMMU group' : `IOMMU group ${d.iommuGroup}`;
  const lines = [`  # ${d.name}${name ? `  ${name}` : ''}  (${group}; ${why}${persisted})`];
  if (target !== 'none' && d.driver !== target) {
    lines.push(`  # note: it is ${d.driver === null ? 'unbound' : `on ${d.driver}`} now, so plan will ${d.driver === null ? 'probe it' : 'rebind it'}`);
  }
  if (target === 'none' && d.driver !== null) lines.push(`  # note: it is still on ${d.driver}, so plan will unbind it`);
  return lines.join('\n');
}

export function exportState(host: Host, o: ExportOptions): Exported {
  const byKey = new Map(host.devices.map((d) => [d.key, d]));
  const targets = new Map<DeviceKey, string>();
  for (const d of host.devices) {
    const t = steeredTo(d);
    if (t !== null && !d.isBridge) targets.set(d.key, t);
  }
  // VFs exist only as long as sriov_numvfs says so: a PF with VFs gets a `vfs:` count, and the VFs'
  // driver too when they all share one (then they need no rules of their own).
  const vfsOf = new Map<DeviceKey, string>();
  const covered = new Set<DeviceKey>();
  for (const d of host.devices) {
    if (!d.sriov || d.sriov.numVfs === 0) continue;
    const vfTargets = new Set((d.virtfns ?? []).map((k) => targets.get(k)));
    const shared = vfTargets.size === 1 ? [...vfTargets][0] : undefined;
    vfsOf.set(d.key, `{ count: ${d.sriov.numVfs}${shared ? `, driver: ${shared}` : ''} }`);
    if (shared) for (const k of d.virtfns ?? []) covered.add(k);
  }
  const rules: string[] = [];
  for (const d of host.devices) {
    const target = targets.get(d.key);
    const vfs = vfsOf.get(d.key);
    if (covered.has(d.key) || (target === undefined && vfs === undefined)) continue;
    const lines = [target !== undefined ? describe(d, target, o) : `  # ${d.name}  (SR-IOV PF with ${d.sriov!.numVfs} VFs)`, `  - match: ${match(d)}`];
    if (target !== undefined) lines.push(`    driver: ${target}`);
    if (vfs !== undefined) lines.push(`    vfs: ${vfs}`);
    rules.push(lines.join('\n'));
  }
  const notes: string[] = [];
  for (const [key, dc] of Object.entries(o.driverctl)) {
    const d = byKey.get(key);
    if (d?.override === dc.driver) continue;
    notes.push(`# driverctl persists driver_override ${dc.driver} for ${d?.name ?? key} (${dc.file}), which is not in effect now: not exported.`);
  }
  if (Object.values(o.driverctl).length > 0) {
    notes.push('# Once this file manages these devices, remove their driverctl overrides (driverctl unset-override <device>)', '# so that two tools do not set them.');
  }
  for (const [group, members] of Object.entries(host.groups)) {
    const exported = members.filter((k) => targets.has(k));
    const left = members.filter((k) => !targets.has(k) && byKey.get(k)?.driver && !byKey.get(k)!.isBridge);
    if (exported.length > 0 && left.length > 0) {
      const who = left.map((k) => `${byKey.get(k)!.name} (${byKey.get(k)!.driver})`).join(', ');
      notes.push(`# IOMMU group ${group} also holds ${who}, which this file leaves to the host.`);
    }
  }
  const header = [
    `# Exported by ${o.tool} from ${o.hostname} on ${o.created.toISOString()}: every device whose binding`,
    "# is not the kernel's own choice (a driver_override, or a VFIO driver or pci-stub bound without one).",
    '# `vfio-reconcile plan` of this file on this host shows no changes; edit it, then plan and apply.',
    ...notes,
    'version: 1',
    `hosts: [${q(o.hostname)}]`,
    rules.length > 0 ? 'devices:' : 'devices: []',
  ];
  return { text: [...header, ...rules].join('\n') + '\n', devices: [...new Set([...targets.keys(), ...vfsOf.keys()])] };
}
