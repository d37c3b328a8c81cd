import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { lockFlags } from '../cli/flags.js';

export default class Rollback extends BaseCommand<typeof Rollback> {
  static override summary = "Put the devices the last apply changed back as they were before it, from its journal.";
  static override description = `Reads the last apply's journal in --state-dir and restores every device it wrote to (driver_override, \
driver, SR-IOV VF count) to the state recorded before its first write, reading each device back, and \
puts the managed-device set back as it was. It refuses (exit 1, nothing written) when the journal no \
longer describes the host: the host has rebooted since (overrides are gone, drivers were probed afresh), \
or a device is neither as the apply left it nor as it was before (something else changed it). --force \
restores anyway. --dry-run lists what would change.

An apply (or rollback) that was cut off (SIGKILL, power loss) leaves its journal open; plan, apply and \
status then say so and apply refuses to run. \`rollback --recover\` finishes the job: in the same boot \
it restores the pre-state of the devices the apply had started on; after a reboot, which already dropped \
the overrides, it only closes the journal.

Exit codes: 0 restored (or nothing to do); 1 refused, or nothing to roll back; 4 the restore did not \
complete (the message lists each device left behind).

--json prints { "journal", "action": "restored" | "would-restore" | "closed" | "nothing", "message", \
"devices": [ { "device", "now", "to" } ], "rollback": { "restored", "failed" } }, plus "error" on \
failure.`;

  static override examples = [
    { description: 'Undo the last apply.', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'See what it would restore.', command: '<%= config.bin %> <%= command.id %> --dry-run' },
    { description: 'Finish an apply that was killed half-way.', command: '<%= config.bin %> <%= command.id %> --recover' },
  ];

  static override flags = {
    ...lockFlags,
    force: Flags.boolean({ summary: 'Restore even after a reboot or when the devices changed since the apply.' }),
    recover: Flags.boolean({ summary: 'Finish an interrupted apply or rollback (its journal has no outcome).' }),
    'dry-run': Flags.boolean({ summary: 'Show what would be restored, write nothing.' }),
    'write-timeout': Flags.integer({ summary: 'Seconds to wait for one sysfs write before giving up.', default: 30, min: 1 }),
  };

  public async run(): Promise<unknown> {
    const { openEnv, requireRoot } = await import('../cli/context.js');
    if (!this.flags['dry-run']) requireRoot('rollback');
    const { rollbackLast } = await import('../state/undo.js');
    const { renderUndo } = await import('../state/undo-view.js');
    const writeTimeoutMs = this.flags['write-timeout'] * 1000;
    const env = await this.traced(openEnv({ sysfsRoot: this.flags['sysfs-root'], writeTimeoutMs }));
    const progress = await this.progress();
    const result = await rollbackLast(env, {
      dir: this.flags['state-dir'],
      force: this.flags.force,
      dryRun: this.flags['dry-run'],
      recover: this.flags.recover,
      lockTimeoutMs: this.flags['lock-timeout'] * 1000,
      writeTimeoutMs,
      command: `vfio-reconcile rollback ${this.argv.join(' ')}`,
      say: (line) => void process.stderr.write(`${line}\n`),
      ...(progress ? { progress } : {}),
    });
    const { error, ...doc } = result;
    if (error) return this.failWith(error, doc);
    this.log(renderUndo(result));
    return doc;
  }
}
