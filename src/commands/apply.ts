import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { lockFlags, planFlags, stateArg } from '../cli/flags.js';

export default class Apply extends BaseCommand<typeof Apply> {
  static override summary = 'Make the host match a state file: plan, write, verify, roll back on failure.';
  static override description = `Plans exactly like \`plan\`, prints the plan, then performs its steps through sysfs: set \
driver_override, unbind, probe, and read every device back. If any step fails, every device already \
touched is put back as it was. A blocked plan is refused before anything is written. Applying a file the \
host already matches prints "No changes" and exits 0.

Exit codes: 0 applied (or nothing to do); 1 error before anything was written (bad input, selector \
mismatch, blocked plan); 3 apply failed and was rolled back, the host is as it was; 4 apply failed and \
the rollback did not complete (the message lists each device left behind and where it was before).

--json prints { "plan": <plan document>, "result": { "outcome": "applied" | "noop" | "rolled-back" | \
"rollback-failed", "completed", "failure", "rollback", "modulesLoaded" } }, plus "error" when the apply \
failed; with --dry-run "result" is null.`;

  static override examples = [
    { description: 'Apply the host state.', command: '<%= config.bin %> <%= command.id %> /etc/vfio-reconcile/state.yaml' },
    { description: 'Show the plan and stop (same as plan).', command: '<%= config.bin %> <%= command.id %> state.yaml --dry-run' },
    { description: 'Allow slow drivers a minute per write.', command: '<%= config.bin %> <%= command.id %> state.yaml --write-timeout 60' },
  ];

  static override args = { state: stateArg };
  static override flags = {
    ...planFlags,
    ...lockFlags,
    'dry-run': Flags.boolean({ summary: 'Plan and print, write nothing.' }),
    'write-timeout': Flags.integer({ summary: 'Seconds to wait for one sysfs write or module load before giving up.', default: 30, min: 1 }),
  };

  public async run(): Promise<unknown> {
    const { openEnv, requireRoot } = await import('../cli/context.js');
    if (!this.flags['dry-run']) requireRoot('apply');
    const { elsewhereNote, planExitCode, planState, planText } = await import('../cli/run-plan.js');
    const { openApplyState, peekManaged, planInputs } = await import('../state/session.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname, machineId: this.flags['machine-id'], writeTimeoutMs: this.flags['write-timeout'] * 1000 });
    const say = (line: string): void => void process.stderr.write(`${line}\n`);
    // The lock comes before observing: the plan must be made against a host no one else is changing.
    const state = this.flags['dry-run']
      ? null
      : await openApplyState(env, {
          dir: this.flags['state-dir'],
          lockTimeoutMs: this.flags['lock-timeout'] * 1000,
          command: `vfio-reconcile apply ${this.argv.join(' ')}`,
          tool: `vfio-reconcile ${this.config.version}`,
          say,
        });
    try {
      const { managed, applied } = state ?? planInputs(peekManaged(env, this.flags['state-dir'], say));
      const run = planState(env, this.args.state, { force: this.flags.force, managed, applied });
      if (run.kind === 'elsewhere') {
        const note = elsewhereNote(run);
        this.log(note.message);
        return note;
      }
      if (this.flags['dry-run']) {
        this.log(planText(run.doc, env, this.color));
        this.setExitCode(planExitCode(run.doc, false));
        return { plan: run.doc, result: null };
      }
      // A blocked plan is refused by execute, whose message lists what blocks it.
      if (run.plan.applyable) this.log(planText(run.doc, env, this.color));
      const { applyPlan } = await import('../cli/run-apply.js');
      const result = await applyPlan(run.plan, env, {
        writeTimeoutMs: this.flags['write-timeout'] * 1000,
        progress: Boolean(process.stderr.isTTY),
        color: this.color,
        ...(state ? { journal: state.journal } : {}),
      });
      const { appliedSummary } = await import('../cli/apply-view.js');
      const { applyError } = await import('../apply/result.js');
      const failed = applyError(result);
      if (failed) return this.failWith(failed, { plan: run.doc, result });
      const summary = appliedSummary(run.doc, result);
      if (summary) this.log(summary);
      return { plan: run.doc, result };
    } finally {
      state?.release();
    }
  }
}
