import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { planFlags, stateArg } from '../cli/flags.js';

export default class Plan extends BaseCommand<typeof Plan> {
  static override summary = 'Show what apply would change to make the host match a state file.';
  static override description = `Reads the host's sysfs tree (--sysfs-root), resolves the state file's rules against it and prints one \
entry per device whose binding would change (current -> wanted driver and driver_override, IOMMU group, \
reason), the ordered steps, warnings, anything blocked and how to fix it, and a summary. Nothing is \
written. If the file's hosts: globs do not match this host, plan says so and exits 0.

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
  ];

  static override args = { state: stateArg };
  static override flags = {
    ...planFlags,
    'detailed-exitcode': Flags.boolean({ summary: 'Exit 2 when changes are pending, 0 when the host already matches.' }),
  };

  public async run(): Promise<unknown> {
    const { openEnv } = await import('../cli/context.js');
    const { elsewhereNote, planExitCode, planState, planText } = await import('../cli/run-plan.js');
    const { peekManaged, planInputs } = await import('../state/session.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname, machineId: this.flags['machine-id'] });
    const managed = planInputs(peekManaged(env, this.flags['state-dir'], (line) => void process.stderr.write(`${line}\n`)));
    const run = planState(env, this.args.state, { force: this.flags.force, ...managed });
    if (run.kind === 'elsewhere') {
      const note = elsewhereNote(run);
      this.log(note.message);
      return note;
    }
    this.log(planText(run.doc, env, this.color));
    this.setExitCode(planExitCode(run.doc, this.flags['detailed-exitcode']));
    return run.doc;
  }
}
