// Sysfs writes in a child process. A write the kernel blocks (unbind of a device a VM holds) sleeps
// uninterruptibly: not even SIGKILL ends it (kernel-abi.md section 8). Made from this process, it
// would pin a libuv thread and keep the tool from exiting. Made from a child, it pins the child:
// once the write has taken longer than `holdMs`, the child is abandoned (it no longer keeps this
// process alive, and no later write goes to it), and the next write (the rollback's) gets a fresh
// child, started right away so it is up by then. Reporting the hang is the caller's job (apply/io.ts
// bounds every write with a timeout).

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WriteFailure, type AttrWriter } from './write-attr.js';

/**
 * The child's module. The single executable has no such file: there process.execPath is the binary
 * itself, which runs the child when it finds this path as its argument (src/sea/main.ts).
 */
export const WRITE_CHILD = fileURLToPath(new URL('./write-child.js', import.meta.url));

/** What the child sends: `ready` once at start, then one answer per request. */
interface Answer {
  ready?: true;
  id?: number;
  ok?: true;
  code?: string;
  detail?: string;
}

export interface WriteWorkerOptions {
  /**
   * How long a write may take, counted from when its child is up, before the child is abandoned;
   * default: never (only a newer write replaces it). Set it to the caller's write timeout.
   */
  holdMs?: number;
  /** Start the first child now (a command that will write), so its start-up overlaps planning. */
  warm?: boolean;
}

export class WriteWorker implements AttrWriter {
  /** Pids of children abandoned with a write still in the kernel. */
  readonly abandoned: number[] = [];
  private idle: Child | null = null;
  private nextId = 1;

  constructor(private readonly opts: WriteWorkerOptions = {}) {
    if (opts.warm) this.idle = spawnChild();
  }

  write(file: string, value: string): Promise<void> {
    // A child still busy with an earlier write is never reused: whoever waited for that write gave
    // up on it, and this write must not queue behind it.
    const { proc: child, ready } = this.idle ?? spawnChild();
    this.idle = null;
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let abandoned = false;
      let hold: NodeJS.Timeout | undefined;
      const abandon = (): void => {
        abandoned = true;
        child.channel?.unref();
        if (child.pid !== undefined) this.abandoned.push(child.pid);
        // The writes that follow a hang (rollback) should not wait for a child to start.
        this.idle ??= spawnChild();
      };
      // A child that is still starting has not begun the write: that time is not the write's.
      void ready.then(() => {
        if (settled || this.opts.holdMs === undefined) return;
        hold = setTimeout(abandon, this.opts.holdMs);
        hold.unref();
      });
      /** Settles the write; `reusable`: the child answered and can take the next one. */
      const settle = (reusable: boolean, err?: Error): void => {
        settled = true;
        clearTimeout(hold);
        child.off('message', onMessage).off('exit', onExit).off('error', onError);
        if (reusable && !abandoned && !this.idle) {
          child.channel?.unref();
          this.idle = { proc: child, ready };
        } else if (child.connected) child.disconnect();
        if (err) reject(err);
        else resolve();
      };
      const onMessage = (msg: Answer): void => {
        if (msg.id === id) settle(true, msg.ok ? undefined : new WriteFailure(msg.code ?? 'EIO', msg.detail));
      };
      const onExit = (code: number | null, signal: string | null): void =>
        settle(false, new Error(`the write worker (pid ${child.pid}) exited (${signal ?? `code ${code}`}) during the write`));
      const onError = (err: Error): void => settle(false, new Error(`the write worker failed: ${err.message}`));
      child.on('message', onMessage).on('exit', onExit).on('error', onError);
      // While the write is pending the channel keeps this process alive, so an unbounded caller
      // still gets its answer.
      child.channel?.ref();
      child.send({ id, file, value });
    });
  }

  /** Lets the idle child go (it exits); abandoned ones go when their write returns. */
  close(): void {
    if (this.idle?.proc.connected) this.idle.proc.disconnect();
    this.idle = null;
  }
}

interface Child {
  proc: ChildProcess;
  /** Settles when the child says it is up (or is gone). */
  ready: Promise<void>;
}

function spawnChild(): Child {
  // No stdio: a child stuck in a write must not hold the parent's pipes open after it exits.
  const proc = fork(WRITE_CHILD, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [] });
  proc.unref();
  proc.channel?.unref();
  // An 'error' with no listener would crash the tool; each write listens for its own.
  proc.on('error', () => undefined);
  const ready = new Promise<void>((resolve) => {
    const up = (msg: Answer): void => {
      if (!msg.ready) return;
      proc.off('message', up);
      resolve();
    };
    proc.on('message', up).once('exit', () => resolve());
  });
  return { proc, ready };
}
