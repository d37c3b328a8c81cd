// The tools vfio-reconcile is compared with, and the private mount namespace they run in. lspci and
// driverctl read /sys itself, so each run mounts the bench tree read-only over /sys in a namespace
// of its own (propagation private: the host never sees the mount) and refuses to start the tool
// unless the tree's marker file is there: a peer can never read, let alone write, the live /sys.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { GNU_TIME } from './measure.js';

/** A file only bench trees have at their root. */
export const MARKER = 'vfio-reconcile-bench';

const WRAPPER =
  't=$1; shift; mount --bind "$t" /sys && mount -o remount,bind,ro /sys && test -e /sys/' + MARKER + ' && exec "$@"';

/** argv that runs `argv` with `tree` as a read-only /sys. */
export function overSys(tree: string, argv: string[]): string[] {
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', WRAPPER, 'sh', tree, ...argv];
}

/** Why commands cannot run over a bench tree in a namespace here, or null when they can. */
export function namespaceProblem(tree: string): string | null {
  if (!existsSync(`${tree}/${MARKER}`)) return `${tree} is not a bench tree`;
  const argv = overSys(tree, ['true']);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.error) return `unshare: ${r.error.message}`;
  if (r.status === 0) return null;
  const why = r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`;
  return process.getuid?.() === 0 ? `mount namespace unavailable (${why})` : `needs root for a private mount namespace (${why})`;
}

const TOOLS = [
  { path: GNU_TIME, pkg: 'time' },
  { path: '/usr/bin/lspci', pkg: 'pciutils' },
  { path: '/usr/sbin/driverctl', pkg: 'driverctl' },
];

/**
 * Installs GNU time, pciutils and driverctl with apt-get when they are missing and this is root.
 * Returns, per missing tool path, why it is still missing.
 */
export function ensureTools(log: (line: string) => void): Map<string, string> {
  const missing = TOOLS.filter((t) => !existsSync(t.path));
  const problems = new Map<string, string>();
  if (missing.length === 0) return problems;
  const pkgs = missing.map((t) => t.pkg);
  const root = process.getuid?.() === 0;
  if (root && existsSync('/usr/bin/apt-get')) {
    log(`installing ${pkgs.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    let r = install();
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
      r = install();
    }
    if (r.status !== 0) log(`apt-get install failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  for (const t of missing) {
    if (!existsSync(t.path)) problems.set(t.path, root ? `${t.pkg} is not installed and apt-get could not install it` : `${t.pkg} is not installed (run as root to install it)`);
  }
  return problems;
}
