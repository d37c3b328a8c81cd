// `install` / `uninstall`: boot persistence. The unit applies the state at every boot; the udev
// rules hold declared devices back from host drivers as they appear. Files are generated from the
// state files for this host, checked, shown, and written under a root with a manifest.

import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEnv } from '../cli/context.js';
import { packageRoot } from '../cli/paths.js';
import { observeHost } from '../cli/run-plan.js';
import { VrError } from '../domain/errors.js';
import { identityOf } from '../fleet/identity.js';
import { loadSource, resolveFiles, selectFiles } from '../fleet/select.js';
import { DEFAULT_STATE_DIR } from '../state/dir.js';
import { MANIFEST_NAME, removeInstall, writeInstall, type InstallFile, type Removal } from './files.js';
import { UDEV_RULES_PATH, udevRules } from './udev.js';
import { systemdUnit, UNIT_NAME, UNIT_PATH, WANTS_LINK } from './unit.js';
import { verifyUnit, type Verification } from './verify.js';

export interface InstallRequest {
  /** Where to write: `/`, or the root of an image. Absolute. */
  root: string;
  /** The state file or fleet directory, absolute, as the booted system sees it. */
  state: string;
  /** `--state-dir`, absolute, when not the default; the manifest lives there too. */
  stateDir?: string;
  lockTimeoutSec: number;
  /** How the unit runs vfio-reconcile (selfCommand()). */
  program: string[];
  dryRun: boolean;
}

export interface InstallResult {
  root: string;
  dryRun: boolean;
  files: InstallFile[];
  verification: Verification;
  /** The manifest, as a path on the target system. */
  manifest: string;
}

/** The command line that runs this vfio-reconcile: the single executable, or node and bin/run.js. */
export async function selfCommand(): Promise<string[]> {
  const sea = await import('node:sea').then(
    (m) => m.isSea(),
    () => false,
  );
  return sea ? [process.execPath] : [process.execPath, realpathSync(join(packageRoot, 'bin/run.js'))];
}

/** The files for this host's state: the unit, its enablement link, the udev rules. */
export function generate(env: RunEnv, req: Omit<InstallRequest, 'root' | 'dryRun'>): InstallFile[] {
  const selection = selectFiles(loadSource(req.state), identityOf(env));
  if (selection.kind === 'elsewhere') {
    throw new VrError('input', `${selection.message.replace(/ nothing to do here\.$/, '')} installing it here would apply nothing at boot`, [
      { message: 'the state file is for other hosts', hint: 'install the state file for this host, or pass --hostname / --machine-id to generate files for another machine' },
    ]);
  }
  const host = observeHost(env);
  const desired = resolveFiles(selection.files, host, req.state);
  const unit = systemdUnit({
    program: req.program,
    state: req.state,
    ...(req.stateDir ? { stateDir: req.stateDir } : {}),
    stateDirPath: req.stateDir ?? DEFAULT_STATE_DIR,
    lockTimeoutSec: req.lockTimeoutSec,
  });
  return [
    { path: UNIT_PATH, content: unit },
    { path: WANTS_LINK, link: `../${UNIT_NAME}` },
    { path: UDEV_RULES_PATH, content: udevRules(desired, host, req.state) },
  ];
}

export function install(env: RunEnv, req: InstallRequest): InstallResult {
  const files = generate(env, req);
  const unit = files.find((f) => f.path === UNIT_PATH) as { content: string };
  const verification = verifyUnit(UNIT_NAME, unit.content);
  if ('ok' in verification && !verification.ok) {
    throw new VrError('environment', `systemd-analyze verify rejects the generated unit; nothing was written:\n${verification.problems.join('\n')}`, [
      { message: 'the unit does not verify', hint: 'check that the program in ExecStart exists and is executable on this machine' },
    ]);
  }
  const manifestDir = req.stateDir ?? DEFAULT_STATE_DIR;
  if (!req.dryRun) writeInstall(req.root, files, manifestDir);
  return { root: req.root, dryRun: req.dryRun, files, verification, manifest: join(manifestDir, MANIFEST_NAME) };
}

export function uninstall(req: { root: string; stateDir?: string; force: boolean; dryRun: boolean }): Removal | null {
  return removeInstall(req.root, req.stateDir ?? DEFAULT_STATE_DIR, req);
}

/** What install prints: every file in full (a symlink as where it points), the check, what to run next. */
export function renderInstall(r: InstallResult): string {
  const lines = [r.dryRun ? `Would write under ${r.root} (dry run, nothing written):` : `Wrote under ${r.root}:`, ''];
  for (const f of r.files) {
    if ('link' in f) lines.push(`==> ${f.path} -> ${f.link} (symlink: enables the unit)`, '');
    else lines.push(`==> ${f.path}`, f.content.trimEnd(), '');
  }
  const v = r.verification;
  lines.push('skipped' in v ? `Unit not verified: ${v.skipped}.` : 'Unit verified with systemd-analyze verify.');
  if (!r.dryRun) {
    lines.push(`Manifest: ${r.manifest} (\`vfio-reconcile uninstall\` removes exactly these files).`);
    if (r.root === '/') lines.push('Now run: systemctl daemon-reload && udevadm control --reload');
  }
  return lines.join('\n');
}
