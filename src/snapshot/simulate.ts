// `apply --simulate`: the whole apply, executor and rollback included, run on a kernel model rebuilt
// from the host the plan was made against (a snapshot, or the tree under --sysfs-root), then the
// predicted end state of every device the plan touches and whether each touched IOMMU group can be
// handed to VFIO afterwards. The model is all that is written to; it knows the kernel's binding
// rules, not the hardware, and the report says what that leaves out.

import { execute } from '../apply/executor.js';
import type { ApplyResult } from '../apply/result.js';
import type { RunEnv } from '../cli/context.js';
import { targetText } from '../desire/resolve.js';
import { isVfioDriver, splitKey } from '../domain/names.js';
import type { Bus, Host, Plan } from '../domain/types.js';
import { KernelModel } from '../kernel/model.js';
import { observe } from '../observe/observe.js';
import { groupVerdict } from '../plan/groups.js';
import { hostDefaults } from './capture.js';
import type { DefaultDriver } from './document.js';
import { defaultBindings } from './env.js';

interface Binding {
  driver: string | null;
  override: string | null;
}

export interface SimulatedDevice {
  address: string;
  bus: Bus;
  /** As written in the state file: a driver name, `default` or `none`. */
  target: string;
  before: Binding;
  after: Binding;
  /** The end state is what the plan promised (for `default`: any driver, override cleared). */
  as_planned: boolean;
  /** Why the device ends where it does, when that needs saying. */
  note: string | null;
}

export interface SimulatedGroup {
  group: string;
  /** Every member is unbound or on a driver that leaves DMA to user space (groupVerdict). */
  viable: boolean;
  /** Members on a VFIO driver after the apply: the group is meant for a VM when there are any. */
  vfio_members: string[];
  blockers: { address: string; driver: string; why: string }[];
}

export interface SimulationReport {
  outcome: ApplyResult['outcome'];
  devices: SimulatedDevice[];
  groups: SimulatedGroup[];
  /** Mediated devices the apply created or removed. */
  mdevs: { uuid: string; parent: string; type: string; change: 'created' | 'removed' }[];
  /** What the prediction cannot know. */
  unknowns: string[];
}

const ALWAYS_UNKNOWN = [
  'whether each probe succeeds on the hardware (firmware, device resets, a driver refusing the device): the model binds whenever the kernel\'s match rules allow',
  'udev rules, driverctl, vfio-pci ids= and modprobe.d blacklists or softdeps, which can change what binds',
  'asynchronous and deferred probes: the model finishes every probe at once',
];

export async function simulateApply(plan: Plan, host: Host, env: RunEnv): Promise<{ result: ApplyResult; report: SimulationReport }> {
  const defaults = hostDefaults(env, host);
  const model = KernelModel.fromHost(host, defaultBindings(defaults));
  const unknowns = [...ALWAYS_UNKNOWN];
  if (env.snapshot) unknowns.push(`anything that changed on the host since the snapshot was taken (${env.snapshot.doc.created})`);
  if (!host.modules.known) {
    // The plan loads modules it could not check; so does the simulation, assuming they exist.
    for (const s of plan.steps) {
      if (s.kind !== 'load-module') continue;
      model.module(s.module);
      if (!model.state.driver(s.bus, s.driver)) model.driver(s.bus, s.driver, { module: s.module, loaded: false });
      unknowns.push(`whether module ${s.module} exists: the host has no module list, so it is assumed to`);
    }
  }
  const result = await execute(plan, { sysfs: model, modules: model });
  const after = observe(model, host.kernelRelease !== undefined ? { kernelRelease: host.kernelRelease } : {});
  const byKey = new Map(after.devices.map((d) => [d.key, d]));

  const devices = plan.changes.map((c): SimulatedDevice => {
    const { bus, name } = splitKey(c.device);
    const now = byKey.get(c.device);
    const end: Binding = now ? { driver: now.driver, override: now.override } : { driver: null, override: null };
    const promised = c.after.driver === undefined ? true : end.driver === c.after.driver;
    const def = defaults[c.device];
    let note: string | null = now ? null : 'the device is gone from the model';
    if (now && c.target.kind === 'default' && result.outcome === 'applied') note = defaultNote(end.driver, def, model, bus);
    if (def?.source === 'unknown' && c.target.kind === 'default') {
      unknowns.push(`which driver the kernel picks for ${name}: no modules.alias entry matches it and no host driver holds it`);
    }
    return { address: name, bus, target: targetText(c.target), before: c.before, after: end, as_planned: promised && end.override === c.after.override, note };
  });

  const touched = [...new Set(plan.changes.map((c) => c.group).filter((g): g is string => g !== null))];
  const groups = touched.map((group): SimulatedGroup => {
    const verdict = groupVerdict(after, group);
    return {
      group,
      viable: verdict.viable,
      vfio_members: (after.groups[group] ?? []).filter((k) => isVfioDriver(byKey.get(k)?.driver ?? null)).map((k) => splitKey(k).name),
      blockers: verdict.blockers.map((b) => ({ address: splitKey(b.device).name, driver: b.driver, why: b.why })),
    };
  });
  const uuids = (h: Host) => new Set((h.mdevs?.devices ?? []).map((m) => m.uuid));
  const [before, now] = [uuids(host), uuids(after)];
  const mdevs: SimulationReport['mdevs'] = [
    ...(after.mdevs?.devices ?? []).filter((m) => !before.has(m.uuid)).map((m) => ({ uuid: m.uuid, parent: m.parent, type: m.type, change: 'created' as const })),
    ...(host.mdevs?.devices ?? []).filter((m) => !now.has(m.uuid)).map((m) => ({ uuid: m.uuid, parent: m.parent, type: m.type, change: 'removed' as const })),
  ];
  return { result, report: { outcome: result.outcome, devices, groups, mdevs, unknowns: [...new Set(unknowns)] } };
}

/** What a `default` target led to, and on what evidence. */
function defaultNote(driver: string | null, def: DefaultDriver | undefined, model: KernelModel, bus: Bus): string {
  const evidence = def?.source === 'bound' ? 'the host driver it was on' : def?.source === 'modules.alias' ? `modules.alias, module ${def.module}` : null;
  if (driver !== null) return `the kernel's choice${evidence && def?.driver === driver ? `, from ${evidence}` : ''}`;
  if (def?.driver && !model.registeredDrivers(bus).includes(def.driver)) {
    return `nothing binds it: its default driver ${def.driver} is not loaded${def.module ? ` (modprobe ${def.module}, or reboot)` : ''}; clearing the override does not load modules`;
  }
  return def?.driver ? `nothing binds it, although ${def.driver} was expected` : 'nothing binds it: the kernel\'s default for this device is unknown';
}
