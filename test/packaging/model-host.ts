// The real CLI against the example GPU host as a kernel model that lives across processes: every
// write and module load the "kernel" completes is appended to a log, and each run starts from the
// log replayed. Recipes (an Ansible play, a Proxmox hook) run it as their `vfio-reconcile` and see
// a host whose drivers really move.
//
//   node dist/test/packaging/model-host.js <log.json> <cli args...>

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execute } from '@oclif/core';
import { injectEnv } from '../../src/cli/context.js';
import { packageRoot } from '../../src/cli/paths.js';
import type { KernelModel } from '../../src/kernel/model.js';
import type { ModulePort, SysfsPort } from '../../src/sysfs/port.js';
import { replay, type Completed } from '../state/support.js';

/** The host as the runs logged in `logFile` left it. */
export async function hostAfter(logFile: string): Promise<KernelModel> {
  return replay(existsSync(logFile) ? (JSON.parse(readFileSync(logFile, 'utf8')) as Completed[]) : []);
}

// Only as a script: a test runner that imports every file in this directory must not start a CLI.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));

async function main([logFile, ...argv]: string[]): Promise<void> {
  const log: Completed[] = existsSync(logFile!) ? (JSON.parse(readFileSync(logFile!, 'utf8')) as Completed[]) : [];
  const model = await replay(log);
  const completed = (event: Completed) => (): void => {
    log.push(event);
    writeFileSync(logFile!, JSON.stringify(log));
  };
  const sysfs: SysfsPort = {
    root: model.root,
    read: (p) => model.read(p),
    readLink: (p) => model.readLink(p),
    list: (p) => model.list(p),
    write: (p, v) => model.write(p, v).then(completed({ write: p, value: v })),
  };
  const modules: ModulePort = {
    available: () => model.available(),
    load: (m) => model.load(m).then(completed({ load: m })),
  };
  injectEnv(() => ({ sysfs, modules, hostname: process.env.MODEL_HOSTNAME ?? 'pve-lab', kernelRelease: model.kernel }));
  await execute({ dir: pathToFileURL(join(packageRoot, 'bin/run.js')).href, args: argv });
}
