// `npm run bench:lab`: rebind timings on a real kernel. Boots the QEMU lab guest (test/lab, Linux
// 6.12 by default) and runs bench/lab/rebind-guest.ts in it, which moves the lab's four endpoints
// (three IOMMU groups) to vfio-pci and back with vfio-reconcile, a plain shell loop of the minimal
// sysfs writes, and driverctl. Prints the table and writes it to bench/results-lab.md. The guest is
// TCG-emulated on one vCPU: compare the ratios, not the absolute times, with bare metal.
//
//   node dist/bench/lab/rebind.js [--kernel 6.12|6.1] [--rounds 3]

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KERNEL_PACKAGES, LabUnavailable, provision, type KernelLabel } from '../../test/lab/provision.js';
import { bootGuest } from '../../test/lab/qemu.js';
import { REPO } from '../generate.js';
import { stats } from '../measure.js';
import { ensureTools } from '../peers.js';
import { machine, ratio } from '../report.js';

const { values: opts } = parseArgs({ options: { kernel: { type: 'string', default: '6.12' }, rounds: { type: 'string', default: '3' } } });
const label = opts.kernel as KernelLabel;
if (!KERNEL_PACKAGES.some((k) => k.label === label)) throw new Error(`--kernel must be one of ${KERNEL_PACKAGES.map((k) => k.label).join(', ')}`);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// The guest shares the host's root file system: driverctl must be installed here to exist there.
const missing = ensureTools(log);
let kernel;
try {
  [kernel] = provision([label], log);
} catch (e) {
  if (!(e instanceof LabUnavailable)) throw e;
  log(`lab unavailable: ${e.message}`);
  process.exit(77);
}
log(`booting the ${label} lab guest (TCG, one vCPU)`);
const outcome = await bootGuest({
  kernel: kernel!,
  job: `export VR_BENCH_ROUNDS=${Number(opts.rounds)}\nexec node dist/bench/lab/rebind-guest.js`,
  timeoutMs: 20 * 60_000,
});
const result = outcome.results.find((r) => r.scenario === 'rebind');
if (!result || result.error) {
  log(outcome.console.split('\n').slice(-30).join('\n'));
  throw new Error(`the rebind run failed in the guest: ${String(result?.error ?? `no result (job exit ${outcome.jobExit})`)}`);
}

type Timings = { toVfio?: number[]; back?: number[]; error?: string };
const methods: Array<[string, Timings]> = [
  ['`vfio-reconcile apply`', result.reconcile as Timings],
  ['shell loop of the minimal writes', result.shell as Timings],
  ['`driverctl --nosave set-override` loop', result.driverctl as Timings],
];
const fmt = (v: number[] | undefined): string => {
  if (!v?.length) return '';
  const s = stats(v);
  return `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
};
const med = (t: Timings, k: 'toVfio' | 'back'): number | null => (t[k]?.length ? stats(t[k]!).median : null);
const [reconcile, shell] = [methods[0]![1], methods[1]![1]];
const overheads = result.overheads as { node: number[]; plan: number[]; error?: string };
const vsShell = ratio(med(reconcile, 'toVfio'), med(shell, 'toVfio'));
const vsShellBack = ratio(med(reconcile, 'back'), med(shell, 'back'));

const text = [
  '# vfio-reconcile rebind benchmark (QEMU lab)',
  '',
  `Written by \`npm run bench:lab\` (bench/lab/rebind.ts). Linux ${kernel!.release} in the QEMU lab guest (TCG, one vCPU): ${(result.devices as string[]).length}`,
  `endpoints (${(result.devices as string[]).join(', ')}) moved to vfio-pci and back, median of ${String(result.rounds)} rounds (min–max),`,
  'each round from the boot state, with vfio-pci already loaded. vfio-reconcile runs as one',
  'process per direction (plan, journal, writes, read-back), from a copy in the guest\'s RAM (over the lab\'s 9p share,',
  'loading its modules alone takes seconds under TCG); the shell loop is one `sh` doing the minimal writes.',
  '',
  ...machine(),
  '',
  '| method | to vfio-pci | back to the host drivers |',
  '| --- | --- | --- |',
  ...methods.map(([name, t]) => `| ${name} | ${t.error ? `failed: ${t.error}` : fmt(t.toVfio)} | ${t.error ? '' : fmt(t.back)} |`),
  `| for scale: \`node -e 0\` / \`vfio-reconcile plan\` of the same change | ${fmt(overheads.node)} | ${overheads.error ? `plan failed: ${overheads.error}` : fmt(overheads.plan)} |`,
  '',
  `vfio-reconcile ÷ shell loop: ${vsShell === null ? 'n/a' : `${vsShell.toFixed(2)}x`} to vfio-pci, ${vsShellBack === null ? 'n/a' : `${vsShellBack.toFixed(2)}x`} back (issue 7 target: ≤ 1.2x).`,
  ...[...missing.values()].map((m) => `- ${m}`),
  '',
].join('\n');
process.stdout.write(text);
writeFileSync(join(REPO, 'bench/results-lab.md'), text);
log('written to bench/results-lab.md');
