// Provisions the real-kernel lab from Debian's packages: host tools, the kernels (extracted into
// .lab-cache, never installed) and one small initramfs per kernel. Everything it builds is cached
// under a key made of its inputs, so a second run only checks that the files are there.
// Run directly (`node dist/test/lab/provision.js`) to provision ahead of a test run.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file runs from dist/test/lab/, its sources live in test/lab/. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const LAB_SOURCES = join(REPO, 'test/lab');
export const CACHE = process.env.VR_LAB_CACHE ?? join(REPO, '.lab-cache');

/** The kernels every scenario runs on: Debian's default (6.1) and its 6.12 backport. */
export const KERNEL_PACKAGES = [
  { label: '6.1', meta: 'linux-image-amd64' },
  { label: '6.12', meta: 'linux-image-6.12-amd64' },
] as const;
export type KernelLabel = (typeof KERNEL_PACKAGES)[number]['label'];

/** Host tool -> the Debian package that provides it. */
const TOOLS: ReadonlyArray<readonly [string, string]> = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['cpio', 'cpio'],
  ['depmod', 'kmod'],
  ['xz', 'xz-utils'],
  ['strace', 'strace'],
];
// The initramfs has no libc, so only the static build of busybox will do.
const BUSYBOX_PACKAGE = 'busybox-static';
const BUSYBOX = '/bin/busybox';

/** What the initramfs loads before it can reach the host's root over 9p; the rest comes from there. */
const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

export interface LabKernel {
  label: KernelLabel;
  package: string;
  version: string;
  release: string;
  vmlinuz: string;
  initrd: string;
  /** Directory holding lib/modules/<release> (depmod'ed): the guest's /lib/modules. */
  tree: string;
}

/** A prerequisite is missing and this machine cannot install it; `message` says what to install. */
export class LabUnavailable extends Error {}

type Log = (line: string) => void;

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function tryRun(cmd: string, args: string[]): string | null {
  try {
    return run(cmd, args);
  } catch {
    return null;
  }
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin']).some((d) => existsSync(join(d, tool)));
}

function packageInstalled(pkg: string): boolean {
  return (tryRun('dpkg-query', ['-W', '-f=${Status}', pkg]) ?? '').includes('install ok installed');
}

const isRoot = (): boolean => process.getuid?.() === 0;

let aptUpdated = false;
function aptUpdate(log: Log): void {
  if (aptUpdated) return;
  log('lab: apt-get update');
  run('apt-get', ['update', '-qq']);
  aptUpdated = true;
}

/** Installs missing host tools when root, otherwise throws one line naming what to install. */
export function ensureTools(log: Log = () => {}): void {
  const missing = TOOLS.filter(([tool]) => !onPath(tool)).map(([, pkg]) => pkg);
  if (!packageInstalled(BUSYBOX_PACKAGE)) missing.push(BUSYBOX_PACKAGE);
  if (missing.length === 0) return;
  const line = `the QEMU lab needs: apt-get install ${missing.join(' ')}`;
  if (!isRoot() || !onPath('apt-get')) throw new LabUnavailable(line);
  aptUpdate(log);
  log(`lab: installing ${missing.join(' ')}`);
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    throw new LabUnavailable(`${line} (installing failed: ${String((e as { stderr?: unknown }).stderr ?? e).trim().split('\n').pop()})`);
  }
}

/** The concrete package behind a meta package and its version, from the local apt lists. */
function resolvePackage(meta: string, log: Log): { pkg: string; version: string } | null {
  const lookup = (): { pkg: string; version: string } | null => {
    const deps = tryRun('apt-cache', ['depends', '--important', meta]) ?? '';
    const pkg = /Depends: (linux-image-\S+)/.exec(deps)?.[1];
    if (!pkg) return null;
    const version = /^Version: (\S+)/m.exec(tryRun('apt-cache', ['show', '--no-all-versions', pkg]) ?? '')?.[1];
    return version ? { pkg, version } : null;
  };
  const found = lookup();
  if (found || !isRoot()) return found;
  aptUpdate(log);
  return lookup();
}

/** A previously extracted kernel for `meta`, used when apt cannot tell (no lists, not root). */
function cachedKernel(label: KernelLabel): { pkg: string; version: string } | null {
  const dir = join(CACHE, 'kernels');
  const hits = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith(`${label}_`) && existsSync(join(dir, d, '.ready'))) : [];
  const last = hits.sort().pop();
  if (!last) return null;
  const [, pkg, version] = last.split('_');
  return pkg && version ? { pkg, version } : null;
}

function kernelTree(label: KernelLabel, pkg: string, version: string, log: Log): { tree: string; release: string } {
  const tree = join(CACHE, 'kernels', `${label}_${pkg}_${version}`);
  if (!existsSync(join(tree, '.ready'))) {
    const debs = join(CACHE, 'debs');
    mkdirSync(debs, { recursive: true });
    // apt's download sandbox user must be able to write here.
    chmodSync(debs, 0o777);
    log(`lab: downloading ${pkg} ${version}`);
    run('apt-get', ['download', '-qq', `${pkg}=${version}`], { cwd: debs });
    const deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}`);
    const partial = `${tree}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    log(`lab: extracting ${deb}`);
    run('dpkg', ['-x', join(debs, deb), partial]);
    const release = readdirSync(join(partial, 'lib/modules'))[0]!;
    // The .deb ships no modules.dep; kmod's modprobe in the guest needs it.
    run('depmod', ['-b', partial, release]);
    rmSync(join(debs, deb));
    rmSync(tree, { recursive: true, force: true });
    renameSync(partial, tree);
    writeFileSync(join(tree, '.ready'), `${pkg} ${version}\n`);
    // A newer kernel replaces the one cached for this label: ~250 MB each.
    const kernels = join(CACHE, 'kernels');
    for (const old of readdirSync(kernels).filter((d) => d.startsWith(`${label}_`) && join(kernels, d) !== tree)) rmSync(join(kernels, old), { recursive: true, force: true });
  }
  const release = readdirSync(join(tree, 'lib/modules'))[0]!;
  return { tree, release };
}

/** Module files (relative to the module dir) in load order: dependencies first; built-ins skipped. */
export function loadOrder(modulesDep: string, builtin: string, wanted: string[]): string[] {
  const norm = (n: string): string => n.replace(/-/g, '_');
  const nameOf = (path: string): string => norm(path.split('/').pop()!.replace(/\.ko(\.xz|\.zst|\.gz)?$/, ''));
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) deps.set(nameOf(m[1]!), { path: m[1]!, deps: m[2]!.split(/\s+/).filter(Boolean).map(nameOf) });
  }
  const builtins = new Set(builtin.split('\n').filter(Boolean).map(nameOf));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = deps.get(name);
    if (!entry) {
      if (builtins.has(name)) return;
      throw new Error(`module ${name} is neither in modules.dep nor built in`);
    }
    // modules.dep lists the closest dependency first; load the far end first.
    for (const d of [...entry.deps].reverse()) visit(d);
    order.push(entry.path);
  };
  for (const w of wanted) visit(norm(w));
  return order;
}

function buildInitrd(kernel: { label: KernelLabel; tree: string; release: string; version: string }, log: Log): string {
  const modDir = join(kernel.tree, 'lib/modules', kernel.release);
  const order = loadOrder(readFileSync(join(modDir, 'modules.dep'), 'utf8'), readFileSync(join(modDir, 'modules.builtin'), 'utf8'), INITRAMFS_MODULES);
  const init = readFileSync(join(LAB_SOURCES, 'init.sh'));
  const busybox = readFileSync(BUSYBOX);
  const key = createHash('sha256').update(init).update(busybox).update(kernel.release).update(kernel.version).update(order.join('\n')).digest('hex').slice(0, 16);
  const dir = join(CACHE, 'initrd');
  const out = join(dir, `${kernel.label}-${key}.cpio`);
  if (existsSync(out)) return out;
  log(`lab: building initramfs for ${kernel.release}`);
  const stage = join(dir, `${kernel.label}.stage`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'bin'), { recursive: true });
  mkdirSync(join(stage, 'modules'));
  copyFileSync(BUSYBOX, join(stage, 'bin/busybox'));
  chmodSync(join(stage, 'bin/busybox'), 0o755);
  writeFileSync(join(stage, 'init'), init, { mode: 0o755 });
  const names = order.map((rel, i) => {
    // busybox's insmod cannot read compressed modules.
    const name = `${String(i).padStart(2, '0')}-${rel.split('/').pop()!.replace(/\.(xz|zst|gz)$/, '')}`;
    const src = join(modDir, rel);
    if (rel.endsWith('.xz')) writeFileSync(join(stage, 'modules', name), execFileSync('xz', ['-dc', src], { maxBuffer: 64 << 20 }));
    else copyFileSync(src, join(stage, 'modules', name));
    return name;
  });
  writeFileSync(join(stage, 'modules/load'), names.join('\n') + '\n');
  const files = run('find', ['.', '-mindepth', '1'], { cwd: stage });
  const cpio = execFileSync('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--quiet'], { cwd: stage, input: files, maxBuffer: 256 << 20 });
  for (const old of readdirSync(dir).filter((f) => f.startsWith(`${kernel.label}-`) && f.endsWith('.cpio'))) rmSync(join(dir, old));
  writeFileSync(`${out}.partial`, cpio);
  renameSync(`${out}.partial`, out);
  rmSync(stage, { recursive: true, force: true });
  return out;
}

/** Everything the lab needs, for each kernel in `labels`. Throws LabUnavailable when it cannot be had. */
export function provision(labels: readonly KernelLabel[] = KERNEL_PACKAGES.map((k) => k.label), log: Log = () => {}): LabKernel[] {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new LabUnavailable('the QEMU lab runs on x86-64 Linux only');
  ensureTools(log);
  return labels.map((label) => {
    const meta = KERNEL_PACKAGES.find((k) => k.label === label)!.meta;
    const found = resolvePackage(meta, log) ?? cachedKernel(label);
    if (!found) throw new LabUnavailable(`the QEMU lab cannot resolve ${meta}: run apt-get update (as root)`);
    const { tree, release } = kernelTree(label, found.pkg, found.version, log);
    const initrd = buildInitrd({ label, tree, release, version: found.version }, log);
    return { label, package: found.pkg, version: found.version, release, vmlinuz: join(tree, 'boot', `vmlinuz-${release}`), initrd, tree };
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const k of provision(undefined, (l) => console.error(l))) console.log(`${k.label} ${k.release} ${k.vmlinuz} ${k.initrd}`);
  } catch (e) {
    console.error(e instanceof LabUnavailable ? `lab unavailable: ${e.message}` : e);
    process.exit(e instanceof LabUnavailable ? 77 : 1);
  }
}
