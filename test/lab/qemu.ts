// Boots one lab guest under QEMU (TCG) and collects what its serial console says. The guest
// layout is fixed here, in one place, because scenarios name its devices by address.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE, REPO, type LabKernel } from './provision.js';

/**
 * The emulated machine (q35 + Intel vIOMMU). Addresses as the guest kernel numbers them:
 *   00:01.0  virtio-9p: the share that carries the guest's root file system
 *   00:03.0  e1000e (nic0), a root-complex endpoint in its own IOMMU group
 *   00:04.0  pcie-pci-bridge (br1) with 01:01.0 and 01:02.0 e1000 (leg1, leg2): one shared group
 *   00:05.0  root port rp1 with 02:00.0 NVMe (nvme0), SR-IOV capable with 2 VFs
 *   00:06.0  root port rp2 with 03:00.0 e1000e (hot0), hot-unpluggable over QMP
 */
const DEVICES: string[] = [
  // Intel's vIOMMU must come before the devices it translates for.
  'intel-iommu,intremap=on',
  // The host's root, read-only (-fsdev readonly=on), as the guest's root file system.
  'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,addr=01.0',
  // romfile= skips the iPXE option ROM, which costs seconds of BIOS time per NIC under TCG.
  'e1000e,id=nic0,addr=03.0,romfile=',
  'pcie-pci-bridge,id=br1,bus=pcie.0,addr=04.0',
  'e1000,id=leg1,bus=br1,addr=1,romfile=',
  'e1000,id=leg2,bus=br1,addr=2,romfile=',
  'pcie-root-port,id=rp1,slot=1,chassis=1,addr=05.0',
  'nvme-subsys,id=subsys0',
  'nvme,id=nvme0,serial=deadbeef,subsys=subsys0,bus=rp1,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6,msix_qsize=4',
  'pcie-root-port,id=rp2,slot=2,chassis=2,addr=06.0',
  'e1000e,id=hot0,bus=rp2,romfile=',
];

export interface LabResult {
  scenario: string;
  /** Set when the scenario itself crashed (as opposed to observing something unexpected). */
  error?: string;
  [fact: string]: unknown;
}

export interface BootOutcome {
  results: LabResult[];
  /** The whole serial console, for diagnostics. */
  console: string;
  /** Exit status of the guest's job script, or null when the guest died before it ended. */
  jobExit: number | null;
  /** Guest uptime (s) when the job started: kernel boot plus init. */
  bootSeconds: number | null;
  wallMs: number;
}

/** A live guest's QMP connection, for what a scenario asks of the "hardware" (hot-unplug). */
export interface Qmp {
  execute(command: string, args?: Record<string, unknown>): Promise<unknown>;
}

export interface BootOptions {
  kernel: LabKernel;
  /** Shell script the guest runs (with /bin/sh, root, in the repository) after boot. */
  job: string;
  timeoutMs: number;
  /** Called for each console line beginning with LABSYNC, so the host can act while the guest runs. */
  onSync?: (line: string, qmp: Qmp) => Promise<void> | void;
}

class QmpClient implements Qmp {
  private buffer = '';
  private waiting: Array<(msg: Record<string, unknown>) => void> = [];
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, nl)) as Record<string, unknown>;
        this.buffer = this.buffer.slice(nl + 1);
        // Asynchronous events (DEVICE_DELETED...) are not answers to a command.
        if (!('event' in msg)) this.waiting.shift()?.(msg);
      }
    });
  }

  static async connect(path: string): Promise<QmpClient> {
    const socket = await new Promise<Socket>((res, rej) => {
      const s = createConnection(path, () => res(s));
      s.once('error', rej);
    });
    const client = new QmpClient(socket);
    await client.next(); // greeting
    await client.execute('qmp_capabilities');
    return client;
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((res) => this.waiting.push(res));
  }

  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const answer = this.next();
    this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    const msg = await answer;
    if ('error' in msg) throw new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`);
    return msg.return;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Result lines: `LABRESULT {json}` alone on a console line. */
export function parseResults(serial: string): LabResult[] {
  return serial
    .split(/\r?\n/)
    .filter((l) => l.startsWith('LABRESULT '))
    .map((l) => JSON.parse(l.slice('LABRESULT '.length)) as LabResult);
}

/** Boots the guest, runs `job` in it and resolves when the guest powers off (or the timeout kills it). */
export async function bootGuest(opts: BootOptions): Promise<BootOutcome> {
  const runs = join(CACHE, 'runs');
  mkdirSync(runs, { recursive: true });
  // The job file lives in the (gitignored) cache because the guest sees the host only through 9p.
  const dir = mkdtempSync(join(runs, `${opts.kernel.label}-`));
  const jobPath = join(dir, 'job.sh');
  // The guest's node finds the cache (built modules, logs) where the host's did, VR_LAB_CACHE or not.
  writeFileSync(jobPath, `set -e\ncd '${REPO}'\nexport VR_LAB_CACHE='${CACHE}'\n${opts.job}\n`);
  // Unix socket paths are short (108 bytes); a clone's path need not be.
  const sockDir = mkdtempSync(join(tmpdir(), 'vrlab-'));
  const qmpPath = join(sockDir, 'qmp.sock');
  // no_timer_check: on a busy host, TCG can fail the kernel's IO-APIC timer check, which panics.
  const args = [
    '-accel', 'tcg', '-machine', 'q35,kernel-irqchip=split', '-m', '2048', '-smp', '1',
    '-nographic', '-vga', 'none', '-no-reboot', '-net', 'none',
    '-kernel', opts.kernel.vmlinuz, '-initrd', opts.kernel.initrd,
    '-append', `console=ttyS0 quiet intel_iommu=on panic=-1 no_timer_check vrlab_job=${jobPath} vrlab_tree=${opts.kernel.tree}`,
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-qmp', `unix:${qmpPath},server=on,wait=off`,
    ...DEVICES.flatMap((d) => ['-device', d]),
  ];
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let serial = '';
  let pending = '';
  let qmp: QmpClient | undefined;
  const syncs: Promise<void>[] = [];
  const onLine = (line: string): void => {
    if (!line.startsWith('LABSYNC ') || !opts.onSync) return;
    const handler = opts.onSync;
    syncs.push(
      (async () => {
        qmp ??= await QmpClient.connect(qmpPath);
        await handler(line, qmp);
      })().catch((e) => {
        serial += `\nLABHOST sync failed: ${String(e)}\n`;
      }),
    );
  };
  qemu.stdout.setEncoding('utf8');
  qemu.stdout.on('data', (chunk: string) => {
    serial += chunk;
    pending += chunk;
    const lines = pending.split(/\r?\n/);
    pending = lines.pop()!;
    lines.forEach(onLine);
  });
  qemu.stderr.setEncoding('utf8');
  qemu.stderr.on('data', (chunk: string) => (serial += chunk));
  const timer = setTimeout(() => {
    serial += `\nLABHOST timeout after ${opts.timeoutMs} ms: killing QEMU\n`;
    qemu.kill('SIGKILL');
  }, opts.timeoutMs);
  const code = await new Promise<number | null>((res, rej) => {
    qemu.once('error', rej);
    qemu.once('close', res);
  }).finally(() => clearTimeout(timer));
  await Promise.all(syncs);
  qmp?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(sockDir, { recursive: true, force: true });
  if (code !== 0) serial += `\nLABHOST qemu exited with ${code}\n`;
  const jobExit = /^LABEXIT (\d+)/m.exec(serial)?.[1];
  const ready = /^LABINIT ready ([\d.]+)/m.exec(serial)?.[1];
  return {
    results: parseResults(serial),
    console: serial,
    jobExit: jobExit === undefined ? null : Number(jobExit),
    bootSeconds: ready === undefined ? null : Number(ready),
    wallMs: Date.now() - started,
  };
}
