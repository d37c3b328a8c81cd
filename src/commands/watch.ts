import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { lockFlags, planFlags, stateArg } from '../cli/flags.js';

export default class Watch extends BaseCommand<typeof Watch> {
  static override summary = 'Keep the host converged: re-plan on an interval and on hotplug, apply, log one JSON line per event.';
  static override description = `Runs until SIGTERM or SIGINT. Every --interval seconds, and as soon as a device appears or disappears \
(hotplug, VFs being created; the device list is checked every --poll seconds), it plans STATE (a file or \
a fleet directory) against the whole host and applies the plan exactly as \`apply\` does: under the state \
dir's lock, journaled, rolled back on failure. With --report-only it only plans. Each pass starts from \
the whole state and the whole host, so a missed event costs nothing but a pass. A failed pass is \
logged and retried with backoff (1 s, 2 s, 4 s ... up to 5 minutes); it never ends the loop.

Output: one JSON object per line on stdout, each with "time" and "event": plan (trigger, changes, steps, \
reasons, blocked), drift (changes, devices), apply (changes, devices, outcome, steps, failure), \
device-added and device-removed (device, bus), error (kind, message, diagnostics, exitCode, retryInMs).

Stopping: a signal during an apply lets the step in flight finish, then rolls back what that apply had \
done, and exits 0. Exit codes: 0 stopped cleanly; 1 a bad flag, or not root without --report-only; 4 the \
apply the stop interrupted could not be rolled back (the journal names what is left). Problems with STATE \
(a bad commit, a device missing) are error events, not the end of the loop: the next pass after the fix \
applies it.`;

  static override examples = [
    { description: 'Converge this host from a fleet checkout.', command: '<%= config.bin %> <%= command.id %> /etc/vfio-reconcile/fleet/hosts' },
    { description: 'Only report drift, every 5 minutes.', command: '<%= config.bin %> <%= command.id %> state.yaml --report-only --interval 300' },
  ];

  // Output is a stream of JSON lines, always; there is no final document for --json.
  static override enableJsonFlag = false;
  static override args = { state: stateArg };
  static override flags = {
    ...planFlags,
    ...lockFlags,
    interval: Flags.integer({ summary: 'Seconds between full re-plans.', default: 30, min: 1 }),
    poll: Flags.integer({ summary: 'Seconds between checks of the device list (hotplug, new VFs).', default: 2, min: 1 }),
    'report-only': Flags.boolean({ summary: 'Plan and report, never write.' }),
    'write-timeout': Flags.integer({ summary: 'Seconds to wait for one sysfs write or module load before giving up.', default: 30, min: 1 }),
  };

  public async run(): Promise<unknown> {
    const { openEnv, requireRoot } = await import('../cli/context.js');
    if (!this.flags['report-only']) requireRoot('watch');
    const { reconcileOnce } = await import('../fleet/reconcile.js');
    const { systemClock, watch } = await import('../fleet/watch.js');
    const writeTimeoutMs = this.flags['write-timeout'] * 1000;
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname, machineId: this.flags['machine-id'], writeTimeoutMs });
    const pass = {
      statePath: this.args.state,
      stateDir: this.flags['state-dir'],
      force: this.flags.force,
      reportOnly: this.flags['report-only'],
      lockTimeoutMs: this.flags['lock-timeout'] * 1000,
      writeTimeoutMs,
      command: `vfio-reconcile watch ${this.argv.join(' ')}`,
      tool: `vfio-reconcile ${this.config.version}`,
      say: (line: string) => void process.stderr.write(`${line}\n`),
    };
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => stop.abort(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const outcome = await watch(
        { intervalMs: this.flags.interval * 1000, pollMs: this.flags.poll * 1000, maxBackoffMs: 300_000 },
        {
          sysfs: env.sysfs,
          pass: (signal) => reconcileOnce(env, pass, signal),
          clock: systemClock,
          emit: (event) => void process.stdout.write(`${JSON.stringify(event)}\n`),
        },
        stop.signal,
      );
      this.setExitCode(outcome.exitCode);
      return outcome;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
