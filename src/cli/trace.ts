// --verbose: every sysfs write and module load a command makes, with its full path, the value and
// how long the kernel took, as it happens. Wraps the run env's ports, so apply, rollback and their
// rollbacks are all covered and nothing below the CLI knows about it.

import { posix } from 'node:path';
import type { ModulePort, SysfsPort } from '../sysfs/port.js';
import type { RunEnv } from './context.js';

export type Say = (line: string) => void;

const took = (since: bigint): string => `${(Number(process.hrtime.bigint() - since) / 1e6).toFixed(1)} ms`;

async function timed(say: Say, what: string, op: () => Promise<void>): Promise<void> {
  const start = process.hrtime.bigint();
  try {
    await op();
  } catch (err) {
    say(`  ${what}: failed after ${took(start)}: ${(err as Error).message}`);
    throw err;
  }
  say(`  ${what} (${took(start)})`);
}

/** The same port, but each write is reported: `write /sys/bus/.../driver_override "vfio-pci" (0.3 ms)`. */
export function tracedPort(port: SysfsPort, say: Say): SysfsPort {
  const write = (path: string, value: string): Promise<void> =>
    timed(say, `write ${posix.join(port.root, path)} ${JSON.stringify(value)}`, () => port.write(path, value));
  return new Proxy(port, {
    get(target, key) {
      if (key === 'write') return write;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export function tracedModules(modules: ModulePort, say: Say): ModulePort {
  return new Proxy(modules, {
    get(target, key) {
      if (key === 'load') return (module: string) => timed(say, `modprobe ${module}`, () => target.load(module));
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export function tracedEnv(env: RunEnv, say: Say): RunEnv {
  return { ...env, sysfs: tracedPort(env.sysfs, say), modules: tracedModules(env.modules, say) };
}
