import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { readShipped } from '../shipped/files.js';

export default class Schema extends BaseCommand<typeof Schema> {
  static override summary = 'Print the JSON Schema of the state file (or of the plan document, or of a host snapshot).';
  static override description = `The state schema is what \`validate\`, \`plan\` and \`apply\` check a state file against; point an \
editor's YAML language server at it for completion and inline errors. \`--plan\` prints the schema of \
the document that \`plan --json\` emits, \`--snapshot\` that of the file \`vfio-reconcile snapshot\` writes. The \
output is the schema itself, with or without --json.`;

  static override examples = [
    { description: 'Save the state schema for an editor.', command: '<%= config.bin %> <%= command.id %> > state.schema.json' },
    { description: 'Print the plan document schema.', command: '<%= config.bin %> <%= command.id %> --plan' },
  ];

  static override flags = {
    plan: Flags.boolean({ summary: 'Print schemas/plan.schema.json instead of the state schema.', exclusive: ['snapshot'] }),
    snapshot: Flags.boolean({ summary: 'Print schemas/snapshot.schema.json instead of the state schema.' }),
  };

  public async run(): Promise<unknown> {
    const text = readShipped(`schemas/${this.flags.plan ? 'plan' : this.flags.snapshot ? 'snapshot' : 'state'}.schema.json`);
    this.log(text.trimEnd());
    return JSON.parse(text);
  }
}
