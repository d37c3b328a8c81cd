// Mediated devices in the plan (kernel-abi.md section 7; mdevctl's model: uuid, parent, type and
// ordered attributes). An entry that exists as declared is left alone; a missing one is created
// after checking that its parent offers the type with an instance free; one on another parent or
// type is removed and created again; an mdev an earlier apply created that no entry declares any
// more is removed (prune). Removing an mdev a VM holds blocks in the kernel, so the in-use guard
// refuses it unless forced. Steps: every removal first (freeing instances), then each creation
// followed by its attributes.

import { mdevKey, mdevUuidOf } from '../domain/names.js';
import type { Desired, DeviceKey, Mdev, MdevChange, MdevParent, Step } from '../domain/types.js';
import { block, type Ctx, type Planned } from './context.js';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function planMdevs(ctx: Ctx, desired: Desired, planned: Map<DeviceKey, Planned>, force: boolean): { changes: MdevChange[]; steps: Step[] } {
  const parents = new Map((ctx.host.mdevs?.parents ?? []).map((p) => [p.name, p]));
  const existing = new Map((ctx.host.mdevs?.devices ?? []).map((m) => [m.uuid, m]));
  const changes: MdevChange[] = [];

  for (const d of desired.mdevs ?? []) {
    const now = existing.get(d.uuid);
    if (now && now.parent === d.parent && now.type === d.type) continue;
    const spec = { index: d.spec.index, line: d.spec.pos.line };
    const parent = parents.get(d.parent)!;
    const where = `mdevs[${d.spec.index}] (line ${d.spec.pos.line})`;
    const rebind = parent.device !== undefined ? planned.get(parent.device) : undefined;
    if (rebind?.tr && (rebind.tr.unbind !== null || rebind.tr.probe)) {
      block(ctx, {
        code: 'mdev-parent-rebind',
        message: `${where} wants mdev ${d.uuid} on ${d.parent}, which this plan moves to another driver; its mdev types exist only while its own driver holds it`,
        fix: `keep ${d.parent} on its driver (${rebind.device.driver ?? 'unbound'}) in the rules, or drop the mdev`,
      });
      continue;
    }
    if (!parent.types.some((t) => t.id === d.type)) {
      block(ctx, {
        code: 'mdev-type',
        message: `${where}: ${d.parent} offers no mdev type ${d.type}`,
        fix: parent.types.length ? `use one of its types: ${parent.types.map((t) => t.id).join(', ')}` : `${d.parent} lists no types in mdev_supported_types`,
      });
      continue;
    }
    changes.push({ uuid: d.uuid, before: now ? { parent: now.parent, type: now.type } : null, after: { parent: d.parent, type: d.type, attrs: d.attrs }, reason: 'spec', spec, forced: false });
  }
  const declared = new Set((desired.mdevs ?? []).map((d) => d.uuid));
  for (const key of [...ctx.managed].sort()) {
    const uuid = mdevUuidOf(key);
    const now = uuid === null ? undefined : existing.get(uuid);
    if (!now || declared.has(now.uuid)) continue;
    changes.push({ uuid: now.uuid, before: { parent: now.parent, type: now.type }, after: null, reason: 'prune', forced: false });
  }
  changes.sort((a, b) => (a.uuid < b.uuid ? -1 : 1));

  checkInstances(ctx, changes, parents);
  guardRemovals(ctx, changes, force);
  return { changes, steps: mdevSteps(changes, existing) };
}

/** Each type must have an instance for every creation, counting the ones this plan frees first. */
function checkInstances(ctx: Ctx, changes: MdevChange[], parents: Map<string, MdevParent>): void {
  const tally = new Map<string, number>();
  const at = (parent: string, type: string) => `${parent}\0${type}`;
  for (const c of changes) {
    if (c.before) tally.set(at(c.before.parent, c.before.type), (tally.get(at(c.before.parent, c.before.type)) ?? 0) - 1);
    if (c.after) tally.set(at(c.after.parent, c.after.type), (tally.get(at(c.after.parent, c.after.type)) ?? 0) + 1);
  }
  for (const [k, wanted] of tally) {
    const [parent, type] = k.split('\0') as [string, string];
    const available = parents.get(parent)?.types.find((t) => t.id === type)?.availableInstances ?? 0;
    if (wanted <= available) continue;
    block(ctx, {
      code: 'mdev-instances',
      message: `mdev type ${type} on ${parent} has ${plural(available, 'instance')} available (available_instances), and the plan creates ${wanted}${wanted === 1 ? '' : ' more than it removes'}`,
      fix: `remove an mdev of type ${type} on ${parent}, or declare fewer; types of ${parent}: ${(parents.get(parent)?.types ?? []).map((t) => `${t.id} (${t.availableInstances} available)`).join(', ')}`,
    });
  }
}

/** Removing an mdev a process holds through VFIO hangs until it lets go: refuse unless forced. */
function guardRemovals(ctx: Ctx, changes: MdevChange[], force: boolean): void {
  for (const c of changes) {
    if (!c.before) continue;
    const facts = ctx.host.usage?.[mdevKey(c.uuid)] ?? [];
    if (facts.length === 0) continue;
    const message = `mdev ${c.uuid} (${c.before.type} on ${c.before.parent}) is in use: ${facts.map((f) => f.detail).join('; ')} (the plan removes it${c.after ? ' to create it again as declared' : ''})`;
    if (force) {
      c.forced = true;
      ctx.warnings.push({ message: `forced past the in-use guard (vfio-open): ${message}; --force` });
      continue;
    }
    block(ctx, { code: 'in-use', message, fix: 'shut down the VM (or stop the process) holding it; or pass --force' });
  }
}

function mdevSteps(changes: MdevChange[], existing: Map<string, Mdev>): Step[] {
  const steps: Step[] = [];
  for (const c of changes) {
    if (c.before) steps.push({ kind: 'remove-mdev', uuid: c.uuid, parent: c.before.parent, type: c.before.type, group: existing.get(c.uuid)?.iommuGroup ?? null });
  }
  for (const c of changes) {
    if (!c.after) continue;
    steps.push({ kind: 'create-mdev', uuid: c.uuid, parent: c.after.parent, type: c.after.type, group: null });
    for (const a of c.after.attrs) steps.push({ kind: 'set-mdev-attr', uuid: c.uuid, attr: a.name, value: a.value, group: null });
  }
  return steps;
}
