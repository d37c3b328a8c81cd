// The planner: (Host, Desired, options) -> Plan. No I/O, no clock, no randomness: the same inputs
// give the same plan whatever order the devices arrive in, so a plan can be reviewed, saved and
// compared. Steps follow design.md "Plan": module loads first, then each IOMMU group in numeric
// order with its set-numvfs -> set-override -> unbind -> probe -> verify (a VF count change brings
// the new VFs' steps along, sriov.ts), then mediated devices (mdevs.ts).

import { fingerprint } from '../domain/fingerprint.js';
import { isVfioDriver, moduleNameOf } from '../domain/names.js';
import type { Change, Desired, Device, DeviceKey, GroupPolicy, Host, Plan, PlanOptions, Step } from '../domain/types.js';
import { ruleLabel } from '../desire/resolve.js';
import { block, mustGet, planDevice, reasonFor, ruleRef, sorted, warn, type Ctx, type Planned, type Want } from './context.js';
import { compareGroups, compareKeys, groupMembers, siblingVfioDriver, usesDmaOwnership, whyBlocks } from './groups.js';
import { inUseGuards, type GuardSubject } from './guards.js';
import { planMdevs } from './mdevs.js';
import { applyVfCounts, dropVfsOfRebound, planDefaultVfs, vfCounts, vfCountSteps, type VfCount } from './sriov.js';
import { transition } from './transition.js';

export type PlannerOptions = PlanOptions & {
  /** Overrides the state file's `options.iommuGroups` (strict by default). */
  iommuGroups?: GroupPolicy;
};

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
  const counts = vfCounts(ctx, desired);
  applyVfCounts(ctx, counts);
  const wants = collectWants(ctx, desired, counts);
  const planned = new Map<DeviceKey, Planned>();
  for (const w of wants.values()) {
    const tr = transition(w.device, w.target);
    if (tr) planned.set(w.device.key, planDevice(w, tr, reasonFor(ctx, w)));
  }
  const deferred = dropVfsOfRebound(ctx, desired, planned);
  planDefaultVfs(ctx, counts, planned);
  checkGroups(ctx, wants, planned, opts.iommuGroups ?? desired.state.options.iommuGroups);
  checkIommuPresent(ctx, planned);
  const blocks = vfCountBlocks(ctx, counts, planned);
  checkInUse(ctx, planned, counts, opts.force ?? false);
  const mdevs = planMdevs(ctx, desired, planned, opts.force ?? false);
  const steps = [...planModules(ctx, planned, deferred), ...groupSteps(planned, blocks), ...mdevs.steps];
  return {
    // Hosts arrive sorted by key from observe; sorting again keeps the plan order-independent.
    fingerprint: fingerprint({ ...host, devices: [...host.devices].sort((a, b) => compareKeys(a.key, b.key)) }),
    changes: sorted(planned).map((p) => p.change),
    steps,
    warnings: ctx.warnings,
    blocked: ctx.blocked,
    applyable: ctx.blocked.length === 0,
    ...(mdevs.changes.length > 0 ? { mdevs: mdevs.changes } : {}),
  };
}

// ### 1: What is wanted: rule bindings, the VFs of `vfs:` rules, and prune of what no rule covers.
// Against the devices as they will be (ctx.byKey): VFs a count change destroys want nothing.
function collectWants(ctx: Ctx, desired: Desired, counts: VfCount[]): Map<DeviceKey, Want> {
  const wants = new Map<DeviceKey, Want>();
  const covered = new Set<DeviceKey>();
  const dying = new Set(counts.flatMap((c) => c.dying.map((d) => d.key)));
  const predicted = new Set((desired.created ?? []).map((d) => d.key));
  for (const b of [...desired.bindings].sort((x, y) => compareKeys(x.device, y.device))) {
    // A VF that dies with its PF's old count, or one predicted for a count this plan does not set.
    if (!ctx.byKey.has(b.device) && (dying.has(b.device) || predicted.has(b.device))) continue;
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
    if (!pf.sriov || v.target.kind === 'default') continue; // vfCounts reports a missing sriov
    // The VFs there will be: the ones a count change creates (known in advance), or the ones there
    // are when the count stays. A count change whose VFs cannot be predicted binds them next time.
    const count = counts.find((c) => c.pf.key === pf.key);
    const vfs = count ? count.created.map((d) => d.key) : pf.sriov.numVfs === v.count ? (pf.virtfns ?? []) : [];
    for (const vf of vfs) {
      covered.add(vf);
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
    // A VF this plan creates gets an IOMMU group when its PF has one.
    const pf = p.device.predicted ? ctx.byKey.get(p.device.physfn!) : undefined;
    const group = pf ? pf.iommuGroup : p.device.iommuGroup;
    if (group !== null || !isVfioDriver(driver)) continue;
    block(ctx, {
      code: 'no-iommu-group',
      message: pf
        ? `${p.device.name}, a VF this plan creates on ${pf.name}, will have no IOMMU group (${pf.name} has none), so ${driver} refuses to bind it (its probe fails with EINVAL)`
        : `${p.device.name} has no IOMMU group, so ${driver} refuses to bind it (its probe fails with EINVAL)`,
      device: p.device.key,
      rule: p.change.rule,
      fix: 'turn the IOMMU on: VT-d or AMD-Vi in the firmware, and intel_iommu=on on the kernel command line (amd_iommu is on by default); without an IOMMU only vfio.enable_unsafe_noiommu_mode=1 binds it, with no DMA isolation',
    });
  }
}

// ### 3: SR-IOV VF counts (sriov.ts): each PF's block of steps, placed in the PF's group before any
// rebinding there. A PF whose only change is its VF count joins the plan with no binding change.
function vfCountBlocks(ctx: Ctx, counts: VfCount[], planned: Map<DeviceKey, Planned>): Map<DeviceKey, Step[]> {
  const out = new Map<DeviceKey, Step[]>();
  for (const c of counts) {
    out.set(c.pf.key, vfCountSteps(c, planned));
    if (!planned.has(c.pf.key)) {
      const w: Want = { device: c.pf, target: { kind: 'driver', driver: c.pf.driver! }, rule: c.rule };
      planned.set(c.pf.key, planDevice(w, null, reasonFor(ctx, w)));
    }
  }
  return out;
}

// ### 4: In-use guards: no unbind (or VF teardown) pulls a device out from under its users unless forced.
function checkInUse(ctx: Ctx, planned: Map<DeviceKey, Planned>, counts: VfCount[], force: boolean): void {
  const subjects = sorted(planned).map((p): GuardSubject => {
    const unbinds = p.tr?.unbind ?? null;
    const count = counts.find((c) => c.pf.key === p.device.key);
    const vfs = count ? count.dying.map((d) => d.key) : (p.device.virtfns ?? []);
    // A PF that leaves its driver takes its VFs along; the kernel changes a VF count only from or
    // to 0, so any count change on a PF with VFs removes all of them first.
    const resets = count !== undefined && count.from > 0;
    const how = unbinds !== null ? `the plan unbinds ${p.device.name} from ${unbinds}` : resets ? `the plan sets sriov_numvfs of ${p.device.name} to 0` : null;
    const destroysVfs = how !== null && vfs.length > 0 ? { vfs, how } : null;
    return { device: p.device, change: p.change, unbinds, destroysVfs, ...(p.rule && { rule: p.rule }) };
  });
  const outcome = inUseGuards(ctx.host, subjects, force);
  for (const key of outcome.forced) planned.get(key)!.change.forced = true;
  ctx.warnings.push(...outcome.warnings);
  for (const b of outcome.blocked) block(ctx, b);
}

// ### 5: Drivers that are not registered yet: one module load each, before everything else. The
// changes a later apply makes (`deferred`: VFs that go with their PF's rebind) load nothing now, but
// a driver they name that does not exist blocks the plan already: the next one could not converge.
function planModules(ctx: Ctx, planned: Map<DeviceKey, Planned>, deferred: Planned[]): Step[] {
  const needed = new Map<string, { driver: string; bus: Device['bus']; lines: Set<number>; rule?: Change['rule']; now: boolean }>();
  for (const [p, now] of [...sorted(planned).map((x) => [x, true] as const), ...deferred.map((x) => [x, false] as const)]) {
    const driver = p.change.after.driver;
    const bus = p.device.bus;
    if (typeof driver !== 'string' || ctx.host.drivers[bus].includes(driver)) continue;
    const module = moduleNameOf(driver);
    const entry = needed.get(module) ?? { driver, bus, lines: new Set<number>(), rule: p.change.rule, now };
    if (p.change.rule) entry.lines.add(p.change.rule.line);
    entry.now ||= now;
    needed.set(module, entry);
  }
  const steps: Step[] = [];
  const { known, available } = ctx.host.modules;
  for (const [module, { driver, bus, lines, rule, now }] of [...needed].sort(([a], [b]) => compareKeys(a, b))) {
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
    if (!now) continue;
    if (!known) {
      ctx.warnings.push({ message: `could not check that module ${module} exists (no module list for this kernel); the plan loads it and apply stops if that fails`, ...(rule && { rule }) });
    }
    steps.push({ kind: 'load-module', module, driver, bus, group: null });
    // The load attaches the driver to every unbound device whose override already names it (left
    // by driverctl or an earlier tool). No step of the plan does that, so the plan has to say it.
    for (const d of [...ctx.host.devices].sort((a, b) => compareKeys(a.key, b.key))) {
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
// freshly unbound device. New VFs have their steps in their PF's block.
function groupSteps(planned: Map<DeviceKey, Planned>, numvfs: Map<DeviceKey, Step[]>): Step[] {
  const byGroup = new Map<string | null, Planned[]>();
  for (const p of sorted(planned)) {
    if (p.device.predicted) continue;
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

function afterText(driver: string | null | undefined): string {
  return driver === undefined ? 'driver chosen by the kernel' : driver === null ? 'unbound' : driver;
}
