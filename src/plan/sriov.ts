// SR-IOV VF counts in one apply. A `vfs:` count change becomes, in the PF's group:
//   unbind each VF that is bound (the count change destroys them all: the kernel changes a nonzero
//   count only through 0) -> sriov_drivers_autoprobe off -> sriov_numvfs through 0 to the new count
//   -> override, probe and verify each new VF (at its predicted address, desire/future-vfs.ts) ->
//   sriov_drivers_autoprobe back on -> probe the new VFs left to the kernel's choice.
// Autoprobe goes off only while VFs meant for a specific driver (or none) appear, so that no host VF
// driver grabs them first (kernel-abi.md section 6); the kernel then probes none of the new VFs, and
// the ones no rule claims are probed explicitly once it is back on.

import { isVfioDriver, moduleNameOf } from '../domain/names.js';
import type { Desired, Device, DeviceKey, Rule, RuleTarget, Step, Target } from '../domain/types.js';
import { unpredictable } from '../desire/future-vfs.js';
import { ruleLabel, targetText } from '../desire/resolve.js';
import { block, mustGet, planDevice, ruleRef, warn, type Ctx, type Planned } from './context.js';
import { compareKeys } from './groups.js';
import { transition } from './transition.js';

/** A VF count the plan sets. */
export interface VfCount {
  pf: Device;
  rule: Rule;
  /** What the `vfs:` block wants the VFs on. */
  target: Target;
  from: number;
  to: number;
  /** The VFs `to` creates, at predicted addresses; empty when none or when unpredictable. */
  created: Device[];
  /** The VFs there are now: all of them go. */
  dying: Device[];
}

/** Which VF counts the plan sets, with the checks a count change must pass (blocked or warned otherwise). */
export function vfCounts(ctx: Ctx, desired: Desired): VfCount[] {
  const createdByPf = new Map<DeviceKey, Device[]>();
  for (const vf of desired.created ?? []) createdByPf.set(vf.physfn!, [...(createdByPf.get(vf.physfn!) ?? []), vf]);
  const out: VfCount[] = [];
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
    const binding = desired.bindings.find((b) => b.device === pf.key);
    const tr = binding ? transition(pf, binding.target) : null;
    if (v.count > 0 && tr?.after.driver === null) {
      block(ctx, {
        code: 'no-pf-driver',
        message: `${ruleLabel(v.rule)} leaves ${pf.name} without a driver (none) and asks for ${v.count} VFs there, but only a PF driver creates VFs`,
        device: pf.key,
        rule,
        fix: `give ${pf.name} its PF driver (or default), or set vfs.count to 0`,
      });
      continue;
    }
    if (numVfs === v.count) continue;
    if (tr && (tr.probe || tr.unbind !== null)) {
      // Unbinding a PF destroys its VFs, and the new driver decides whether it can create any.
      // What the next apply could never do is still refused now: VFIO VFs of a PF with no group.
      const target = v.target as RuleTarget;
      const vfio = target.kind === 'vfio' ? 'a VFIO driver' : target.kind === 'driver' && isVfioDriver(target.driver) ? target.driver : null;
      if (v.count > 0 && pf.iommuGroup === null && vfio !== null) {
        block(ctx, {
          code: 'no-iommu-group',
          message: `${pf.name} has no IOMMU group, so the VFs ${ruleLabel(v.rule)} asks for would have none either, and ${vfio} refuses to bind them (its probe fails with EINVAL)`,
          device: pf.key,
          rule,
          fix: 'turn the IOMMU on (VT-d or AMD-Vi in the firmware, intel_iommu=on), or give the VFs a host driver',
        });
        continue;
      }
      const { known, available } = ctx.host.modules;
      const vfDriver = v.target.kind === 'driver' ? v.target.driver : null;
      if (v.count > 0 && vfDriver !== null && known && !ctx.host.drivers.pci.includes(vfDriver) && !available.includes(moduleNameOf(vfDriver))) {
        block(ctx, {
          code: 'unknown-driver',
          message: `driver ${vfDriver} for the VFs of ${pf.name} (${ruleLabel(v.rule)}) is not registered on the pci bus, and this kernel has no module ${moduleNameOf(vfDriver)}`,
          device: pf.key,
          rule,
          fix: `check the name; \`modinfo ${moduleNameOf(vfDriver)}\` shows whether the module exists`,
        });
        continue;
      }
      warn(ctx, `${pf.name} changes driver in this apply; run apply again to set its VF count to ${v.count}`, pf, v.rule);
      continue;
    }
    if (pf.driver === null) {
      block(ctx, { code: 'no-pf-driver', message: `${pf.name} has no driver, and only a PF driver creates VFs (sriov_numvfs gives ENOENT)`, device: pf.key, rule, fix: `bind ${pf.name} to its PF driver first (driver: <name> or default in ${ruleLabel(v.rule)})` });
      continue;
    }
    const created = v.count > 0 ? (createdByPf.get(pf.key) ?? []) : [];
    if (v.count > 0 && created.length !== v.count && v.target.kind !== 'default') {
      const why = unpredictable(pf) ?? `the addresses of ${pf.name}'s new VFs are not known in advance`;
      warn(ctx, `${pf.name} gets ${v.count} VFs in this apply, but ${why}: binding them to ${targetText(v.target)} needs a second apply, once they exist`, pf, v.rule);
    }
    const dying = (pf.virtfns ?? []).map((k) => ctx.host.devices.find((d) => d.key === k)).filter((d): d is Device => d !== undefined);
    out.push({ pf, rule: v.rule, target: v.target, from: numVfs, to: v.count, created, dying });
  }
  return out;
}

/**
 * A PF leaving its driver takes its VFs along (every SR-IOV driver's remove() disables SR-IOV), so
 * nothing can be planned for them in the same apply: they leave the plan, and the plan says so
 * (unless vfCounts already said the count is set next time).
 */
export function dropVfsOfRebound(ctx: Ctx, desired: Desired, planned: Map<DeviceKey, Planned>): Planned[] {
  const dropped: Planned[] = [];
  for (const p of [...planned.values()]) {
    const vfs = p.device.virtfns ?? [];
    if (p.tr?.unbind == null || vfs.length === 0) continue;
    for (const vf of vfs) {
      const gone = planned.get(vf);
      if (gone) dropped.push(gone);
      planned.delete(vf);
    }
    const spec = desired.vfs.find((v) => v.pf === p.device.key);
    if (spec && spec.count !== vfs.length) continue;
    const n = vfs.length === 1 ? '1 VF' : `${vfs.length} VFs`;
    warn(ctx, `${p.device.name} leaves ${p.tr.unbind} in this apply, which destroys its ${n}; run apply again to recreate ${vfs.length === 1 ? 'it' : 'them'}`, p.device, p.rule);
  }
  return dropped;
}

/** Devices as they will be: the VFs a count change destroys leave, the ones it creates arrive. */
export function applyVfCounts(ctx: Ctx, counts: VfCount[]): void {
  for (const c of counts) {
    for (const vf of c.dying) ctx.byKey.delete(vf.key);
    for (const vf of c.created) ctx.byKey.set(vf.key, vf);
  }
}

/** Whether new VFs must appear with autoprobe off: some of them are meant for a driver (or none). */
function autoprobeOff(c: VfCount, planned: Map<DeviceKey, Planned>): boolean {
  return c.pf.sriov!.driversAutoprobe && c.created.some((vf) => planned.has(vf.key) && planned.get(vf.key)!.change.target.kind !== 'default');
}

/**
 * New VFs left to the kernel's choice while autoprobe is off would stay unbound: they join the plan
 * with a probe once it is back on.
 */
export function planDefaultVfs(ctx: Ctx, counts: VfCount[], planned: Map<DeviceKey, Planned>): void {
  for (const c of counts) {
    if (!autoprobeOff(c, planned)) continue;
    for (const vf of c.created) {
      if (planned.has(vf.key)) continue;
      const tr = { after: { driver: undefined, override: vf.override }, setOverride: false, unbind: null, probe: true };
      planned.set(vf.key, planDevice({ device: vf, target: { kind: 'default' }, rule: c.rule }, tr, ctx.managed.has(vf.key) ? 'drift' : 'spec'));
    }
  }
}

/** The PF's block of steps (see the top of this file). */
export function vfCountSteps(c: VfCount, planned: Map<DeviceKey, Planned>): Step[] {
  const { pf } = c;
  const group = pf.iommuGroup;
  const steps: Step[] = [];
  for (const vf of c.dying) if (vf.driver !== null) steps.push({ kind: 'unbind', device: vf.key, driver: vf.driver, group: vf.iommuGroup });
  const off = autoprobeOff(c, planned);
  if (off) steps.push({ kind: 'set-autoprobe', device: pf.key, from: true, to: false, group });
  const numvfs = (from: number, to: number): Step => ({
    kind: 'set-numvfs',
    device: pf.key,
    from,
    to,
    group,
    ...(to > 0 && c.created.length > 0 ? { vfs: c.created.map((v) => v.key) } : {}),
  });
  // The kernel refuses to change one nonzero VF count into another (EBUSY): go through 0.
  if (c.from !== 0 && c.to !== 0) steps.push(numvfs(c.from, 0), numvfs(0, c.to));
  else steps.push(numvfs(c.from, c.to));
  const mine = c.created.map((vf) => planned.get(vf.key)).filter((p): p is Planned => p !== undefined && p.tr !== null);
  const steered = mine.filter((p) => p.change.target.kind !== 'default');
  const rest = mine.filter((p) => p.change.target.kind === 'default');
  // New VFs are unbound, so overrides, probes and verifies are all they need; their groups are not
  // known until they exist.
  const bindAll = (list: Planned[]): void => {
    for (const p of list) if (p.tr!.setOverride) steps.push({ kind: 'set-override', device: p.device.key, from: p.device.override, to: p.change.after.override, group: null });
    for (const p of list) if (p.tr!.probe) steps.push({ kind: 'probe', device: p.device.key, group: null });
    for (const p of list) steps.push({ kind: 'verify', device: p.device.key, driver: p.change.after.driver, override: p.change.after.override, group: null });
  };
  bindAll(steered);
  if (off) steps.push({ kind: 'set-autoprobe', device: pf.key, from: false, to: true, group });
  bindAll(rest);
  return steps;
}
