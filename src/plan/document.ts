// The plan as JSON for machines and saved plans (`plan --json`): a separately typed, versioned shape
// in the manner of Terraform's jsonplan, so the internal Plan can change without breaking readers.
// schemas/plan.schema.json describes exactly this; bump format_version on any incompatible change.

import { splitKey } from '../domain/names.js';
import type { Bus, Change, ChangeReason, Host, MdevChange, Notice, Plan, Step } from '../domain/types.js';

/** 1.1: set-autoprobe and mdev steps, new VFs (`created`), `driver: vfio` choices, `mdevs`. */
export const PLAN_FORMAT_VERSION = '1.1';

export type DocReason = 'spec' | 'drift' | 'prune' | 'group';

/** A closed map, so a new internal reason cannot reach the document without a decision here. */
const REASONS: Record<ChangeReason, DocReason> = { spec: 'spec', drift: 'drift', prune: 'prune', group: 'group' };

export interface DocRule {
  index: number;
  name: string | null;
  line: number;
}

export interface DocBinding {
  driver: string | null;
  override: string | null;
}

export interface DocChange {
  address: string;
  bus: Bus;
  vendor: string | null;
  device: string | null;
  class: string | null;
  group: string | null;
  reason: DocReason;
  /** As written in the state file: a driver name, `vfio`, `default` or `none`. */
  target: string;
  /** For `vfio`: the driver chosen and why (`mlx5_vfio_pci: modules.alias vfio_pci:v000015B3...`). */
  driver_choice: string | null;
  /** Set for a VF that does not exist yet: its PF's address and its VF index there. */
  created: { pf: string; index: number } | null;
  before: DocBinding;
  /** `kernel_chooses`: the driver is whatever the kernel binds (target default); `driver` is then null. */
  after: DocBinding & { kernel_chooses: boolean };
  /** sriov_numvfs before and after, when the plan changes it. */
  numvfs: { before: number; after: number } | null;
  rule: DocRule | null;
  forced: boolean;
}

interface DocStepBase {
  group: string | null;
}
interface OnDevice extends DocStepBase {
  address: string;
  bus: Bus;
}

export type DocStep =
  | (DocStepBase & { kind: 'load-module'; module: string; driver: string; bus: Bus })
  | (OnDevice & { kind: 'set-autoprobe'; from: boolean; to: boolean })
  | (OnDevice & { kind: 'set-numvfs'; from: number; to: number; vfs: string[] | null })
  | (OnDevice & { kind: 'set-override'; from: string | null; to: string | null })
  | (OnDevice & { kind: 'unbind'; driver: string })
  | (OnDevice & { kind: 'probe' })
  | (OnDevice & { kind: 'bind'; driver: string })
  | (OnDevice & { kind: 'verify'; driver: string | null; override: string | null; kernel_chooses: boolean })
  | (DocStepBase & { kind: 'remove-mdev' | 'create-mdev'; uuid: string; parent: string; type: string })
  | (DocStepBase & { kind: 'set-mdev-attr'; uuid: string; attr: string; value: string });

/** A mediated device the plan creates or removes. */
export interface DocMdev {
  uuid: string;
  /** `recreate`: it exists on another parent or with another type, so it is removed and created. */
  action: 'create' | 'remove' | 'recreate';
  reason: 'spec' | 'prune';
  before: { parent: string; type: string } | null;
  after: { parent: string; type: string; attrs: { name: string; value: string }[] } | null;
  /** The mdevs: entry behind it. */
  spec: { index: number; line: number } | null;
  forced: boolean;
}

export interface DocNotice {
  message: string;
  address: string | null;
  bus: Bus | null;
  rule: DocRule | null;
}

export interface DocBlocked extends DocNotice {
  code: string;
  fix: string | null;
}

export interface PlanDocument {
  format_version: typeof PLAN_FORMAT_VERSION;
  fingerprint: string;
  applyable: boolean;
  host: { hostname: string | null; kernel: string | null };
  changes: DocChange[];
  mdevs: DocMdev[];
  steps: DocStep[];
  warnings: DocNotice[];
  blocked: DocBlocked[];
  summary: { devices: number; mdevs: number; steps: number; by_reason: Record<DocReason, number> };
}

export function toPlanDocument(plan: Plan, host: Host): PlanDocument {
  const byKey = new Map(host.devices.map((d) => [d.key, d]));
  // Indexed once: a scan of the steps per change is quadratic on plans that rebind thousands of VFs.
  const numvfsSteps = new Map<string, Extract<Step, { kind: 'set-numvfs' }>[]>();
  for (const s of plan.steps) {
    if (s.kind === 'set-numvfs') numvfsSteps.set(s.device, [...(numvfsSteps.get(s.device) ?? []), s]);
  }
  const changes = plan.changes.map((c): DocChange => {
    // A VF that does not exist yet has its PF's vendor and class, and the PF's sriov_vf_device.
    const pf = c.created ? byKey.get(c.created.pf) : undefined;
    const d = pf ? { vendor: pf.vendor, device: pf.sriov?.vfDevice ?? pf.device, class: pf.class } : byKey.get(c.device);
    const counts = numvfsSteps.get(c.device) ?? [];
    const { address, bus } = where(c.device);
    return {
      address,
      bus,
      vendor: d?.vendor ?? null,
      device: d?.device ?? null,
      class: d?.class ?? null,
      group: c.group,
      reason: REASONS[c.reason],
      target: c.target.kind === 'driver' ? (c.target.chosen !== undefined ? 'vfio' : c.target.driver) : c.target.kind,
      driver_choice: c.target.kind === 'driver' ? (c.target.chosen ?? null) : null,
      created: c.created ? { pf: where(c.created.pf).address, index: c.created.index } : null,
      before: { driver: c.before.driver, override: c.before.override },
      after: { driver: c.after.driver ?? null, override: c.after.override, kernel_chooses: c.after.driver === undefined },
      numvfs: counts.length > 0 ? { before: counts[0]!.from, after: counts[counts.length - 1]!.to } : null,
      rule: rule(c.rule),
      forced: c.forced,
    };
  });
  const by_reason: Record<DocReason, number> = { spec: 0, drift: 0, prune: 0, group: 0 };
  for (const c of changes) by_reason[c.reason]++;
  return {
    format_version: PLAN_FORMAT_VERSION,
    fingerprint: plan.fingerprint,
    applyable: plan.applyable,
    host: { hostname: host.hostname ?? null, kernel: host.kernelRelease ?? null },
    changes,
    mdevs: (plan.mdevs ?? []).map(mdev),
    steps: plan.steps.map(step),
    warnings: plan.warnings.map(notice),
    blocked: plan.blocked.map((b) => ({ ...notice(b), code: b.code, fix: b.fix ?? null })),
    summary: { devices: changes.length, mdevs: plan.mdevs?.length ?? 0, steps: plan.steps.length, by_reason },
  };
}

function mdev(m: MdevChange): DocMdev {
  return {
    uuid: m.uuid,
    action: m.before && m.after ? 'recreate' : m.after ? 'create' : 'remove',
    reason: m.reason,
    before: m.before,
    after: m.after && { parent: m.after.parent, type: m.after.type, attrs: m.after.attrs.map((a) => ({ name: a.name, value: a.value })) },
    spec: m.spec ?? null,
    forced: m.forced,
  };
}

function where(key: string): { address: string; bus: Bus } {
  const { bus, name } = splitKey(key);
  return { address: name, bus };
}

function rule(r: Change['rule']): DocRule | null {
  return r ? { index: r.index, name: r.name ?? null, line: r.line } : null;
}

function notice(n: Notice): DocNotice {
  const at = n.device ? where(n.device) : { address: null, bus: null };
  return { message: n.message, address: at.address, bus: at.bus, rule: rule(n.rule) };
}

function step(s: Step): DocStep {
  if (s.kind === 'load-module') return { kind: s.kind, module: s.module, driver: s.driver, bus: s.bus, group: s.group };
  if (s.kind === 'create-mdev' || s.kind === 'remove-mdev') return { kind: s.kind, uuid: s.uuid, parent: s.parent, type: s.type, group: s.group };
  if (s.kind === 'set-mdev-attr') return { kind: s.kind, uuid: s.uuid, attr: s.attr, value: s.value, group: s.group };
  // Properties spelled out rather than spread: V8 builds a literal that starts from a spread
  // property by property, which made these two maps most of toPlanDocument's time.
  const { address, bus } = where(s.device);
  const group = s.group;
  switch (s.kind) {
    case 'set-autoprobe':
      return { kind: s.kind, address, bus, group, from: s.from, to: s.to };
    case 'set-numvfs':
      return { kind: s.kind, address, bus, group, from: s.from, to: s.to, vfs: s.vfs ? s.vfs.map((k) => where(k).address) : null };
    case 'set-override':
      return { kind: s.kind, address, bus, group, from: s.from, to: s.to };
    case 'unbind':
    case 'bind':
      return { kind: s.kind, address, bus, group, driver: s.driver };
    case 'probe':
      return { kind: s.kind, address, bus, group };
    case 'verify':
      return { kind: s.kind, address, bus, group, driver: s.driver ?? null, override: s.override, kernel_chooses: s.driver === undefined };
  }
}
