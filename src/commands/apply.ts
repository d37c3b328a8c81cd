import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { lockFlags, planFlags, snapshotFlag, stateArg } from '../cli/flags.js';

export default class Apply extends BaseCommand<typeof Apply> {
  static override summary = 'Make the host match a state file: plan, write, verify, roll back on failure.';
  static override description = `Plans exactly like \`plan\`, prints the plan, then performs its steps through sysfs: set \
driver_override, unbind, probe, and read every device back. If any step fails, every device already \
touched is put back as it was. A blocked plan is refused before anything is written. Applying a file the \
host already matches prints "No changes" and exits 0.

STATE may also be a plan saved with \`plan --out\`: apply re-plans it on this host and performs exactly its \
steps, or refuses it (exit 1, nothing written) when it is stale: the host changed since (the message says \
what), the in-use guards now block it, it was made for another host, or the file was edited.

--simulate runs the whole apply on a kernel model of the host instead (--sysfs-root, or --snapshot FILE \
from \`vfio-reconcile snapshot\`), then prints where each touched device would end up and whether each \
touched IOMMU group could be handed to VFIO, with the same exit codes; nothing is written, no lock or \
journal is taken, and root is not needed. The model knows the kernel's binding rules, not the hardware: \
a probe that fails on the real device is not predicted, and the report lists what else it cannot know.

Exit codes: 0 applied (or nothing to do); 1 error before anything was written (bad input, selector \
mismatch, blocked plan); 3 apply failed and was rolled back, the host is as it was; 4 apply failed and \
the rollback did not complete (the message lists each device left behind and where it was before).

--json prints { "plan": <plan document>, "result": { "outcome": "applied" | "noop" | "rolled-back" | \
"rollback-failed", "completed", "failure", "rollback", "modulesLoaded" } }, plus "error" when the apply \
failed; with --dry-run "result" is null; with --simulate there is also "simulation": { "outcome", \
"devices": [ { "address", "bus", "target", "before", "after", "as_planned", "note" } ], "groups": [ { \
"group", "viable", "vfio_members", "blockers" } ], "mdevs": [ { "uuid", "parent", "type", "change" } ], \
"unknowns" }.`;

  static override examples = [
    { description: 'Apply the host state.', command: '<%= config.bin %> <%= command.id %> /etc/vfio-reconcile/state.yaml' },
    { description: 'Show the plan and stop (same as plan).', command: '<%= config.bin %> <%= command.id %> state.yaml --dry-run' },
    { description: 'Allow slow drivers a minute per write.', command: '<%= config.bin %> <%= command.id %> state.yaml --write-timeout 60' },
    { description: 'Apply exactly the plan reviewed earlier.', command: '<%= config.bin %> <%= command.id %> plan.json' },
    { description: 'Predict the result in CI.', command: '<%= config.bin %> <%= command.id %> hosts/pve-1.yaml --simulate --snapshot snapshots/pve-1.json' },
  ];

  static override args = { state: stateArg };
  static override flags = {
    ...planFlags,
    ...lockFlags,
    'dry-run': Flags.boolean({ summary: 'Plan and print, write nothing.' }),
    simulate: Flags.boolean({
      summary: 'Run the whole apply on a kernel model of the host instead of the host, and print the predicted end state; nothing is written.',
    }),
    snapshot: { ...snapshotFlag, dependsOn: ['simulate'] },
    'write-timeout': Flags.integer({ summary: 'Seconds to wait for one sysfs write or module load before giving up.', default: 30, min: 1 }),
  };

  public async run(): Promise<unknown> {
    const { openEnv, requireRoot } = await import('../cli/context.js');
    const writes = !this.flags['dry-run'] && !this.flags.simulate;
    if (writes) requireRoot('apply');
    const { elsewhereNote, planExitCode, planState, planText } = await import('../cli/run-plan.js');
    const { openApplyState } = await import('../state/session.js');
    const { planInputsFor } = await import('../snapshot/env.js');
    const { replanSaved, savedPlanAt } = await import('../snapshot/saved-plan.js');
    const env = await this.traced(
      openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname, machineId: this.flags['machine-id'], snapshot: this.flags.snapshot, writeTimeoutMs: this.flags['write-timeout'] * 1000 }),
    );
    const say = (line: string): void => void process.stderr.write(`${line}\n`);
    // The lock comes before observing: the plan must be made against a host no one else is changing.
    const state = !writes
      ? null
      : await openApplyState(env, {
          dir: this.flags['state-dir'],
          lockTimeoutMs: this.flags['lock-timeout'] * 1000,
          command: `vfio-reconcile apply ${this.argv.join(' ')}`,
          tool: `vfio-reconcile ${this.config.version}`,
          say,
        });
    try {
      const { managed, applied } = state ?? (await planInputsFor(env, this.flags['state-dir'], say));
      const saved = savedPlanAt(this.args.state, 'apply');
      const run = saved ? replanSaved(env, saved, { managed, applied, force: Boolean(this.flags.force) }) : planState(env, this.args.state, { force: this.flags.force, managed, applied });
      if (run.kind === 'elsewhere') {
        const note = elsewhereNote(run);
        this.log(note.message);
        return note;
      }
      if (this.flags['dry-run']) {
        this.logPlan(planText(run.doc, env, this.color));
        this.setExitCode(planExitCode(run.doc, false));
        return { plan: run.doc, result: null };
      }
      // A blocked plan is refused by execute, whose message lists what blocks it.
      if (run.plan.applyable && this.verbosity !== 'quiet') this.log(planText(run.doc, env, this.color));
      const { applyError } = await import('../apply/result.js');
      if (this.flags.simulate) {
        const { simulateApply } = await import('../snapshot/simulate.js');
        const { renderSimulation } = await import('../snapshot/simulate-view.js');
        const { palette } = await import('../cli/color.js');
        const { result, report } = await simulateApply(run.plan, run.host, env);
        this.log(renderSimulation(report, env.snapshot ? `${run.host.hostname ?? 'the host'} (snapshot ${env.snapshot.path})` : env.sysfs.root, palette(this.color)));
        const failed = applyError(result);
        if (failed) return this.failWith(failed, { plan: run.doc, result, simulation: report });
        return { plan: run.doc, result, simulation: report };
      }
      const { applyPlan } = await import('../cli/run-apply.js');
      const result = await applyPlan(run.plan, env, {
        writeTimeoutMs: this.flags['write-timeout'] * 1000,
        progress: await this.progress(),
        ...(state ? { journal: state.journal } : {}),
      });
      const { appliedSummary } = await import('../cli/apply-view.js');
      const failed = applyError(result);
      if (failed) return this.failWith(failed, { plan: run.doc, result });
      const summary = appliedSummary(run.doc, result);
      if (summary) this.log(summary);
      // Nothing to do: with --quiet the plan's own summary ("No changes ...") is the final line.
      else if (this.verbosity === 'quiet') this.logPlan(planText(run.doc, env, this.color));
      return { plan: run.doc, result };
    } finally {
      state?.release();
    }
  }
}
