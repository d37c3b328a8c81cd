// The planner: (Host, Desired, options) -> Plan. No I/O, no clock, no randomness: the same inputs
// give the same plan whatever order the devices arrive in, so a plan can be reviewed, saved and
// compared. Steps follow design.md "Plan": module loads first, then each IOMMU group in numeric
// order with its set-numvfs -> set-override -> unbind -> probe -> verify.

import { fingerprint } from '../domain/fingerprint.js';
import { isVfioDriver, moduleNameOf } from '../domain/names.js';
import type {
  Blocked,
  Change,
  ChangeReason,
  Desired,
  Device,
  DeviceKey,
  GroupPolicy,
  Host,
  Notice,
  Plan,
  PlanOptions,
  Rule,
  Step,
  Target,
} from '../domain/types.js';
import { ruleLabel, targetText } from '../desire/resolve.js';
import { compareGroups, compareKeys, groupMembers, siblingVfioDriver, usesDmaOwnership, whyBlocks } from './groups.js';
import { inUseGuards, type GuardSubject } from './guards.js';
import { transition, type Transition } from './transition.js';

export type PlannerOptions = PlanOptions & {
  /** Overrides the state file's `options.iommuGroups` (strict by default). */
  iommuGroups?: GroupPolicy;
};

/** A device some rule (or prune) wants somewhere; `rule` is absent for prune. */
interface Want {
  device: Device;
  target: Target;
  rule?: Rule;
}

/** A device in the plan; `tr` is null for a PF whose only change is its VF count. */
interface Planned {
  device: Device;
  change: Change;
  tr: Transition | null;
  /** The rule behind it (absent for prune), for its `force`. */
  rule?: Rule;
}

interface Ctx {
  host: Host;
  byKey: Map<DeviceKey, Device>;
  managed: Set<DeviceKey>;
  applied: Record<DeviceKey, Target>;
  modern: boolean;
  warnings: Notice[];
  blocked: Blocked[];
}

export function plan(host: Host, desired: Desired, opts: PlannerOptions = {}): Plan {
  const ctx: Ctx = {
    host,
    byKey: new Map(host.devices.map((d) => [d.key, d])),
    managed: new Set(opts.managed ?? []),
    applied: opts.applied ?? {},
    modern: usesDmaOwnership(host.kernelRelease),
    // The plan carries what resolve noticed (rules matching nothing), so it reads on its own.
    warnings: [...(desired.warnings ?? [])],
    blocked: [],
  };
  const wants = collectWants(ctx, desired);
  const planned = new Map<DeviceKey, Planned>();
  for (const w of wants.values()) {
    const tr = transition(w.device, w.target);
    if (tr) planned.set(w.device.key, planDevice(w, tr, reasonFor(ctx, w)));
  }
  checkGroups(ctx, wants, planned, opts.iommuGroups ?? desired.state.options.iommuGroups);
  checkIommuPresent(ctx, planned);
  const numvfs = planVfCounts(ctx, desired, wants, planned);
  checkInUse(ctx, planned, numvfs, opts.force ?? false);
  const steps = [...planModules(ctx, planned), ...groupSteps(planned, numvfs)];
  return {
    // Hosts arrive sorted by key from observe; sorting again keeps the plan order-independent.
    fingerprint: fingerprint({ ...host, devices: [...host.devices].sort((a, b) => compareKeys(a.key, b.key)) }),
    changes: sorted(planned).map((p) => p.change),
    steps,
    warnings: ctx.warnings,
    blocked: ctx.blocked,
    applyable: ctx.blocked.length === 0,
  };
}

// ### 1: What is wanted: rule bindings, the VFs of `vfs:` rules, and prune of what no rule covers.
function collectWants(ctx: Ctx, desired: Desired): Map<DeviceKey, Want> {
  const wants = new Map<DeviceKey, Want>();
  const covered = new Set<DeviceKey>();
  for (const b of [...desired.bindings].sort((x, y) => compareKeys(x.device, y.device))) {
    const device = mustGet(ctx, b.device);
    covered.add(b.device);
    if (device.isBridge) {
      warn(ctx, `${ruleLabel(b.rule)} matches bridge ${device.name}; bridges are never rebound, so it is ignored there`, device, b.rule);
      continue;
    }
    wants.set(device.key, { device, target: b.target, rule: b.rule });
  }
  for (const v of [...desired.vfs].sort((x, y) => compareKeys(x.pf, y.pf))) {
    const pf = mustGet(ctx, v.pf);
    // `vfs:` without a driver leaves the VFs to other rules (and managed ones to prune).
    if (!pf.sriov || v.target.kind === 'default') continue; // planVfCounts reports a missing sriov
    for (const vf of pf.virtfns ?? []) covered.add(vf);
    if (pf.sriov.numVfs !== v.count) {
      // VF addresses exist only once sriov_numvfs is written, and changing a nonzero count goes
      // through 0, which destroys the VFs there are (and their overrides). So VF bindings can only
      // be planned against VFs that exist and survive; new VFs are bound by the next apply.
      if (v.count > 0) {
        warn(ctx, `${pf.name} gets ${v.count} VFs in this apply; binding them to ${targetText(v.target)} needs a second apply, once they exist`, pf, v.rule);
      }
      continue;
    }
    for (const vf of pf.virtfns ?? []) {
      if (!wants.has(vf)) wants.set(vf, { device: mustGet(ctx, vf), target: v.target, rule: v.rule });
    }
  }
  for (const key of [...ctx.managed].sort(compareKeys)) {
    const device = ctx.byKey.get(key);
    // A managed device that is gone (hot-removed, a destroyed VF) has nothing left to restore.
    if (covered.has(key) || !device || device.isBridge) continue;
    wants.set(key, { device, target: { kind: 'default' } });
  }
  return new Map([...wants].sort(([a], [b]) => compareKeys(a, b)));
}

/** Drift: the host moved away from what the last apply set. Spec: the file asks for something new. */
function reasonFor(ctx: Ctx, w: Want): ChangeReason {
  if (!w.rule) return 'prune';
  if (!ctx.managed.has(w.device.key)) return 'spec';
  const last = ctx.applied[w.device.key];
  return last !== undefined && targetText(last) !== targetText(w.target) ? 'spec' : 'drift';
}

function planDevice(w: Want, tr: Transition | null, reason: ChangeReason): Planned {
  const { device } = w;
  const change: Change = {
    device: device.key,
    before: { driver: device.driver, override: device.override },
    after: tr ? tr.after : { driver: device.driver, override: device.override },
    target: w.target,
    reason,
    group: device.iommuGroup,
    // Set by checkInUse when force overrides an in-use guard.
    forced: false,
  };
  if (w.rule) change.rule = ruleRef(w.rule);
  return w.rule ? { device, change, tr, rule: w.rule } : { device, change, tr };
}

// ### 2: IOMMU groups. VFIO can only claim a group whose other members leave DMA to user space.
function checkGroups(ctx: Ctx, wants: Map<DeviceKey, Want>, planned: Map<DeviceKey, Planned>, policy: GroupPolicy): void {
  const groups = new Set<string>();
  for (const p of planned.values()) if (p.change.group !== null) groups.add(p.change.group);
  for (const group of [...groups].sort(compareGroups)) {
    const members = groupMembers(ctx.host, group);
    const afterOf = (d: Device) => (planned.has(d.key) ? planned.get(d.key)!.change.after.driver : d.driver);
    // Only groups this plan moves onto VFIO, or binds a host driver into, are the plan's business.
    const involved = members.some(
      (d) => planned.has(d.key) && (isVfioDriver(afterOf(d) ?? null) || whyBlocks(d, afterOf(d), ctx.modern) !== null),
    );
    const onVfio = members.filter((d) => isVfioDriver(afterOf(d) ?? null));
    if (!involved || onVfio.length === 0) continue;
    const lead = onVfio.find((d) => planned.has(d.key)) ?? onVfio[0]!;
    const vfio = afterOf(lead) as string;
    const leadRule = wants.get(lead.key)?.rule;

    if (policy === 'include') {
      for (const d of members) {
        if (d.isBridge || wants.get(d.key)?.rule || whyBlocks(d, afterOf(d), ctx.modern) === null) continue;
        const w: Want = { device: d, target: { kind: 'driver', driver: siblingVfioDriver(d.bus, vfio) }, rule: leadRule };
        const tr = transition(d, w.target);
        if (tr) planned.set(d.key, planDevice(w, tr, 'group'));
        else planned.delete(d.key); // a pruned sibling that is on the group's driver already stays
      }
    }

    const split: Device[] = [];
    const bridges: Device[] = [];
    for (const d of members) {
      if (whyBlocks(d, afterOf(d), ctx.modern) !== null) (d.isBridge ? bridges : split).push(d);
    }
    if (split.length > 0) {
      const list = split.map((d) => `${d.name} (${afterText(afterOf(d))})`).join(', ');
      const uncovered = split.filter((d) => !wants.get(d.key)?.rule).map((d) => d.name);
      const ruled = split.filter((d) => wants.get(d.key)?.rule);
      const fixes: string[] = [];
      if (uncovered.length > 0) {
        fixes.push(`add ${uncovered.join(', ')} to a rule (driver: ${vfio} or none), or set options.iommuGroups: include`);
      }
      if (ruled.length > 0) {
        const lines = ruled.map((d) => wants.get(d.key)!.rule!.pos.line).join(', ');
        fixes.push(`give ${ruled.map((d) => d.name).join(', ')} driver ${vfio} or none (${ruled.length === 1 ? 'line' : 'lines'} ${lines})`);
      }
      block(ctx, {
        code: 'group-split',
        message: `IOMMU group ${group} would be split: ${lead.name} ${planned.has(lead.key) ? 'goes to' : 'stays on'} ${vfio} while ${list} ${split.length === 1 ? 'stays on a host driver' : 'stay on host drivers'}; VFIO cannot claim a group that shares DMA with the host`,
        device: split[0]!.key,
        rule: leadRule && ruleRef(leadRule),
        fix: fixes.join('; '),
      });
    }
    for (const b of bridges) {
      block(ctx, {
        code: 'group-bridge',
        message: `IOMMU group ${group} cannot go to VFIO: bridge ${b.name} is on ${b.driver}, which keeps DMA ownership on Linux 5.19 and later (of bridge drivers only pcieport allows VFIO)`,
        device: b.key,
        rule: leadRule && ruleRef(leadRule),
        fix: `vfio-reconcile never rebinds bridges: unbind ${b.name} from ${b.driver} by hand (or keep ${b.driver} from loading), or move the device to a slot with its own IOMMU group`,
      });
    }
  }
}

function checkIommuPresent(ctx: Ctx, planned: Map<DeviceKey, Planned>): void {
  for (const p of sorted(planned)) {
    const driver = p.change.after.driver ?? null;
    if (p.device.iommuGroup !== null || !isVfioDriver(driver)) continue;
    block(ctx, {
      code: 'no-iommu-group',
      message: `${p.device.name} has no IOMMU group, so ${driver} refuses to bind it (its probe fails with EINVAL)`,
      device: p.device.key,
      rule: p.change.rule,
      fix: 'turn the IOMMU on: VT-d or AMD-Vi in the firmware, and intel_iommu=on on the kernel command line (amd_iommu is on by default); without an IOMMU only vfio.enable_unsafe_noiommu_mode=1 binds it, with no DMA isolation',
    });
  }
}

// ### 3: SR-IOV VF counts. Steps per PF, placed in the PF's group before any rebinding there.
function planVfCounts(ctx: Ctx, desired: Desired, wants: Map<DeviceKey, Want>, planned: Map<DeviceKey, Planned>): Map<DeviceKey, Step[]> {
  const out = new Map<DeviceKey, Step[]>();
  for (const v of [...desired.vfs].sort((x, y) => compareKeys(x.pf, y.pf))) {
    const pf = mustGet(ctx, v.pf);
    const rule = ruleRef(v.rule);
    if (!pf.sriov) {
      block(ctx, { code: 'no-sriov', message: `${pf.name} is not an SR-IOV physical function (it has no sriov_totalvfs)`, device: pf.key, rule, fix: `remove vfs: from ${ruleLabel(v.rule)}, or match the PF itself` });
      continue;
    }
    const { numVfs, totalVfs } = pf.sriov;
    if (v.count > totalVfs) {
      block(ctx, { code: 'vfs-range', message: `${pf.name} supports at most ${totalVfs} VFs; ${ruleLabel(v.rule)} asks for ${v.count}`, device: pf.key, rule, fix: `set vfs.count to ${totalVfs} or less` });
      continue;
    }
    if (numVfs === v.count) continue;
    const p = planned.get(pf.key);
    if (p?.tr && (p.tr.probe || p.tr.unbind !== null)) {
      // Unbinding a PF destroys its VFs, and the new driver decides whether it can create any.
      warn(ctx, `${pf.name} changes driver in this apply; run apply again to set its VF count to ${v.count}`, pf, v.rule);
      continue;
    }
    if (pf.driver === null) {
      block(ctx, { code: 'no-pf-driver', message: `${pf.name} has no driver, and only a PF driver creates VFs (sriov_numvfs gives ENOENT)`, device: pf.key, rule, fix: `bind ${pf.name} to its PF driver first (driver: <name> or default in ${ruleLabel(v.rule)})` });
      continue;
    }
    const step = (from: number, to: number): Step => ({ kind: 'set-numvfs', device: pf.key, from, to, group: pf.iommuGroup });
    // The kernel refuses to change one nonzero VF count into another (EBUSY): go through 0.
    out.set(pf.key, numVfs !== 0 && v.count !== 0 ? [step(numVfs, 0), step(0, v.count)] : [step(numVfs, v.count)]);
    if (!p) {
      const w: Want = { device: pf, target: wants.get(pf.key)?.target ?? { kind: 'driver', driver: pf.driver }, rule: v.rule };
      planned.set(pf.key, planDevice(w, null, reasonFor(ctx, w)));
    }
  }
  return out;
}

// ### 4: In-use guards: no unbind (or VF teardown) pulls a device out from under its users unless forced.
function checkInUse(ctx: Ctx, planned: Map<DeviceKey, Planned>, numvfs: Map<DeviceKey, Step[]>, force: boolean): void {
  const subjects = sorted(planned).map((p): GuardSubject => {
    const unbinds = p.tr?.unbind ?? null;
    const vfs = p.device.virtfns ?? [];
    // A PF that leaves its driver takes its VFs along; the kernel changes a VF count only from or
    // to 0, so any set-numvfs on a PF with VFs removes all of them first.
    const resets = (numvfs.get(p.device.key) ?? []).some((s) => s.kind === 'set-numvfs' && s.to === 0);
    const how = unbinds !== null ? `the plan unbinds ${p.device.name} from ${unbinds}` : resets ? `the plan sets sriov_numvfs of ${p.device.name} to 0` : null;
    const destroysVfs = how !== null && vfs.length > 0 ? { vfs, how } : null;
    return { device: p.device, change: p.change, unbinds, destroysVfs, ...(p.rule && { rule: p.rule }) };
  });
  const outcome = inUseGuards(ctx.host, subjects, force);
  for (const key of outcome.forced) planned.get(key)!.change.forced = true;
  ctx.warnings.push(...outcome.warnings);
  for (const b of outcome.blocked) block(ctx, b);
}

// ### 5: Drivers that are not registered yet: one module load each, before everything else.
function planModules(ctx: Ctx, planned: Map<DeviceKey, Planned>): Step[] {
  const needed = new Map<string, { driver: string; bus: Device['bus']; lines: Set<number>; rule?: Change['rule'] }>();
  for (const p of sorted(planned)) {
    const driver = p.change.after.driver;
    const bus = p.device.bus;
    if (typeof driver !== 'string' || ctx.host.drivers[bus].includes(driver)) continue;
    const module = moduleNameOf(driver);
    const entry = needed.get(module) ?? { driver, bus, lines: new Set<number>(), rule: p.change.rule };
    if (p.change.rule) entry.lines.add(p.change.rule.line);
    needed.set(module, entry);
  }
  const steps: Step[] = [];
  const { known, available } = ctx.host.modules;
  for (const [module, { driver, bus, lines, rule }] of [...needed].sort(([a], [b]) => compareKeys(a, b))) {
    const where = lines.size > 0 ? ` (${lines.size === 1 ? 'line' : 'lines'} ${[...lines].sort((a, b) => a - b).join(', ')})` : '';
    if (known && !available.includes(module)) {
      block(ctx, {
        code: 'unknown-driver',
        message: `driver ${driver}${where} is not registered on the ${bus} bus, and this kernel has no module ${module}`,
        rule,
        fix: `check the name; \`modinfo ${module}\` shows whether the module exists`,
      });
      continue;
    }
    if (!known) {
      ctx.warnings.push({ message: `could not check that module ${module} exists (no module list for this kernel); the plan loads it and apply stops if that fails`, ...(rule && { rule }) });
    }
    steps.push({ kind: 'load-module', module, driver, bus, group: null });
    // The load attaches the driver to every unbound device whose override already names it (left
    // by driverctl or an earlier tool). No step of the plan does that, so the plan has to say it.
    for (const d of ctx.host.devices) {
      if (d.bus !== bus || d.driver !== null || d.override !== driver || planned.has(d.key)) continue;
      ctx.warnings.push({
        message: `loading ${module} also binds ${d.name} to ${driver}: its driver_override already names ${driver} (left by an earlier tool such as driverctl); add a rule for it, or clear its override`,
        device: d.key,
      });
    }
  }
  return steps;
}

// ### 6: Per group, in numeric order: VF counts, overrides, unbinds, probes, verifies. Writing
// every override before any unbind closes the window in which a module load or udev grabs the
// freshly unbound device.
function groupSteps(planned: Map<DeviceKey, Planned>, numvfs: Map<DeviceKey, Step[]>): Step[] {
  const byGroup = new Map<string | null, Planned[]>();
  for (const p of sorted(planned)) {
    const list = byGroup.get(p.change.group) ?? [];
    list.push(p);
    byGroup.set(p.change.group, list);
  }
  const steps: Step[] = [];
  for (const group of [...byGroup.keys()].sort(compareGroups)) {
    const members = byGroup.get(group)!;
    for (const p of members) steps.push(...(numvfs.get(p.device.key) ?? []));
    for (const { device, tr, change } of members) {
      if (tr?.setOverride) steps.push({ kind: 'set-override', device: device.key, from: device.override, to: change.after.override, group });
    }
    for (const { device, tr } of members) {
      if (tr?.unbind) steps.push({ kind: 'unbind', device: device.key, driver: tr.unbind, group });
    }
    for (const { device, tr } of members) {
      if (tr?.probe) steps.push({ kind: 'probe', device: device.key, group });
    }
    for (const { device, tr, change } of members) {
      if (tr) steps.push({ kind: 'verify', device: device.key, driver: change.after.driver, override: change.after.override, group });
    }
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------

function sorted(planned: Map<DeviceKey, Planned>): Planned[] {
  return [...planned.values()].sort((a, b) => compareKeys(a.device.key, b.device.key));
}

function mustGet(ctx: Ctx, key: DeviceKey): Device {
  const device = ctx.byKey.get(key);
  // resolve() builds Desired from this host, so a missing device is a bug, not a user error.
  if (!device) throw new Error(`desired state names ${key}, which the host does not have`);
  return device;
}

function ruleRef(rule: Rule): NonNullable<Change['rule']> {
  return rule.name === undefined ? { index: rule.index, line: rule.pos.line } : { index: rule.index, name: rule.name, line: rule.pos.line };
}

function afterText(driver: string | null | undefined): string {
  return driver === undefined ? 'driver chosen by the kernel' : driver === null ? 'unbound' : driver;
}

function warn(ctx: Ctx, message: string, device: Device, rule?: Rule): void {
  ctx.warnings.push({ message, device: device.key, ...(rule && { rule: ruleRef(rule) }) });
}

/** Keeps absent fields absent (not `undefined`), so plans compare and serialise cleanly. */
function block(ctx: Ctx, { rule, ...rest }: Blocked): void {
  ctx.blocked.push(rule ? { ...rest, rule } : rest);
}
