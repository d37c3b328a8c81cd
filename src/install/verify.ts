// `systemd-analyze verify` on a generated unit, where the tool is installed: it catches what a
// reader would not (a misspelt key is only a warning at boot, a missing executable a failed unit).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Verification =
  | { tool: 'systemd-analyze'; ok: true }
  | { tool: 'systemd-analyze'; ok: false; problems: string[] }
  /** Not checked, and why (no systemd-analyze on this machine). */
  | { skipped: string };

/**
 * Verifies `text` as unit `name` in a scratch directory. Any message about the unit fails it, since
 * systemd-analyze exits 0 on unknown keys and only warns; messages about other units (the host's
 * own) are not this unit's problem and are ignored.
 */
export function verifyUnit(name: string, text: string, analyze = 'systemd-analyze'): Verification {
  const dir = mkdtempSync(join(tmpdir(), 'vr-unit-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, text);
    const r = spawnSync(analyze, ['verify', '--man=no', file], { encoding: 'utf8', timeout: 60_000 });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return { skipped: `${analyze} is not installed` };
    if (r.error) return { skipped: `${analyze} did not run: ${r.error.message}` };
    const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(name) || l.includes(dir));
    if (r.status !== 0 && problems.length === 0) problems.push(`${analyze} verify exited ${r.status}`);
    return problems.length ? { tool: 'systemd-analyze', ok: false, problems } : { tool: 'systemd-analyze', ok: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
