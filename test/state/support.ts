// Shared pieces of the state tests: a fake machine for the state dir (processes that live and die,
// a boot id that changes on "reboot", a clock that moves), a kernel model injected into the CLI
// together with one of those processes, and readers for what ends up in the state dir.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gpuPassthrough } from '../../examples/hosts.js';
import { execute } from '@oclif/core';
import { pathToFileURL } from 'node:url';
import { injectEnv } from '../../src/cli/context.js';
import { packageRoot } from '../../src/cli/paths.js';
import type { ModulePort, SysfsPort } from '../../src/sysfs/port.js';
import type { Host } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { observe } from '../../src/observe/observe.js';
import type { ProcessId, StateHost } from '../../src/state/host.js';
import type { JournalRecord } from '../../src/state/records.js';
import { tempDir } from '../cli/harness.js';

/** Processes of one fake machine: each has a pid, runs until killed, and shares the boot and the clock. */
export class FakeMachine {
  boot = 'boot-1';
  readonly hostname = 'pve-lab';
  private readonly running = new Set<number>();
  private tick = Date.parse('2025-03-01T10:00:00Z');

  process(pid: number): StateHost {
    this.running.add(pid);
    return {
      self: { pid, start: `start-${pid}` },
      hostname: this.hostname,
      bootId: () => this.boot,
      // Each reading moves the clock a second on, so two journals never share a name.
      now: () => new Date((this.tick += 1000)),
      alive: (p: ProcessId) => this.running.has(p.pid) && p.start === `start-${p.pid}`,
    };
  }

  kill(pid: number): void {
    this.running.delete(pid);
  }

  /** A new boot: every process is gone and the boot id changes. */
  reboot(): void {
    this.running.clear();
    this.boot = `boot-${Number(this.boot.slice(5)) + 1}`;
  }
}

export const GPU = '0000:01:00.0';
export const AUDIO = '0000:01:00.1';
export const GPU_STATE = 'version: 1\nhosts: ["pve-*"]\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n';

/** A temp dir with state files, and the state dir under it. */
export function workspace(): { dir: string; stateDir: string; file(name: string, text: string): string; cleanup(): void } {
  const t = tempDir('state');
  return {
    dir: t.dir,
    stateDir: join(t.dir, 'state'),
    file(name, text) {
      const path = join(t.dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: t.cleanup,
  };
}

/** Every CLI command from now on runs against `model`, as process `host` of the fake machine. */
export function useModel(model: KernelModel, host: StateHost): void {
  injectEnv(() => ({ sysfs: model, modules: model, hostname: 'pve-lab', kernelRelease: model.kernel, stateHost: host }));
}

export function hostOf(model: KernelModel): Host {
  return observe(model, { modules: model, kernelRelease: model.kernel });
}

/** A write or module load the kernel model completed, as model-cli.ts logs them. */
export type Completed = { write: string; value: string } | { load: string };

/** The example GPU host after `events`: what a killed model-cli process left behind. */
export async function replay(events: Completed[]): Promise<KernelModel> {
  const model = gpuPassthrough();
  for (const e of events) {
    if ('load' in e) await model.load(e.load);
    else await model.write(e.write, e.value);
  }
  return model;
}

export function journalRecords(stateDir: string): JournalRecord[] {
  const id = readFileSync(join(stateDir, 'journal', 'last'), 'utf8').trim();
  return readFileSync(join(stateDir, 'journal', `${id}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalRecord);
}

export function managedFile(stateDir: string): { devices: Record<string, { target: unknown; original: unknown; since: string; journal: string }> } {
  return JSON.parse(readFileSync(join(stateDir, 'managed.json'), 'utf8'));
}

/**
 * Runs the real CLI in this process against `model`, appending each write and module load the
 * "kernel" completes to `log` and saving it to `logFile` at once, so a later process (or a test
 * after a SIGKILL) can replay the host as this run left it.
 */
export async function runCliOnModel(model: KernelModel, log: Completed[], logFile: string, argv: string[], hostname = 'pve-lab'): Promise<void> {
  const completed = (event: Completed) => (): void => {
    log.push(event);
    writeFileSync(logFile, JSON.stringify(log));
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
  injectEnv(() => ({ sysfs, modules, hostname, kernelRelease: model.kernel }));
  await execute({ dir: pathToFileURL(join(packageRoot, 'bin/run.js')).href, args: argv });
}
