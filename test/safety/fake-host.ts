// A whole fake host in a temp dir for the in-use guards, in the manner of mdevctl's TestEnvironment:
// sys/ written from a kernel model (devices, drivers, groups), plus the class trees, proc/ and dev/
// that usage gathering reads, built with real files and relative symlinks shaped like the kernel's.

import { appendFileSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type { HostEnv, NetState } from '../../src/observe/host-env.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { writeSysfsTree } from '../../src/kernel/tree.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';

export class FakeHost {
  readonly root = mkdtempSync(join(tmpdir(), 'vr-usage-'));
  readonly sys = join(this.root, 'sys');
  readonly proc = join(this.root, 'proc');
  readonly dev = join(this.root, 'dev');
  net: NetState = { links: [], routes: [] };

  constructor(model: KernelModel) {
    writeSysfsTree(model, this.sys);
    for (const dir of [this.proc, this.dev, join(this.proc, 'self')]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(this.proc, 'self/mountinfo'), '');
    writeFileSync(join(this.proc, 'swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
  }

  env(net: HostEnv['net'] = () => this.net): HostEnv {
    return { sysfs: new FsSysfsPort(this.sys), procRoot: this.proc, devRoot: this.dev, net };
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Root-relative directory of a PCI device (`devices/pci0000:00/0000:00:02.0`). */
  pci(address: string): string {
    const link = `bus/pci/devices/${address}`;
    return posix.normalize(posix.join(posix.dirname(link), readlinkSync(join(this.sys, link))));
  }

  /** A block device at `dir/block/name` (a disk) or `dir/name` (a partition: `dir` is its disk). */
  block(name: string, dir: string, o: { devno: string; partition?: boolean; holders?: string[]; dmName?: string }): string {
    const path = o.partition ? `${dir}/${name}` : `${dir}/block/${name}`;
    this.mkdir(path);
    this.file(`${path}/dev`, `${o.devno}\n`);
    this.mkdir(`${path}/holders`);
    for (const h of o.holders ?? []) this.link(`${path}/holders/${h}`, `devices/virtual/block/${h}`);
    if (o.dmName) this.file(`${path}/dm/name`, `${o.dmName}\n`);
    this.link(`class/block/${name}`, path);
    return path;
  }

  /** A device-mapper or md device, which lives under devices/virtual/block. */
  virtualBlock(name: string, o: { devno: string; holders?: string[]; dmName?: string }): string {
    return this.block(name, 'devices/virtual', o);
  }

  /** A network interface at `dir/net/name`; `up` sets IFF_UP in `flags`; `uppers` adds upper_<x> links. */
  netif(name: string, dir: string, o: { up: boolean; uppers?: string[] }): void {
    const path = `${dir}/net/${name}`;
    this.mkdir(path);
    this.file(`${path}/flags`, o.up ? '0x1003\n' : '0x1002\n');
    for (const u of o.uppers ?? []) this.link(`${path}/upper_${u}`, `devices/virtual/net/${u}`);
    this.link(`class/net/${name}`, path);
  }

  /** A virtio function under a PCI device; a 9p one has a NUL-terminated mount_tag. */
  virtio(name: string, pciDir: string, o: { driver: string; mountTag?: string }): string {
    const path = `${pciDir}/${name}`;
    this.mkdir(path);
    this.mkdir(`bus/virtio/drivers/${o.driver}`);
    this.link(`${path}/driver`, `bus/virtio/drivers/${o.driver}`);
    if (o.mountTag !== undefined) this.file(`${path}/mount_tag`, `${o.mountTag}\0`);
    this.link(`bus/virtio/devices/${name}`, path);
    return path;
  }

  virtiofs(instance: string, virtioDir: string, tag: string): void {
    this.file(`fs/virtiofs/${instance}/tag`, `${tag}\n`);
    this.link(`fs/virtiofs/${instance}/device`, virtioDir);
  }

  framebuffer(name: string, pciDir: string, fbName: string): void {
    const path = `${pciDir}/graphics/${name}`;
    this.file(`${path}/name`, `${fbName}\n`);
    this.link(`class/graphics/${name}`, path);
  }

  vtconsole(name: string, label: string, bound: boolean): void {
    const path = `devices/virtual/vtconsole/${name}`;
    this.file(`${path}/name`, `${label}\n`);
    this.file(`${path}/bind`, bound ? '1\n' : '0\n');
    this.link(`class/vtconsole/${name}`, path);
  }

  /** A line of /proc/self/mountinfo (or of another process's, with its own mount namespace). */
  mount(devno: string, mountPoint: string, fstype: string, source: string, pid?: number): void {
    const file = pid === undefined ? join(this.proc, 'self/mountinfo') : join(this.proc, String(pid), 'mountinfo');
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, `30 1 ${devno} / ${mountPoint.replace(/ /g, '\\040')} rw,relatime shared:1 - ${fstype} ${source} rw\n`);
  }

  /** Gives a process (or self) its mount namespace link, as /proc/<pid>/ns/mnt reads. */
  mountNamespace(pid: number | 'self', inode: number): void {
    const dir = join(this.proc, String(pid), 'ns');
    mkdirSync(dir, { recursive: true });
    symlinkSync(`mnt:[${inode}]`, join(dir, 'mnt'));
  }

  swap(filename: string): void {
    appendFileSync(join(this.proc, 'swaps'), `${filename}\tpartition\t8388604\t0\t-2\n`);
  }

  /** A process with a command line and open files (fd symlinks to these targets). */
  process(pid: number, argv: string[], fds: string[]): void {
    const dir = join(this.proc, String(pid));
    mkdirSync(join(dir, 'fd'), { recursive: true });
    writeFileSync(join(dir, 'cmdline'), argv.map((a) => `${a}\0`).join(''));
    fds.forEach((target, i) => symlinkSync(target, join(dir, 'fd', String(i + 3))));
  }

  /** A link in the fake /dev (`mapper/vg-root` -> `../dm-0`). */
  devLink(path: string, target: string): void {
    mkdirSync(dirname(join(this.dev, path)), { recursive: true });
    symlinkSync(target, join(this.dev, path));
  }

  /** A sysfs directory entry under a device (e.g. `vfio-dev/vfio0`). */
  mkdir(path: string): void {
    mkdirSync(join(this.sys, path), { recursive: true });
  }

  private file(path: string, content: string): void {
    mkdirSync(dirname(join(this.sys, path)), { recursive: true });
    writeFileSync(join(this.sys, path), content);
  }

  /** A relative symlink at root-relative `at` to root-relative `to`, as the kernel writes them. */
  private link(at: string, to: string): void {
    mkdirSync(dirname(join(this.sys, at)), { recursive: true });
    symlinkSync(posix.relative(posix.dirname(at), to), join(this.sys, at));
  }
}
