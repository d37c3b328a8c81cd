// Fault injection for the kernel model's writes, and the registry of writes the "kernel" is
// blocking (injected hangs, unbind of a device whose VFIO group is held open).

/** Make the next matching write(s) fail with `errno`, or block (`hang`) until released. */
export interface Fault {
  /** The root-relative path written, exactly, or a pattern. */
  path: string | RegExp;
  /** Only writes of this value (exactly, or matching) are affected; any value when omitted. */
  value?: string | RegExp;
  /** An errno name (`EIO`, `EBUSY`, ...) or `hang`. */
  errno: string;
  /** How many matching writes fail; 1 when omitted, `Infinity` for all of them. */
  times?: number;
}

const matchesText = (pattern: string | RegExp, text: string): boolean =>
  typeof pattern === 'string' ? pattern === text : pattern.test(text);

export class Faults {
  private readonly armed: { fault: Fault; left: number }[] = [];

  add(fault: Fault): void {
    this.armed.push({ fault, left: fault.times ?? 1 });
  }

  /** The errno (or `hang`) the write of `value` to `path` meets, consuming one use of the fault. */
  take(path: string, value: string): string | undefined {
    const hit = this.armed.find(
      (a) => a.left > 0 && matchesText(a.fault.path, path) && (a.fault.value === undefined || matchesText(a.fault.value, value)),
    );
    if (!hit) return undefined;
    hit.left -= 1;
    return hit.fault.errno;
  }
}

/** What a write does to the model: succeed, fail with an errno, or block until something lets go. */
export type Outcome = 'ok' | { errno: string } | Blocked;

export interface Blocked {
  /** What the write waits for: a held VFIO group's number, `release`, or `panic` (never). */
  until: string;
  /** Runs when the blocker lets go; its outcome settles the write. */
  then: () => Outcome;
}

export const isBlocked = (o: Outcome): o is Blocked => typeof o === 'object' && 'until' in o;
