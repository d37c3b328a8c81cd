import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { planFlags, snapshotFlag, stateArg } from '../cli/flags.js';

export default class Plan extends BaseCommand<typeof Plan> {
  static override summary = 'Show what apply would change to make the host match a state file.';
  static override description = `Reads the host's sysfs tree (--sysfs-root), resolves the state file's rules against it and prints one \
entry per device whose binding would change (current -> wanted driver and driver_override, IOMMU group, \
reason), the ordered steps, warnings, anything blocked and how to fix it, and a summary. Nothing is \
written. If the file's hosts: globs do not match this host, plan says so and exits 0.

--snapshot FILE plans against a host captured with \`vfio-reconcile snapshot\` instead of --sysfs-root \
(in CI, without the hardware): the same output and exit codes as on that host, the in-use guards included. \
--out FILE also saves the plan; \`apply FILE\` then performs exactly those steps, or refuses the plan once \
the host has changed. A blocked plan is not saved.

Exit codes: 0 planned (no changes, or changes without --detailed-exitcode); 1 bad input, selector \
mismatch or a blocked plan; 2 changes pending (only with --detailed-exitcode).

--json prints the plan document described by \`vfio-reconcile schema --plan\` (format_version, \
fingerprint, applyable, host, changes, steps, warnings, blocked, summary), or { "skipped": true, \
"hostname", "hosts", "message" } when the file is for other hosts.`;

  static override examples = [
    { description: 'Review the changes for this host.', command: '<%= config.bin %> <%= command.id %> /etc/vfio-reconcile/state.yaml' },
    {
      description: 'Try a state file against a saved sysfs tree.',
      command: '<%= config.bin %> <%= command.id %> examples/gpu-passthrough/state.yaml --sysfs-root examples/gpu-passthrough/sysfs',
    },
    { description: 'In CI or a timer: exit 2 when the host has drifted.', command: '<%= config.bin %> <%= command.id %> state.yaml --detailed-exitcode' },
    { description: 'In CI, against a snapshot of the host.', command: '<%= config.bin %> <%= command.id %> hosts/pve-1.yaml --snapshot snapshots/pve-1.json --detailed-exitcode' },
    { description: 'Save the reviewed plan for apply.', command: '<%= config.bin %> <%= command.id %> state.yaml --out plan.json' },
  ];

  static override args = { state: stateArg };
  static override flags = {
    ...planFlags,
    'detailed-exitcode': Flags.boolean({ summary: 'Exit 2 when changes are pending, 0 when the host already matches.' }),
    snapshot: snapshotFlag,
    out: Flags.string({ summary: 'Also save the plan to FILE, for `apply FILE` to execute exactly it (or refuse it once the host has changed).', helpValue: 'FILE' }),
  };

  public async run(): Promise<unknown> {
    const { openEnv } = await import('../cli/context.js');
    const { elsewhereNote, planExitCode, planState, planText } = await import('../cli/run-plan.js');
    const { planInputsFor } = await import('../snapshot/env.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname, machineId: this.flags['machine-id'], snapshot: this.flags.snapshot });
    const managed = await planInputsFor(env, this.flags['state-dir'], (line) => void process.stderr.write(`${line}\n`));
    const savedPlans = await import('../snapshot/saved-plan.js');
    savedPlans.savedPlanAt(this.args.state, 'plan'); // refuses a snapshot or a saved plan given as STATE
    const text = this.flags.out === undefined ? undefined : savedPlans.stateTextForSaving(this.args.state);
    const run = planState(env, this.args.state, { force: this.flags.force, ...managed, text });
    if (run.kind === 'elsewhere') {
      const note = elsewhereNote(run);
      this.log(note.message);
      return note;
    }
    this.logPlan(planText(run.doc, env, this.color));
    if (this.flags.out !== undefined && text !== undefined) {
      const ctx = { statePath: this.args.state, text, force: Boolean(this.flags.force), applied: managed.applied, snapshot: this.flags.snapshot ?? null };
      this.log(savedPlans.savePlan(env, this.flags.out, run, { ...ctx, created: new Date(), tool: `vfio-reconcile ${this.config.version}` }));
    }
    this.setExitCode(planExitCode(run.doc, this.flags['detailed-exitcode']));
    return run.doc;
  }
}
