import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';

export default class Uninstall extends BaseCommand<typeof Uninstall> {
  static override summary = 'Remove the unit, its enablement link and the udev rules that install wrote.';
  static override description = `Removes exactly the files listed in the manifest \`install\` left in the state dir, and the manifest. A \
file changed since install wrote it is not removed (nothing is, exit 1) unless --force. Overrides the \
udev rules already set stay until the device is removed or the machine reboots; the bindings stay as \
they are (use \`rollback\` or \`apply\` to change them).

Exit codes: 0 removed, or nothing was installed; 1 a file was changed since install.

--json prints { "root", "removed", "missing" }, or { "root", "nothing": true }.`;

  static override examples = [
    { description: 'Remove what install wrote.', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'From an image.', command: '<%= config.bin %> <%= command.id %> --root /mnt/image' },
  ];

  static override flags = {
    root: Flags.string({ summary: 'The directory install wrote under.', default: '/' }),
    force: Flags.boolean({ summary: 'Remove the files even if they were changed since install.' }),
    'dry-run': Flags.boolean({ summary: 'List what would be removed, remove nothing.' }),
  };

  public async run(): Promise<unknown> {
    const { resolve } = await import('node:path');
    const { uninstall } = await import('../install/install.js');
    const root = resolve(this.flags.root);
    const stateDir = this.flags['state-dir'];
    const removal = uninstall({ root, ...(stateDir ? { stateDir: resolve(stateDir) } : {}), force: this.flags.force, dryRun: this.flags['dry-run'] });
    if (!removal) {
      this.log(`Nothing to uninstall: no install manifest under ${root}.`);
      return { root, nothing: true };
    }
    const verb = this.flags['dry-run'] ? 'Would remove' : 'Removed';
    for (const path of removal.removed) this.log(`${verb} ${path}`);
    for (const path of removal.missing) this.log(`Already gone: ${path}`);
    if (root === '/' && !this.flags['dry-run']) this.log('Now run: systemctl daemon-reload && udevadm control --reload');
    return { root, ...removal };
  }
}
