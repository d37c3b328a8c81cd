// `npm run bench`: times vfio-reconcile against lspci and driverctl over generated sysfs trees and
// prints the table with the issue 7 targets; the same text goes to bench/results.md.
//
//   node dist/bench/run.js [--sizes 256,1024,4096,16384] [--runs 5] [--no-write]

import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchTree, REPO, SIZES, treeShape, type Tree } from './generate.js';
import { measureTogether, stats, type Command, type Measurement } from './measure.js';
import { ensureTools, namespaceProblem, overSys } from './peers.js';
import { median, ratio, renderResults, renderTable, renderTargets, type Row, type Target } from './report.js';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: SIZES.join(',') },
    runs: { type: 'string', default: '5' },
    'no-write': { type: 'boolean', default: false },
  },
});
const sizes = opts.sizes.split(',').map(Number);
const runs = Number(opts.runs);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

const missing = ensureTools(log);
const trees = sizes.map((s) => benchTree(s, log));
const nsProblem = namespaceProblem(trees[0]!.dir);
if (nsProblem) log(`peers not run: ${nsProblem}`);

/**
 * vfio-reconcile as built when the run started: a copy of the package's runtime files, so a
 * rebuild during a long run (tsc in the same tree) cannot change what is measured halfway.
 */
function frozenBuild(): string {
  const app = join(REPO, '.bench-cache', 'app');
  rmSync(app, { recursive: true, force: true });
  for (const part of ['package.json', 'bin', 'schemas', 'dist/src']) cpSync(join(REPO, part), join(app, part), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(app, 'node_modules'));
  return app;
}
const app = frozenBuild();
const vr = (...args: string[]): string[] => [process.execPath, join(app, 'bin/run.js'), ...args];
const exitOk = (status: number | null): string | null => (status === 0 ? null : `exit ${status}`);
/** Lines of `text` that start a record (lspci's -k details are indented). */
const records = (text: string): number => text.split('\n').filter((l) => l !== '' && !/^\s/.test(l)).length;
const counted = (size: number, what: string) => (stdout: string, status: number | null) =>
  exitOk(status) ?? (records(stdout) === size ? null : `listed ${records(stdout)} ${what}, expected ${size}`);

type Planned = Command | Measurement;
const failed = (label: string, error: string): Measurement => ({ label, ms: [], cpuMs: [], peakKiB: null, error });

/** A command over `tree`: through the namespace wrapper when there is one, so every tool pays its setup alike. */
function overTree(tree: Tree, label: string, argv: string[], check: Command['check'], peer?: string): Planned {
  if (peer && missing.has(peer)) return failed(label, missing.get(peer)!);
  if (peer && nsProblem) return failed(label, nsProblem);
  return { label, argv: nsProblem ? argv : overSys(tree.dir, argv), check };
}

/** Measures the commands of one column together (their runs interleaved) and files each under its row. */
function column(size: number | 'any', planned: Array<[Row, Planned]>): void {
  log(`${size === 'any' ? 'tree-independent commands' : `${size} devices`}:`);
  const cmds = planned.filter((p): p is [Row, Command] => 'argv' in p[1]);
  const measured = measureTogether(cmds.map(([, c]) => c), runs, log);
  cmds.forEach(([r], i) => r.bySize.set(size, measured[i]!));
  for (const [r, p] of planned) if (!('argv' in p)) r.bySize.set(size, p);
}

const row = (label: string): Row => ({ label, bySize: new Map() });
const node0 = row('`node -e 0`');
const version = row('`vfio-reconcile --version`');
const validate = row('`vfio-reconcile validate`');
const ns = row('namespace setup (`exec true`)');
const status = row('`vfio-reconcile status --json`');
const plan = row('`vfio-reconcile plan`');
const lspci = row('`lspci -D -k`');
const driverctl = row('`driverctl list-devices`');
const rows = [node0, version, validate, ...(nsProblem ? [] : [ns]), status, plan, lspci, driverctl];

const first = trees[0]!;
column('any', [
  [node0, { label: 'node -e 0', argv: [process.execPath, '-e', '0'] }],
  [version, { label: '--version', argv: vr('--version'), check: (out, st) => exitOk(st) ?? (out.startsWith('vfio-reconcile/') ? null : `printed ${JSON.stringify(out.slice(0, 40))}`) }],
  [validate, { label: 'validate', argv: vr('validate', first.state), check: (out, st) => exitOk(st) ?? (out.includes(': ok') ? null : 'not ok') }],
  ...(nsProblem ? [] : [[ns, { label: 'namespace setup', argv: overSys(first.dir, ['true']) }] as [Row, Planned]]),
]);
for (const t of trees) {
  column(t.size, [
    [status, overTree(t, 'status --json', vr('status', '--json', '--sysfs-root', t.dir), (out, st) => {
      const n = (JSON.parse(out) as { devices: unknown[] }).devices.length;
      return exitOk(st) ?? (n === t.size ? null : `listed ${n} devices, expected ${t.size}`);
    })],
    [plan, overTree(t, 'plan', vr('plan', t.state, '--sysfs-root', t.dir), (out, st) => {
      const changes = Number(/^Plan: (\d+) devices? to change/m.exec(out)?.[1]);
      return exitOk(st) ?? (changes === treeShape(t.size).vfs ? null : `planned ${changes} changes, expected ${treeShape(t.size).vfs}`);
    })],
    [lspci, overTree(t, 'lspci -D -k', ['lspci', '-A', 'linux-sysfs', '-D', '-k'], counted(t.size, 'devices'), '/usr/bin/lspci')],
    [driverctl, overTree(t, 'driverctl list-devices', ['driverctl', 'list-devices'], counted(t.size, 'devices'), '/usr/sbin/driverctl')],
  ]);
}

// Derived rows: plan against lspci at each size.
const planVsLspci = sizes.map((s) => ratio(median(plan.bySize.get(s)), median(lspci.bySize.get(s))));
const cpuMedian = (m: Measurement | undefined): number | null => (m && !m.error && m.cpuMs.length ? stats(m.cpuMs).median : null);
const planVsLspciCpu = sizes.map((s) => ratio(cpuMedian(plan.bySize.get(s)), cpuMedian(lspci.bySize.get(s))));
const cells = (rs: (number | null)[]): string => rs.map((r) => (r === null ? '' : `${r.toFixed(2)}x`)).join(' | ');
const derived = `| plan ÷ lspci, wall | ${cells(planVsLspci)} |\n| plan ÷ lspci, CPU | ${cells(planVsLspciCpu)} |`;

const at = (r: Row, s: number) => median(r.bySize.get(s));
const vrPeak = Math.max(0, ...rows.filter((r) => r.label.includes('vfio-reconcile')).flatMap((r) => [...r.bySize.values()].map((m) => m.peakKiB ?? 0)));
const x = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(2)}x`);
const vsLspci = ratio(at(plan, 4096), at(lspci, 4096));
const scaling = ratio(at(plan, 16384), at(plan, 4096));
/** The lab's own run writes its ratio (to vfio-pci) into bench/results-lab.md. */
const lab = ((): number | null => {
  const file = join(REPO, 'bench/results-lab.md');
  const m = existsSync(file) ? /÷ shell loop: ([\d.]+)x to vfio-pci/.exec(readFileSync(file, 'utf8')) : null;
  return m ? Number(m[1]) : null;
})();
const startup = ratio(median(version.bySize.get('any')), median(node0.bySize.get('any')));
const targets: Target[] = [
  { what: '`plan` over 4096 devices vs `lspci -D -k`', value: vsLspci, shown: x(vsLspci), goal: '≤ 1x', met: vsLspci === null ? null : vsLspci <= 1 },
  { what: '`plan` 16384 vs 4096 devices', value: scaling, shown: x(scaling), goal: '≤ 4.5x', met: scaling === null ? null : scaling <= 4.5 },
  { what: 'peak RSS of any vfio-reconcile run', value: vrPeak || null, shown: vrPeak ? `${(vrPeak / 1024).toFixed(0)} MB` : 'n/a', goal: '< 150 MB', met: vrPeak ? vrPeak < 150 * 1024 : null },
  { what: '`--version` vs `node -e 0`', value: startup, shown: x(startup), goal: '≤ 2x', met: startup === null ? null : startup <= 2 },
  { what: 'rebind on a real kernel vs a shell loop (`npm run bench:lab`)', value: lab, shown: lab === null ? 'see bench/results-lab.md' : `${x(lab)} (bench/results-lab.md)`, goal: '≤ 1.2x', met: lab === null ? null : lab <= 1.2 },
];

const table = `${renderTable(rows, sizes, runs)}\n${derived}`;
const notes = [
  ...(nsProblem ? [`peers not run and vfio-reconcile run without the namespace wrapper: ${nsProblem}`] : []),
  ...[...missing.values()],
];
const text = renderResults(table, renderTargets(targets), notes);
process.stdout.write(text);
if (!opts['no-write']) {
  writeFileSync(join(REPO, 'bench/results.md'), text);
  log('written to bench/results.md');
}
