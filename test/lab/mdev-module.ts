// Builds the kernel's mtty sample (samples/vfio-mdev/mtty.c, a virtual serial-port mdev parent)
// for a lab kernel, so mdev create/remove run on a real kernel: Debian ships no mdev sample driver,
// but its linux-source package carries the file and the matching linux-headers build it. Only the
// packages are downloaded and extracted under the cache (never installed); the module lands in
// .lab-cache/mdev/<release>/mtty.ko, where the guest (which sees the host's root) loads it.

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, type LabKernel } from './provision.js';

/** Where a lab guest finds the module for its kernel; relative to the repository (the guest's cwd). */
export const mttyPath = (release: string, cache = CACHE): string => join(cache, 'mdev', release, 'mtty.ko');

const run = (cmd: string, args: string[], cwd?: string): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

/**
 * mtty.ko for `kernel`, built on first use; null (with the reason logged) when it cannot be built
 * here: no gcc or make, or apt cannot fetch the source and headers of exactly this kernel.
 */
export function buildMtty(kernel: LabKernel, log: (line: string) => void): string | null {
  const out = mttyPath(kernel.release);
  if (existsSync(out)) return out;
  const series = /^(\d+\.\d+)/.exec(kernel.release)?.[1];
  const abi = kernel.release.replace(/-amd64$/, '');
  const work = join(CACHE, 'mdev', `${kernel.release}.build`);
  try {
    if (!series) throw new Error(`cannot tell the kernel series of ${kernel.release}`);
    rmSync(work, { recursive: true, force: true });
    const debs = join(work, 'debs');
    mkdirSync(debs, { recursive: true });
    // apt's download sandbox user must be able to write here.
    chmodSync(debs, 0o777);
    const packages = [`linux-source-${series}`, `linux-headers-${kernel.release}`, `linux-headers-${abi}-common`, `linux-kbuild-${abi}`];
    log(`lab: downloading ${packages.join(' ')} (${kernel.version}) to build mtty`);
    run('apt-get', ['download', '-qq', ...packages.map((p) => `${p}=${kernel.version}`)], debs);
    const root = join(work, 'root');
    for (const deb of readdirSync(debs)) run('dpkg', ['-x', join(debs, deb), root]);
    run('tar', ['-xJf', join(root, `usr/src/linux-source-${series}.tar.xz`), '-C', work, `linux-source-${series}/samples/vfio-mdev/mtty.c`]);
    // The headers' Makefile includes the common headers by their installed path; point it here.
    const headers = join(root, 'usr/src', `linux-headers-${kernel.release}`);
    const makefile = join(headers, 'Makefile');
    writeFileSync(makefile, readFileSync(makefile, 'utf8').replace(/^include \/usr\/src\//m, `include ${join(root, 'usr/src')}/`));
    const build = join(work, 'build');
    mkdirSync(build);
    copyFileSync(join(work, `linux-source-${series}/samples/vfio-mdev/mtty.c`), join(build, 'mtty.c'));
    writeFileSync(join(build, 'Kbuild'), 'obj-m := mtty.o\n');
    log(`lab: building mtty.ko for ${kernel.release}`);
    // No BTF: pahole is not needed for a module that is only loaded, never debugged.
    run('make', ['-C', headers, `M=${build}`, 'CONFIG_DEBUG_INFO_BTF_MODULES=', 'modules']);
    mkdirSync(join(CACHE, 'mdev', kernel.release), { recursive: true });
    copyFileSync(join(build, 'mtty.ko'), out);
    rmSync(work, { recursive: true, force: true });
    return out;
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    log(`lab: mtty.ko not built for ${kernel.release}: ${(e as Error).message.split('\n')[0]}${stderr ? ` (${stderr})` : ''}`);
    return null;
  }
}
