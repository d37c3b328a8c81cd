// The few procfs files the in-use guards read: mount tables, the swap list, and which processes
// hold which files open. Parsers are pure; readers take the proc root (`/proc`, or a fake tree in
// tests) and are lenient like observe: a process that exits mid-scan leaves a gap, not an error.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface MountEntry {
  /** `major:minor` of the mounted device; 0:N for btrfs subvolumes and virtual file systems. */
  devno: string;
  mountPoint: string;
  fstype: string;
  /** What was mounted: `/dev/vda1`, a 9p or virtio-fs tag, `tmpfs`. */
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** `/proc/<pid>/mountinfo` (proc(5)): fields before ` - ` are fixed, then fstype and source. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [head, tail] = line.split(' - ');
    if (!head || !tail) continue;
    const h = head.split(' ');
    const t = tail.split(' ');
    if (h.length < 5 || t.length < 2) continue;
    out.push({ devno: h[2]!, mountPoint: unescape(h[4]!), fstype: t[0]!, source: unescape(t[1]!) });
  }
  return out;
}

/** File names from `/proc/swaps` (a header line, then one swap area per line). */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter(Boolean)
    .map(unescape);
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function pids(procRoot: string): number[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/**
 * Mounts of every mount namespace on the host, not just ours: a file system mounted only inside a
 * container still keeps its disk busy. One mountinfo per namespace; `self` first, so the mount
 * points we print are the ones the user sees.
 */
export function readMounts(procRoot: string): MountEntry[] {
  const seen = new Set<string>();
  const out: MountEntry[] = [];
  const key = (m: MountEntry) => `${m.devno}\0${m.source}\0${m.mountPoint}`;
  const add = (text: string | null): void => {
    for (const m of parseMountinfo(text ?? '')) {
      if (!seen.has(key(m))) {
        seen.add(key(m));
        out.push(m);
      }
    }
  };
  const namespaces = new Set<string>();
  const selfNs = link(join(procRoot, 'self/ns/mnt'));
  if (selfNs !== null) namespaces.add(selfNs);
  add(readText(join(procRoot, 'self/mountinfo')));
  for (const pid of pids(procRoot)) {
    const ns = link(join(procRoot, String(pid), 'ns/mnt'));
    if (ns === null || namespaces.has(ns)) continue;
    namespaces.add(ns);
    add(readText(join(procRoot, String(pid), 'mountinfo')));
  }
  return out;
}

export function readSwaps(procRoot: string): string[] {
  return parseSwaps(readText(join(procRoot, 'swaps')) ?? '');
}

function link(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

export interface OpenFile {
  pid: number;
  /** What the fd link names: `/dev/vfio/12`, `anon_inode:[vfio-device]`. */
  target: string;
}

/** Every open file of every process whose link target passes `wanted` (scans `/proc/*\/fd`). */
export function openFiles(procRoot: string, wanted: (target: string) => boolean): OpenFile[] {
  const out: OpenFile[] = [];
  for (const pid of pids(procRoot)) {
    const fdDir = join(procRoot, String(pid), 'fd');
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const target = link(join(fdDir, fd));
      if (target !== null && wanted(target)) out.push({ pid, target });
    }
  }
  return out;
}

/** A process's command line as a shell would show it, cut to `max` characters; its name if empty. */
export function commandLine(procRoot: string, pid: number, max = 160): string {
  const raw = readText(join(procRoot, String(pid), 'cmdline')) ?? '';
  let text = raw.split('\0').filter(Boolean).join(' ');
  if (!text) text = `[${(readText(join(procRoot, String(pid), 'comm')) ?? '?').trim()}]`;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
