import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { EXIT } from '../domain/errors.js';
import { checkStateFiles, renderValidation } from '../cli/validate-files.js';

export default class Validate extends BaseCommand<typeof Validate> {
  static override summary = 'Check state files for syntax and schema errors without reading sysfs.';
  static override description = `Parses each STATE file and validates it against the state schema. Problems are printed as \
\`file:line:col: message\` with a hint where one helps. Selectors are not resolved (that needs a host): \
use \`plan\` for that.

Exit codes: 0 every file is valid; 1 any file has a problem.

--json prints { "files": [ { "file", "ok", "diagnostics": [ { "message", "file", "line", "col", "hint" } \
] } ] }.`;

  static override examples = [
    { description: 'Validate one file.', command: '<%= config.bin %> <%= command.id %> /etc/vfio-reconcile/state.yaml' },
    { description: 'Validate every host file in a repository (CI).', command: '<%= config.bin %> <%= command.id %> hosts/*.yaml' },
  ];

  static override strict = false;
  static override args = {
    state: Args.string({ description: 'State file(s) to check.', required: true }),
  };

  public async run(): Promise<unknown> {
    const files = await checkStateFiles(this.positionals);
    // --quiet: only the files with problems.
    const shown = this.verbosity === 'quiet' ? files.filter((f) => !f.ok) : files;
    if (shown.length > 0) this.log(renderValidation(shown));
    if (files.some((f) => !f.ok)) this.setExitCode(EXIT.error);
    return { files };
  }
}
