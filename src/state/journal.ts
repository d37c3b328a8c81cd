// The write-ahead journal: `journal/<time>-<pid>.jsonl` in the state dir, one record per line,
// each flushed to disk before the tool goes on, and `journal/last` naming the newest. The begin
// record (plan, pre-state, boot id) is on disk before the first write to sysfs; every step is
// recorded before it starts and when it is done; the outcome closes the apply.

import { closeSync, constants, openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { VrError } from '../domain/errors.js';
import { journalProblems } from './check-records.js';
import { NOFOLLOW, readStateFile, syncDir, writeAtomic, writeDurable, type StateDir } from './dir.js';
import type { StateHost } from './host.js';
import type { JournalRecord, Writer } from './records.js';

/** Journals kept; older ones are removed when a new one starts. */
export const KEEP_JOURNALS = 20;

const ID = /^[0-9A-Za-z.-]+$/;

export type BeginRecord = Extract<JournalRecord, { type: 'begin' }>;
export type OutcomeRecord = Extract<JournalRecord, { type: 'outcome' }>;
export type UndoBegin = Extract<JournalRecord, { type: 'undo-begin' }>;
export type UndoEnd = Extract<JournalRecord, { type: 'undo-end' }>;

export class JournalWriter {
  private constructor(
    readonly id: string,
    readonly path: string,
    private fd: number | null,
  ) {}

  /** Starts a journal with its begin record on disk, points `last` at it and drops the oldest. */
  static create(dir: StateDir, begin: BeginRecord): JournalWriter {
    const id = `${begin.writer.time.replace(/:/g, '-')}-${begin.writer.pid}`;
    const path = join(dir.journalDir, `${id}.jsonl`);
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND | NOFOLLOW, 0o600);
    const journal = new JournalWriter(id, path, fd);
    journal.append(begin);
    syncDir(dir.journalDir);
    writeAtomic(join(dir.journalDir, 'last'), `${id}\n`);
    for (const old of journalIds(dir).slice(0, -KEEP_JOURNALS)) {
      if (old !== id) unlinkSync(join(dir.journalDir, `${old}.jsonl`));
    }
    return journal;
  }

  /** Appends to an existing journal (an undo of its apply). */
  static reopen(dir: StateDir, id: string): JournalWriter {
    const path = journalPath(dir, id);
    return new JournalWriter(id, path, openSync(path, constants.O_WRONLY | constants.O_APPEND | NOFOLLOW));
  }

  /** One record, on disk when this returns; throws when it cannot be (the caller must not write on). */
  append(record: JournalRecord): void {
    if (this.fd === null) throw new Error(`journal ${this.path} is closed`);
    writeDurable(this.fd, JSON.stringify(record) + '\n');
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Journal ids, oldest first (ids start with the time). */
export function journalIds(dir: StateDir): string[] {
  let names: string[];
  try {
    names = readdirSync(dir.journalDir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.jsonl')).map((n) => n.slice(0, -'.jsonl'.length)).filter((id) => ID.test(id)).sort();
}

/** The newest journal: the one `last` names, else the newest by name; null when there is none. */
export function lastJournalId(dir: StateDir): string | null {
  const named = readStateFile(join(dir.journalDir, 'last'))?.trim();
  const ids = journalIds(dir);
  if (named && ID.test(named) && ids.includes(named)) return named;
  return ids.at(-1) ?? null;
}

function journalPath(dir: StateDir, id: string): string {
  if (!ID.test(id)) throw new Error(`not a journal id: ${JSON.stringify(id)}`);
  return join(dir.journalDir, `${id}.jsonl`);
}

/** A journal as read back: what was planned, what started, what finished. */
export interface JournalView {
  id: string;
  path: string;
  begin: BeginRecord;
  /** Step indexes with a step-start record, in the order they started. */
  started: number[];
  done: number[];
  /** The signal that interrupted the apply, if one was recorded. */
  signal?: string;
  outcome?: OutcomeRecord;
  undo?: { begin: UndoBegin; end?: UndoEnd };
}

export function readJournal(dir: StateDir, id: string): JournalView {
  const path = journalPath(dir, id);
  const text = readStateFile(path) ?? '';
  const records: JournalRecord[] = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  lines.forEach((line, i) => {
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch (err) {
      // Power loss can cut the last line short; anything else is damage the user must see.
      if (i < lines.length - 1) throw new Error(`journal ${path} line ${i + 1} is damaged: ${(err as Error).message}`);
    }
  });
  const begin = records[0];
  if (begin?.type !== 'begin') throw new Error(`journal ${path} has no begin record`);
  // Rollback writes what the journal says: nothing in it is used before all of it is checked.
  const bad = journalProblems(records);
  if (bad.length) {
    throw new VrError('input', `journal ${path} records what no kernel could have (damaged, or edited); nothing was written:\n  ${bad.join('\n  ')}`, [
      { message: 'the journal cannot be trusted', hint: `put the devices it names back by hand (see \`vfio-reconcile status\`), then move it out of ${dir.journalDir}` },
    ]);
  }
  const view: JournalView = { id, path, begin, started: [], done: [] };
  for (const r of records) {
    if (r.type === 'step-start') view.started.push(r.index);
    else if (r.type === 'step-done') view.done.push(r.index);
    else if (r.type === 'signal') view.signal = r.signal;
    else if (r.type === 'outcome') view.outcome = r;
    else if (r.type === 'undo-begin') view.undo = { begin: r };
    else if (r.type === 'undo-end' && view.undo) view.undo.end = r;
  }
  return view;
}

export type JournalStatus =
  | { kind: 'settled' }
  /** The section's writer still runs (or runs on another host, where it cannot be checked). */
  | { kind: 'running'; writer: Writer; phase: 'apply' | 'undo' }
  | { kind: 'interrupted'; writer: Writer; phase: 'apply' | 'undo'; rebooted: boolean };

/** Whether the journal's last section (the apply, or an undo of it) was finished, and if not, why. */
export function journalStatus(view: JournalView, host: StateHost): JournalStatus {
  // An undo settles the journal once it ends, whether or not the apply before it got to its outcome.
  const open = view.undo
    ? view.undo.end
      ? null
      : { writer: view.undo.begin.writer, phase: 'undo' as const }
    : view.outcome
      ? null
      : { writer: view.begin.writer, phase: 'apply' as const };
  if (!open) return { kind: 'settled' };
  const boot = host.bootId();
  const rebooted = open.writer.bootId !== null && boot !== null && open.writer.bootId !== boot;
  if (!rebooted && (open.writer.hostname !== host.hostname || host.alive(open.writer))) return { kind: 'running', ...open };
  return { kind: 'interrupted', ...open, rebooted };
}

/** What to tell the user about an unfinished journal: what happened, then what to do. */
export function describeOpen(view: JournalView, status: Exclude<JournalStatus, { kind: 'settled' }>): string {
  const { writer, phase } = status;
  const what = phase === 'apply' ? 'apply' : 'rollback';
  const who = `pid ${writer.pid} (${writer.command}), started ${writer.time}`;
  if (status.kind === 'running') return `A ${what} is in progress: ${who}; journal ${view.path}.`;
  const steps = view.begin.plan.steps.length;
  const progress = phase === 'apply' ? ` after ${view.done.length} of ${steps} steps${view.signal ? ` (it had received ${view.signal})` : ''}` : '';
  const cause = status.rebooted ? 'the host has rebooted since' : 'that process is gone (killed, or it crashed)';
  const next = status.rebooted
    ? 'The reboot already dropped the driver overrides it set. Run `vfio-reconcile rollback --recover` to close its journal, then plan again.'
    : 'Devices it touched may be half-way. Run `vfio-reconcile rollback --recover` to put them back as they were before it, then plan again.';
  return `The last ${what} was interrupted${progress}: ${who}; ${cause}. Journal: ${view.path}.\n${next}`;
}

/** The record of who writes now, for a begin or undo-begin record. */
export function writerNow(host: StateHost, command: string): Writer {
  return { ...host.self, hostname: host.hostname, bootId: host.bootId(), command, time: host.now().toISOString() };
}
