// The benchmark's table: one row per command, one column per tree size (median, min-max spread,
// peak RSS), then the issue 7 targets as ratios with whether each is met. The same Markdown goes to
// the terminal and to bench/results.md, headed by the machine it ran on.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { stats, type Measurement } from './measure.js';

export interface Row {
  label: string;
  /** Size-independent commands have one measurement, shown under every size as "any". */
  bySize: Map<number | 'any', Measurement>;
}

export interface Target {
  what: string;
  value: number | null;
  /** How the value is shown (`1.8x`, `97 MB`). */
  shown: string;
  goal: string;
  met: boolean | null;
}

const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v >= 100 ? 0 : 1)} ms`);
const mb = (kib: number): string => `${(kib / 1024).toFixed(0)} MB`;

function cell(m: Measurement | undefined): string {
  if (!m) return '';
  if (m.error) return `not run: ${m.error.replace(/\|/g, '\\|')}`;
  const s = stats(m.ms);
  const cpu = m.cpuMs.length ? `, CPU ${ms(stats(m.cpuMs).median)}` : '';
  return `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})${cpu}${m.peakKiB === null ? '' : `, ${mb(m.peakKiB)}`}`;
}

export function median(m: Measurement | undefined): number | null {
  return m && !m.error && m.ms.length ? stats(m.ms).median : null;
}

export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

export function machine(): string[] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const lspci = spawnSync('lspci', ['--version'], { encoding: 'utf8' }).stdout?.trim();
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'bin', 'package.json'], { encoding: 'utf8' }).stdout?.trim();
  return [
    `- CPU: ${model}, ${cpus().length} cores; ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `- Node ${process.version}, Linux ${release()}${lspci ? `, ${lspci}` : ''}`,
    `- ${new Date().toISOString().slice(0, 10)}${commit ? `, commit ${commit}${dirty ? ' plus uncommitted changes' : ''}` : ''}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1, 5, 15 min) as the run ended`,
  ];
}

export function renderTable(rows: Row[], sizes: number[], runs: number): string {
  const head = `| command | ${sizes.map((s) => `${s} devices`).join(' | ')} |`;
  const rule = `| --- | ${sizes.map(() => '---').join(' | ')} |`;
  const body = rows.map((r) => {
    const any = r.bySize.get('any');
    const cells = any ? [cell(any), ...sizes.slice(1).map(() => '″')] : sizes.map((s) => cell(r.bySize.get(s)));
    return `| ${r.label} | ${cells.join(' | ')} |`;
  });
  return [
    `Median wall time of ${runs} runs after a warm-up (min–max), median CPU time (user + system) and peak RSS. The commands`,
    'of a column take turns, one run each per round. "″": the same command, independent of the tree.',
    '',
    head,
    rule,
    ...body,
  ].join('\n');
}

export function renderTargets(targets: Target[]): string {
  const mark = (met: boolean | null): string => (met === null ? 'not measured' : met ? 'met' : '**not met**');
  return ['| target (issue 7) | measured | goal | |', '| --- | --- | --- | --- |', ...targets.map((t) => `| ${t.what} | ${t.shown} | ${t.goal} | ${mark(t.met)} |`)].join('\n');
}

export function renderResults(table: string, targets: string, notes: string[]): string {
  return [
    '# vfio-reconcile benchmark',
    '',
    'Written by `npm run bench` (bench/run.ts). Trees come from bench/generate.ts: 16 SR-IOV PFs whose VFs fill most of',
    'the tree, plus bridges and endpoints; the state file has one rule sending every VF to vfio-pci. `lspci -D -k` and',
    '`driverctl list-devices` read the same tree mounted read-only over /sys in a private mount namespace; every',
    'tree command, vfio-reconcile\'s included, runs through that same wrapper so the setup cost is shared.',
    'vfio-reconcile runs from a copy of the build taken when the run started (`node bin/run.js`, no oclif manifest).',
    '',
    ...machine(),
    '',
    table,
    '',
    targets,
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}
