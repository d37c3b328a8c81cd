// What `apply` (and `rollback`) show while and after they run. Progress goes to stderr: on a
// terminal one line rewritten in place (step N of M, what it does to which device, time since the
// start); with --verbose plain lines with timings instead, on any stream; a log or pipe otherwise
// gets the plan and the outcome, not a ticker. The outcome line goes to stdout.

import { describeStep, type ApplyHooks, type ApplyResult } from '../apply/result.js';
import type { Step } from '../domain/types.js';
import type { PlanDocument } from '../plan/document.js';
import type { Palette } from './color.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

const label = (step: Step, index: number, total: number): string => `[${index + 1}/${total}] ${describeStep(step)}`;
const ms = (n: number): string => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;

/**
 * Plain lines, for --verbose: `[3/9] unbind pci/0000:01:00.0 from nvidia`, then what the step
 * wrote (trace.ts), then `ok (12 ms)` or `failed: ...`; rollback writes as `rollback DEVICE: what`.
 */
export function progressHooks(write: (text: string) => void, p: Palette): ApplyHooks {
  return {
    onStepStart(step, index, total) {
      write(`${label(step, index, total)}\n`);
    },
    onStepDone(_step, _index, _total, took) {
      write(`  ${p.green('ok')} (${ms(took)})\n`);
    },
    onStepFailed(_step, error) {
      write(`  ${p.red('failed')}: ${error.message}\n`);
    },
    onRollbackStep(device, what) {
      write(`rollback ${device}: ${what}\n`);
    },
  };
}

export interface Terminal {
  write(text: string): void;
  /** Width of the terminal: the line is cut to fit, since a wrapped line cannot be rewritten. */
  columns?: number;
}

/**
 * One line on a terminal, redrawn while a step runs (a slow unbind shows its clock moving) and
 * cleared when it ends, so the outcome prints on a clean line. A failed step and each rollback
 * write stay on screen as lines of their own.
 */
export function liveProgress(term: Terminal, p: Palette, now: () => number = Date.now): ApplyHooks {
  const started = now();
  let timer: NodeJS.Timeout | undefined;
  let current = '';
  const clear = (): void => {
    clearInterval(timer);
    timer = undefined;
    term.write('\r\x1b[2K');
  };
  const draw = (text: string): void => {
    const seconds = `${((now() - started) / 1000).toFixed(1)}s`;
    const width = (term.columns ?? 80) - seconds.length - 3;
    const fitted = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
    term.write(`\r\x1b[2K${fitted}  ${p.dim(seconds)}`);
  };
  return {
    onStepStart(step, index, total) {
      clearInterval(timer);
      current = label(step, index, total);
      draw(current);
      timer = setInterval(() => draw(current), 200);
      timer.unref();
    },
    onStepDone() {
      clear();
    },
    onStepFailed(_step, error) {
      clear();
      term.write(`${current}: ${p.red('failed')}: ${error.message}\n`);
    },
    onRollbackStep(device, what) {
      clear();
      term.write(`rollback ${device}: ${what}\n`);
    },
  };
}

export interface ProgressChoice {
  verbosity: Verbosity;
  /** stderr, where progress goes. */
  stream: { isTTY?: boolean; columns?: number; write(text: string): unknown };
  env: Record<string, string | undefined>;
  palette: Palette;
}

/** Live line on a terminal, plain lines with --verbose, nothing for a pipe or with --quiet. */
export function progressFor({ verbosity, stream, env, palette: p }: ProgressChoice): ApplyHooks | undefined {
  const write = (text: string): void => void stream.write(text);
  if (verbosity === 'verbose') return progressHooks(write, p);
  if (verbosity === 'quiet' || !stream.isTTY || env.TERM === 'dumb') return undefined;
  return liveProgress({ write, ...(stream.columns ? { columns: stream.columns } : {}) }, p);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The line after a successful apply; null for a no-op (the plan already said "No changes"). */
export function appliedSummary(doc: PlanDocument, result: ApplyResult): string | null {
  if (result.outcome !== 'applied') return null;
  const modules = result.modulesLoaded.length ? ` Loaded ${result.modulesLoaded.join(', ')}.` : '';
  const mdevs = doc.summary.mdevs > 0 ? ` and ${plural(doc.summary.mdevs, 'mdev')}` : '';
  return `Apply complete: ${plural(doc.summary.devices, 'device')}${mdevs} changed, ${plural(result.completed.length, 'step')} done, each verified.${modules}`;
}
