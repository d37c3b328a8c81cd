// The human plan, rendered from the plan document (as Terraform renders from jsonplan) so the text
// and `--json` cannot disagree. It reads like a diff a reviewer can approve: what changes per
// device, the ordered writes, what needs attention, and one summary line.

import { palette, type Palette } from '../cli/color.js';
import type { DocBinding, DocChange, DocMdev, DocRule, DocStep, PlanDocument } from './document.js';

export interface RenderOptions {
  color: boolean;
  /** pci.ids lookup: `names(vendor)` is the vendor's name, `names(vendor, device)` the device's. */
  names?: (vendor: string, device?: string) => string | undefined;
}

export function renderPlan(doc: PlanDocument, opts: RenderOptions): string {
  const p = palette(opts.color);
  const out: string[] = [];
  for (const c of doc.changes) {
    out.push(header(c, p, opts.names), ...bindingDiff(c, p));
    if (c.driver_choice) out.push(`      driver: vfio chooses ${c.driver_choice}`);
    out.push('');
  }
  for (const m of doc.mdevs) out.push(...mdevLines(m, p), '');
  if (doc.steps.length > 0) {
    const width = String(doc.steps.length).length;
    out.push('Steps:', ...doc.steps.map((s, i) => `  ${String(i + 1).padStart(width)}. ${stepText(s)}`), '');
  }
  if (doc.warnings.length > 0) {
    out.push('Warnings:', ...doc.warnings.map((w) => `  ${p.yellow('!')} ${w.message}`), '');
  }
  if (doc.blocked.length > 0) {
    out.push(p.red('Blocked: apply refuses this plan until these are resolved.'));
    for (const b of doc.blocked) {
      out.push(`  ${p.red('x')} ${b.message} ${p.dim(`[${b.code}]`)}`);
      if (b.fix) out.push(`    fix: ${b.fix}`);
    }
    out.push('');
  }
  out.push(summary(doc, p));
  return out.join('\n') + '\n';
}

function header(c: DocChange, p: Palette, names: RenderOptions['names']): string {
  const ids = c.vendor && c.device ? `${c.vendor}:${c.device}` : '';
  const label = c.vendor ? [names?.(c.vendor), c.device ? names?.(c.vendor, c.device) : undefined].filter(Boolean).join(' ') : '';
  const group = c.created ? `new VF ${c.created.index} of ${c.created.pf}` : c.group === null ? 'no IOMMU group' : `group ${c.group}`;
  const why = [c.reason, c.rule && ruleText(c.rule), c.forced && 'forced'].filter(Boolean).join(', ');
  const what = [ids, label].filter(Boolean).join(' ');
  return `${p.yellow('~')} ${p.bold(c.address)}  ${what ? `${what}  ` : ''}${group}  (${why})`;
}

function ruleText(r: DocRule): string {
  return `rule ${r.name ?? `devices[${r.index}]`} line ${r.line}`;
}

/** A unified-style diff of the attributes a reviewer cares about: driver, override, VF count. */
function bindingDiff(c: DocChange, p: Palette): string[] {
  const lines = (b: DocBinding, kernelChooses: boolean, numvfs?: number): string[] => [
    `driver: ${kernelChooses ? "(kernel's choice)" : (b.driver ?? '(unbound)')}`,
    `driver_override: ${b.override ?? '(unset)'}`,
    ...(numvfs === undefined ? [] : [`sriov_numvfs: ${numvfs}`]),
  ];
  const before = lines(c.before, false, c.numvfs?.before);
  const after = lines(c.after, c.after.kernel_chooses, c.numvfs?.after);
  // Both sides list the same attributes in the same order: the line diff needs no search. Each run
  // of changed lines shows the old values, then the new ones, as a general line diff would.
  const out: string[] = [];
  for (let i = 0; i < before.length; ) {
    if (before[i] === after[i]) {
      out.push(`      ${before[i]}`);
      i++;
      continue;
    }
    let j = i;
    while (j < before.length && before[j] !== after[j]) j++;
    out.push(...before.slice(i, j).map((l) => p.red(`    - ${l}`)), ...after.slice(i, j).map((l) => p.green(`    + ${l}`)));
    i = j;
  }
  return out;
}

/** `+ mdev <uuid>` for a creation, `-` for a removal, `~` for one moved to another parent or type. */
function mdevLines(m: DocMdev, p: Palette): string[] {
  const why = [m.reason, m.spec && `mdevs[${m.spec.index}] line ${m.spec.line}`, m.forced && 'forced'].filter(Boolean).join(', ');
  const place = (x: { parent: string; type: string }) => `${x.type} on ${x.parent}`;
  if (!m.after) return [`${p.red('-')} mdev ${p.bold(m.uuid)}  ${place(m.before!)}  (${why})`];
  const mark = m.before ? p.yellow('~') : p.green('+');
  const was = m.before ? `, was ${place(m.before)}` : '';
  return [`${mark} mdev ${p.bold(m.uuid)}  ${place(m.after)}${was}  (${why})`, ...m.after.attrs.map((a) => `      attr ${a.name} = ${a.value}`)];
}

function stepText(s: DocStep): string {
  switch (s.kind) {
    case 'load-module':
      return `load-module ${s.module}`;
    case 'set-autoprobe':
      return `set-autoprobe ${s.address} ${s.from ? 1 : 0} -> ${s.to ? 1 : 0}`;
    case 'set-numvfs':
      return `set-numvfs ${s.address} ${s.from} -> ${s.to}${s.vfs ? ` (creates ${s.vfs.join(', ')})` : ''}`;
    case 'remove-mdev':
      return `remove-mdev ${s.uuid} (${s.type} on ${s.parent})`;
    case 'create-mdev':
      return `create-mdev ${s.uuid} (${s.type} on ${s.parent})`;
    case 'set-mdev-attr':
      return `set-mdev-attr ${s.uuid} ${s.attr} = ${s.value}`;
    case 'set-override':
      return `set-override ${s.address} -> ${s.to ?? '(clear)'}`;
    case 'unbind':
      return `unbind ${s.address} from ${s.driver}`;
    case 'probe':
      return `probe ${s.address}`;
    case 'bind':
      return `bind ${s.address} to ${s.driver}`;
    case 'verify': {
      const driver = s.kernel_chooses ? "any driver (kernel's choice)" : s.driver === null ? 'unbound' : `driver ${s.driver}`;
      return `verify ${s.address}: ${driver}, override ${s.override ?? '(unset)'}`;
    }
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function summary(doc: PlanDocument, p: Palette): string {
  const blocked = doc.blocked.length > 0 ? ' ' + p.red(`Blocked: ${plural(doc.blocked.length, 'problem')}.`) : '';
  if (doc.changes.length === 0 && doc.mdevs.length === 0) {
    return blocked ? `No changes planned.${blocked}` : 'No changes. The host matches the state file.';
  }
  const what = [doc.summary.devices > 0 && plural(doc.summary.devices, 'device'), doc.summary.mdevs > 0 && plural(doc.summary.mdevs, 'mdev')].filter(Boolean).join(' and ');
  return `Plan: ${what} to change, ${plural(doc.summary.steps, 'step')}.${blocked}`;
}
