import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';

export default class Completion extends BaseCommand<typeof Completion> {
  static override summary = 'Print a bash or zsh completion script.';
  static override description = `The script is generated from this version's own commands and flags: it completes command names, \
flags, enumerated values (--bus pci or platform), directories for --sysfs-root and --state-dir, and files \
for state files, snapshots and saved plans. Load it in the running shell, or install it where the shell \
looks for completions.

Exit codes: 0 printed.

--json prints { "shell", "script" }.`;

  static override examples = [
    { description: 'Try it in the running bash.', command: 'source <(<%= config.bin %> <%= command.id %> bash)' },
    { description: 'Install it for bash.', command: '<%= config.bin %> <%= command.id %> bash > /etc/bash_completion.d/<%= config.bin %>' },
    { description: 'Install it for zsh, in a directory on $fpath.', command: '<%= config.bin %> <%= command.id %> zsh > "${fpath[1]}/_<%= config.bin %>"' },
  ];

  static override args = {
    shell: Args.string({ description: 'The shell to complete in.', options: ['bash', 'zsh'], required: true }),
  };

  public async run(): Promise<unknown> {
    const { completionScript } = await import('../cli/completion.js');
    const shell = this.args.shell as 'bash' | 'zsh';
    const script = completionScript(shell, this.config.bin, this.config.commands);
    if (!this.jsonEnabled()) process.stdout.write(script);
    return { shell, script };
  }
}
