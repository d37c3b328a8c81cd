// Entry point inside the lab guest: `node dist/test/lab/guest/runner.js SCENARIO...`. Runs each
// scenario from the devices' boot state and prints one `LABRESULT {json}` line per scenario on the
// serial console, with the kernel log lines the scenario caused.

import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { WORK } from './cli.js';
import { assertInsideLab, resetToBoot } from './kernel.js';
import { SCENARIOS } from './scenarios.js';

assertInsideLab();
// The guest's /tmp shows the host's through the overlay: start from a work dir of our own.
rmSync(WORK, { recursive: true, force: true });

function kernelLog(clear: boolean): string[] {
  const r = spawnSync('dmesg', clear ? ['-c'] : [], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean).slice(-150);
}

const ctx = {
  sync(request: string): void {
    process.stdout.write(`LABSYNC ${request}\n`);
  },
};

for (const name of process.argv.slice(2)) {
  const started = Date.now();
  let result: Record<string, unknown>;
  try {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`no scenario named ${name}`);
    resetToBoot();
    kernelLog(true);
    result = { scenario: name, ...(await scenario(ctx)) };
  } catch (e) {
    result = { scenario: name, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  result.seconds = (Date.now() - started) / 1000;
  result.kernelLog = kernelLog(true);
  process.stdout.write(`LABRESULT ${JSON.stringify(result)}\n`);
}
