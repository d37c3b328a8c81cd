// Every command extends BaseCommand: shared flags, `--json` on everywhere, color decided once, and
// one catch that turns any error into its exit code and a message (cli/report.ts).

import { Command, Flags, type Interfaces } from '@oclif/core';
import type { ApplyHooks } from '../apply/result.js';
import type { Verbosity } from './apply-view.js';
import { colorEnabled } from './color.js';
import type { RunEnv } from './context.js';
import { errorJson, errorText, reportFor } from './report.js';

export type CmdFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type CmdArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    'sysfs-root': Flags.string({
      summary: 'Root of the sysfs tree to read and write.',
      default: '/sys',
      env: 'VFIO_RECONCILE_SYSFS_ROOT',
      helpValue: 'DIR',
      helpGroup: 'GLOBAL',
    }),
    'state-dir': Flags.string({
      summary:
        'Directory for the apply lock, journals and the managed-device set [default: /var/lib/vfio-reconcile for /sys; none for another --sysfs-root].',
      env: 'VFIO_RECONCILE_STATE_DIR',
      helpValue: 'DIR',
      helpGroup: 'GLOBAL',
    }),
    color: Flags.boolean({
      summary: 'Force color on (--color) or off (--no-color); default: on for a terminal unless NO_COLOR is set.',
      allowNo: true,
      helpGroup: 'GLOBAL',
    }),
    quiet: Flags.boolean({
      char: 'q',
      summary: 'Print only errors and the final summary (no plan, progress or notes).',
      exclusive: ['verbose'],
      helpGroup: 'GLOBAL',
    }),
    verbose: Flags.boolean({
      char: 'v',
      summary: 'Show each step and each sysfs write with its path, value and timing (on stderr), and stack traces of unexpected errors.',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: CmdFlags<T>;
  protected args!: CmdArgs<T>;
  /** All positional arguments, for commands that take a variable number (`strict = false`). */
  protected positionals: string[] = [];
  /** Whether human output may carry ANSI colors; decided once in init(). */
  protected color = false;
  /** --quiet / --verbose. */
  protected verbosity: Verbosity = 'normal';

  public override async init(): Promise<void> {
    await super.init();
    const { args, argv, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as CmdFlags<T>;
    this.args = args as CmdArgs<T>;
    this.positionals = argv as string[];
    this.color = colorEnabled({ env: process.env, isTTY: Boolean(process.stdout.isTTY), flag: this.flags.color });
    this.verbosity = this.flags.quiet ? 'quiet' : this.flags.verbose ? 'verbose' : 'normal';
  }

  /** Progress hooks for a run that writes: a live line on a terminal, lines with --verbose, else none. */
  protected async progress(): Promise<ApplyHooks | undefined> {
    const { progressFor } = await import('./apply-view.js');
    const { palette } = await import('./color.js');
    return progressFor({ verbosity: this.verbosity, stream: process.stderr, env: process.env, palette: palette(this.color) });
  }

  /** With --verbose, `env` whose every sysfs write and module load is reported on stderr. */
  protected async traced(env: RunEnv): Promise<RunEnv> {
    if (this.verbosity !== 'verbose') return env;
    const { tracedEnv } = await import('./trace.js');
    return tracedEnv(env, (line) => void process.stderr.write(`${line}\n`));
  }

  /** A rendered plan: in full, or with --quiet only its last line, the summary. */
  protected logPlan(text: string): void {
    this.log(this.verbosity === 'quiet' ? text.slice(text.lastIndexOf('\n') + 1) : text);
  }

  /** Exit code for a run that finished without an error (2 = changes pending, 1 = blocked plan). */
  protected setExitCode(code: number): void {
    process.exitCode = code;
  }

  /**
   * End with `err`'s exit code but keep the command's result: under --json the result document gets
   * an `error` member (apply's plan and result); otherwise the error is thrown to catch().
   */
  protected failWith(err: Error, result: Record<string, unknown>): undefined {
    if (!this.jsonEnabled()) throw err;
    const report = reportFor(err);
    process.exitCode = report.exitCode;
    this.logJson({ ...result, ...errorJson(report) });
    return undefined;
  }

  protected override logJson(json: unknown): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  }

  protected override async catch(err: Error): Promise<void> {
    const report = reportFor(err);
    process.exitCode = report.exitCode;
    if (this.jsonEnabled()) {
      this.logJson(errorJson(report));
      return;
    }
    const verbose = this.argv.includes('--verbose') || Boolean(process.env.DEBUG);
    const showStack = verbose && report.kind === 'unexpected' ? err.stack : undefined;
    process.stderr.write(errorText(report, showStack) + '\n');
  }
}
