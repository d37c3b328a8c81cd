// Flags shared by the commands that plan (plan, apply): defined once so help and behaviour agree.

import { Args, Flags } from '@oclif/core';

export const stateArg = Args.string({ description: 'State file (YAML) describing the wanted bindings.', required: true });

export const planFlags = {
  force: Flags.boolean({
    summary: 'Override the in-use safety guards for every rule (the plan marks forced devices).',
  }),
  hostname: Flags.string({
    summary: "Hostname to match against the state file's hosts: globs (default: this machine's).",
  }),
};
