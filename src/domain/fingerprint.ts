// A host fingerprint covers exactly what a plan depends on, so a saved plan can be refused as
// stale when the host moved (Terraform's "Saved plan is stale"), and nothing else.

import { createHash } from 'node:crypto';
import type { Host } from './types.js';

export function fingerprint(host: Host): string {
  const view = {
    devices: host.devices.map((d) => [
      d.key,
      d.vendor ?? '',
      d.device ?? '',
      d.class ?? '',
      d.driver,
      d.override,
      d.iommuGroup,
      d.sriov ? [d.sriov.numVfs, d.sriov.totalVfs, d.sriov.driversAutoprobe] : null,
    ]),
    drivers: host.drivers,
    // Only when there are mdevs, so that fingerprints of hosts without any stay what they were.
    ...(host.mdevs
      ? {
          mdevs: host.mdevs.devices.map((m) => [m.uuid, m.parent, m.type]),
          mdevTypes: host.mdevs.parents.map((p) => [p.name, p.types.map((t) => [t.id, t.availableInstances])]),
        }
      : {}),
  };
  return 'sha256:' + createHash('sha256').update(JSON.stringify(view)).digest('hex').slice(0, 32);
}
