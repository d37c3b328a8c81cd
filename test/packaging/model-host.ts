// The real CLI against the example GPU host as a kernel model that lives across processes: every
// write and module load the "kernel" completes is appended to a log, and each run starts from the
// log replayed. Recipes (an Ansible play, a Proxmox hook) run it as their `vfio-reconcile` and see
// a host whose drivers really move.
//
//   node dist/test/packaging/model-host.js <log.json> <cli args...>

import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { KernelModel } from '../../src/kernel/model.js';
import { replay, runCliOnModel, type Completed } from '../state/support.js';

/** The host as the runs logged in `logFile` left it. */
export async function hostAfter(logFile: string): Promise<KernelModel> {
  return replay(existsSync(logFile) ? (JSON.parse(readFileSync(logFile, 'utf8')) as Completed[]) : []);
}

// Only as a script: a test runner that imports every file in this directory must not start a CLI.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));

async function main([logFile, ...argv]: string[]): Promise<void> {
  const log: Completed[] = existsSync(logFile!) ? (JSON.parse(readFileSync(logFile!, 'utf8')) as Completed[]) : [];
  await runCliOnModel(await replay(log), log, logFile!, argv, process.env.MODEL_HOSTNAME ?? 'pve-lab');
}
