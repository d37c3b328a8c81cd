// Flags shared by the commands that plan (plan, apply): defined once so help and behaviour agree.

import { Args, Flags } from '@oclif/core';

export const stateArg = Args.string({
  description: 'State file (YAML) describing the wanted bindings, or a directory of them: the files whose hosts/dmi/machineIds select this host are merged.',
  required: true,
});

export const planFlags = {
  force: Flags.boolean({
    summary: 'Override the in-use safety guards for every rule (the plan marks forced devices).',
  }),
  hostname: Flags.string({
    summary: "Hostname to match against the state file's hosts: globs (default: this machine's).",
  }),
  'machine-id': Flags.string({
    summary: "machine-id to match against the state file's machineIds: (default: /etc/machine-id for the live /sys, none for another --sysfs-root).",
  }),
};

/** `plan --snapshot` and `apply --simulate --snapshot`: a host captured elsewhere instead of --sysfs-root. */
export const snapshotFlag = Flags.string({
  summary: 'Plan against a host snapshot (from `vfio-reconcile snapshot`) instead of --sysfs-root; nothing of this machine is read.',
  helpValue: 'FILE',
});

/** Flags of the commands that write (apply, rollback): they serialize on the state dir's lock. */
export const lockFlags = {
  'lock-timeout': Flags.integer({
    summary: 'Seconds to wait for another apply or rollback to release the lock (0: fail at once).',
    default: 30,
    min: 0,
  }),
};
