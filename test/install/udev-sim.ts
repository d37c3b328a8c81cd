// Just enough of udev to run the generated rules against the kernel model: for an `add` event of
// one device, every line whose match keys hold has its ATTR assignments written at once, in order,
// and its RUN{builtin} kmod loads run after all lines (as udevd runs RUN programs after processing
// the rules). Globs are fnmatch's `*` and `?`, with `|` between alternatives.

import type { Bus } from '../../src/domain/types.js';
import type { KernelModel } from '../../src/kernel/model.js';

const KEY = /(\w+)(?:\{([^}]*)\})?(==|\+=|=)"([^"]*)"/g;

function globMatch(pattern: string, value: string): boolean {
  return pattern.split('|').some((alt) => new RegExp(`^${alt.replace(/[.+^${}()\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value));
}

/** Runs `rules` for the add event of `bus/name`; `later` runs after them (80-drivers.rules' modalias load). Returns the lines that matched. */
export async function udevAdd(model: KernelModel, rules: string, bus: Bus, name: string, later?: () => Promise<void>): Promise<string[]> {
  const dir = `bus/${bus}/devices/${name}`;
  const fired: string[] = [];
  const runs: string[] = [];
  for (const line of rules.split('\n').filter((l) => l.trim() && !l.startsWith('#'))) {
    const keys = [...line.matchAll(KEY)].map(([, key, attr, op, value]) => ({ key: key!, attr, op: op!, value: value! }));
    const holds = keys
      .filter((k) => k.op === '==')
      .every((k) => {
        if (k.key === 'ACTION') return globMatch(k.value, 'add');
        if (k.key === 'SUBSYSTEM') return globMatch(k.value, bus);
        if (k.key === 'KERNEL') return globMatch(k.value, name);
        if (k.key === 'ATTR') return globMatch(k.value, model.read(`${dir}/${k.attr}`) ?? '');
        if (k.key === 'ENV' && k.attr === 'MODALIAS') return globMatch(k.value, model.read(`${dir}/modalias`) ?? '');
        throw new Error(`udev-sim: no match key ${k.key} (${line})`);
      });
    if (!holds) continue;
    fired.push(line);
    for (const k of keys.filter((x) => x.op !== '==')) {
      const value = k.value.replace(/%k/g, name);
      if (k.key === 'ATTR') {
        // `subsystem` is the device's link to /sys/bus/<bus>: the kernel resolves the path through it.
        const path = k.attr === 'subsystem/drivers_probe' ? `bus/${bus}/drivers_probe` : `${dir}/${k.attr}`;
        await model.write(path, value).catch(() => {}); // udev logs a failed write and goes on
      } else if (k.key === 'RUN' && k.attr === 'builtin' && value.startsWith('kmod load ')) runs.push(value.slice('kmod load '.length));
      else throw new Error(`udev-sim: no assignment ${k.key} (${line})`);
    }
  }
  for (const module of runs) await model.load(module).catch(() => {});
  await later?.();
  return fired;
}
