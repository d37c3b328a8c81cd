import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { readShipped } from '../shipped/files.js';

export default class Schema extends BaseCommand<typeof Schema> {
  static override summary = 'Print the JSON Schema of the state file (or of the plan document).';
  static override description = `The state schema is what \`validate\`, \`plan\` and \`apply\` check a state file against; point an \
editor's YAML language server at it for completion and inline errors. \`--plan\` prints the schema of \
the document that \`plan --json\` emits. The output is the schema itself, with or without --json.`;

  static override examples = [
    { description: 'Save the state schema for an editor.', command: '<%= config.bin %> <%= command.id %> > state.schema.json' },
    { description: 'Print the plan document schema.', command: '<%= config.bin %> <%= command.id %> --plan' },
  ];

  static override flags = {
    plan: Flags.boolean({ summary: 'Print schemas/plan.schema.json instead of the state schema.' }),
  };

  public async run(): Promise<unknown> {
    const text = readShipped(`schemas/${this.flags.plan ? 'plan' : 'state'}.schema.json`);
    this.log(text.trimEnd());
    return JSON.parse(text);
  }
}
