// The parts of an observed Host that KernelModel.fromHost adds after the devices (from-host.ts):
// VFIO variant aliases and mediated-device parents with their mdevs. A Host tells how many instances
// of a type are left, not how many there were: the model gets that many plus the existing ones of
// the type, each type counted on its own (a shared pool, like mtty's, is not visible in sysfs).

import type { Host } from '../domain/types.js';
import type { KernelModel } from './model.js';

export function buildExtrasFromHost(k: KernelModel, host: Host): void {
  for (const a of host.modules.vfioAliases ?? []) k.module(a.module, { aliases: [a.pattern] });
  const mdevs = host.mdevs?.devices ?? [];
  for (const p of host.mdevs?.parents ?? []) {
    const mine = mdevs.filter((m) => m.parent === p.name);
    k.mdevParent(p.name, {
      types: p.types.map((t) => ({
        id: t.id,
        instances: t.availableInstances + mine.filter((m) => m.type === t.id).length,
        ...(t.name !== undefined ? { name: t.name } : {}),
        ...(t.deviceApi !== undefined ? { deviceApi: t.deviceApi } : {}),
        ...(t.description !== undefined ? { description: t.description } : {}),
      })),
      mdevDriver: mine.find((m) => m.driver !== null)?.driver ?? 'vfio_mdev',
    });
    for (const m of mine) k.mdev(m.uuid, { parent: p.name, type: m.type });
  }
}
