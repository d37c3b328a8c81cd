// `status`: the host's devices as a table or by IOMMU group, built as a document first so the
// table and --json say the same thing.

import type { Bus, Desired, Device, Host } from '../domain/types.js';
import { compareGroups, groupMembers, groupVerdict } from '../plan/groups.js';
import type { Palette } from './color.js';
import type { Names } from './names.js';
import { table } from './table.js';


export interface StatusDevice {
  address: string;
  bus: Bus;
  vendor: string | null;
  device: string | null;
  /** pci.ids vendor and device name, when the database is installed. */
  product: string | null;
  class: string | null;
  /** Devicetree compatible, most specific (platform devices). */
  compatible: string | null;
  driver: string | null;
  override: string | null;
  group: string | null;
  /** The other members of its IOMMU group. */
  groupPeers: string[];
  /** With a state file: the rule that manages the device and what it asks for. */
  rule: { index: number; name: string | null; line: number; target: string } | null;
}

export interface StatusGroup {
  group: string;
  viable: boolean;
  members: string[];
  blockers: { address: string; driver: string; why: string }[];
}

export interface StatusDocument {
  host: { hostname: string | null; kernel: string | null };
  devices: StatusDevice[];
  groups: StatusGroup[];
}

export function buildStatus(host: Host, opts: { bus?: Bus; desired?: Desired; names?: Names }): StatusDocument {
  const shown = host.devices.filter((d) => opts.bus === undefined || d.bus === opts.bus);
  const byKey = new Map(host.devices.map((d) => [d.key, d]));
  const rules = new Map(opts.desired?.bindings.map((b) => [b.device, b]) ?? []);
  const devices = shown.map((d): StatusDevice => {
    const b = rules.get(d.key);
    return {
      address: d.name,
      bus: d.bus,
      vendor: d.vendor ?? null,
      device: d.device ?? null,
      product: product(d, opts.names),
      class: d.class ?? null,
      compatible: d.compatible?.[0] ?? null,
      driver: d.driver,
      override: d.override,
      group: d.iommuGroup,
      groupPeers: d.iommuGroup === null ? [] : (host.groups[d.iommuGroup] ?? []).filter((k) => k !== d.key).map((k) => byKey.get(k)?.name ?? k),
      rule: b ? { index: b.rule.index, name: b.rule.name ?? null, line: b.rule.pos.line, target: targetName(b.target) } : null,
    };
  });
  const groups = [...new Set(shown.map((d) => d.iommuGroup).filter((g): g is string => g !== null))].sort(compareGroups).map((group) => {
    const v = groupVerdict(host, group);
    return {
      group,
      viable: v.viable,
      members: groupMembers(host, group).map((d) => d.name),
      blockers: v.blockers.map((x) => ({ address: byKey.get(x.device)?.name ?? x.device, driver: x.driver, why: x.why })),
    };
  });
  return { host: { hostname: host.hostname ?? null, kernel: host.kernelRelease ?? null }, devices, groups };
}

function product(d: Device, names?: Names): string | null {
  if (!names || !d.vendor) return null;
  return names(d.vendor, d.device) ?? null;
}

function targetName(t: Desired['bindings'][number]['target']): string {
  return t.kind === 'driver' ? t.driver : t.kind;
}

const ids = (d: StatusDevice): string => (d.vendor && d.device ? `${d.vendor}:${d.device}` : (d.compatible ?? '-'));
const orDash = (s: string | null): string => s ?? '-';

function groupCell(d: StatusDevice): string {
  if (d.group === null) return '-';
  if (d.groupPeers.length === 0) return d.group;
  const peers = d.groupPeers.length > 3 ? [...d.groupPeers.slice(0, 3), `+${d.groupPeers.length - 3} more`] : d.groupPeers;
  return `${d.group} (with ${peers.join(', ')})`;
}

function ruleCell(d: StatusDevice): string {
  if (!d.rule) return '-';
  return `${d.rule.name ?? `devices[${d.rule.index}]`} (line ${d.rule.line}) -> ${d.rule.target}`;
}

export function renderStatus(doc: StatusDocument, p: Palette, withRules: boolean): string {
  if (doc.devices.length === 0) return 'No devices found.';
  const products = doc.devices.some((d) => d.product !== null);
  const header = ['ADDRESS', 'IDS', ...(products ? ['NAME'] : []), 'CLASS', 'DRIVER', 'OVERRIDE', 'IOMMU GROUP', ...(withRules ? ['RULE'] : [])];
  const rows = doc.devices.map((d) => [
    { text: d.address, paint: p.bold },
    ids(d),
    ...(products ? [orDash(d.product)] : []),
    orDash(d.class),
    orDash(d.driver),
    orDash(d.override),
    groupCell(d),
    ...(withRules ? [ruleCell(d)] : []),
  ]);
  return table(header, rows);
}

export function renderGroups(doc: StatusDocument, p: Palette): string {
  const byAddress = new Map(doc.devices.map((d) => [d.address, d]));
  const out: string[] = [];
  for (const g of doc.groups) {
    const verdict = g.viable
      ? p.green('viable for VFIO')
      : p.red(`not viable for VFIO: ${g.blockers.map((b) => `${b.address} ${b.why}`).join('; ')}`);
    out.push(`IOMMU group ${g.group}: ${verdict}`);
    for (const m of g.members) {
      const d = byAddress.get(m);
      const facts = d ? [ids(d), orDash(d.driver), d.product ?? '', d.rule ? `rule ${ruleCell(d)}` : ''] : [];
      out.push(`  ${[m, ...facts].filter(Boolean).join('  ')}`);
    }
  }
  const loose = doc.devices.filter((d) => d.group === null);
  if (loose.length) out.push('No IOMMU group:', ...loose.map((d) => `  ${d.address}  ${ids(d)}  ${orDash(d.driver)}`));
  return out.length ? out.join('\n') : 'No devices found.';
}
