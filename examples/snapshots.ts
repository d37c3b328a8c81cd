// Snapshots of the bundled example hosts, as `vfio-reconcile snapshot` writes them on a live host:
// the devices from examples/hosts.ts plus what only a live host shows (its names and what holds its
// devices), so `plan --snapshot examples/<name>/snapshot.json` demonstrates planning in CI,
// offline guards included. `npm run examples` writes them; a test keeps them in sync.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceKey, UsageFact } from '../src/domain/types.js';
import { captureHost } from '../src/snapshot/capture.js';
import { toSnapshotDocument } from '../src/snapshot/document.js';
import type { KernelModel } from '../src/kernel/model.js';

interface Profile {
  hostname: string;
  dmiProduct: string;
  machineId: string;
  usage: Record<DeviceKey, UsageFact[]>;
}

const PROFILES: Record<string, Profile> = {
  'gpu-passthrough': {
    hostname: 'pve-1',
    dmiProduct: 'ProArt Z790-CREATOR WIFI',
    machineId: '6f1d8c2a9b3e4d5f8a7b6c5d4e3f2a1b',
    usage: {
      'pci/0000:00:1f.6': [{ kind: 'netif', detail: 'interface vmbr0 (under eno1) up with 192.0.2.10/24, carrying the default route' }],
      'pci/0000:04:00.0': [{ kind: 'mount', detail: '/dev/nvme0n1 → nvme0n1p2 mounted on /, /boot/efi' }],
    },
  },
  'dpdk-nic': {
    hostname: 'dpdk-1',
    dmiProduct: 'PowerEdge R650',
    machineId: '2b7e151628aed2a6abf7158809cf4f3c',
    usage: { 'pci/0000:19:00.0': [{ kind: 'netif', detail: 'interface eno1 up with 198.51.100.7/24, carrying the default route' }] },
  },
  'mdev-gpu': {
    hostname: 'vdi-1',
    dmiProduct: 'ProLiant DL380 Gen10',
    machineId: '5c0e1f7a3b9d4e2c8f6a1b0d9e8c7f6a',
    usage: { 'pci/0000:01:00.0': [{ kind: 'mount', detail: '/dev/nvme0n1 → nvme0n1p2 mounted on /' }] },
  },
  'arm-board': {
    hostname: 'arm-1',
    dmiProduct: 'Overdrive 1000',
    machineId: '9a8b7c6d5e4f30211203f4e5d6c7b8a9',
    usage: { 'platform/e0900000.xgmac': [{ kind: 'netif', detail: 'interface eth1 up with 203.0.113.5/24, carrying the default route' }] },
  },
};

/** Fixed, so that regenerating changes nothing unless the hosts do. */
const CREATED = new Date('2025-01-01T00:00:00Z');

/** `make`: the example's kernel model (examples/hosts.ts EXAMPLE_HOSTS[name]). */
export function exampleSnapshotText(name: string, make: () => KernelModel): string {
  const model = make();
  const p = PROFILES[name]!;
  const env = { sysfs: model, modules: model, hostname: p.hostname, kernelRelease: model.kernel, dmiProduct: p.dmiProduct, machineId: p.machineId };
  const captured = captureHost(env, { applied: {}, includeIds: false });
  captured.host.usage = p.usage;
  return `${JSON.stringify(toSnapshotDocument(captured, { created: CREATED, tool: 'vfio-reconcile (examples/snapshots.ts)' }), null, 2)}\n`;
}

/** Write every example host's snapshot as `base/<name>/snapshot.json`. */
export function writeExampleSnapshots(base: string, hosts: Record<string, () => KernelModel>): void {
  for (const [name, make] of Object.entries(hosts)) writeFileSync(join(base, name, 'snapshot.json'), exampleSnapshotText(name, make));
}
