import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';

export default class Install extends BaseCommand<typeof Install> {
  static override summary = 'Apply the state at every boot: write a systemd unit and udev rules (shown in full).';
  static override description = `Writes /etc/systemd/system/vfio-reconcile.service (runs \`apply STATE\` once at boot, after module \
loading and before libvirtd, virtqemud, pve-guests, kubelet and nova-compute), enables it for \
multi-user.target, and writes /etc/udev/rules.d/70-vfio-reconcile.rules, which set the declared \
driver_override when a device appears so that a host driver loaded later cannot take it (the rules \
file explains what udev cannot prevent). The rules come from the state files for this host, resolved \
against --sysfs-root. Every file is printed in full; the unit is checked with \`systemd-analyze verify\` \
when that is installed, and nothing is written if it fails. A manifest in the state dir lists what was \
written, for \`uninstall\`. Files that exist and were not written by an earlier install are never \
overwritten.

--root DIR writes under DIR instead of / (an image being built; tests); the files still name STATE and \
this vfio-reconcile as the booted system will see them.

Exit codes: 0 installed (or shown, with --dry-run); 1 bad state file, state for another host, files in the \
way, or the unit does not verify.

--json prints { "root", "dryRun", "files": [ { "path", "content" | "link" } ], "verification", "manifest" }.`;

  static override examples = [
    { description: 'Install for the state in /etc.', command: '<%= config.bin %> <%= command.id %> --state /etc/vfio-reconcile/state.yaml' },
    { description: 'See the files without writing them.', command: '<%= config.bin %> <%= command.id %> --state /etc/vfio-reconcile/fleet/hosts --dry-run' },
    { description: 'Write into an image being built.', command: '<%= config.bin %> <%= command.id %> --root /mnt/image --state /etc/vfio-reconcile/state.yaml' },
  ];

  static override flags = {
    root: Flags.string({ summary: 'Write under this directory instead of /.', default: '/' }),
    state: Flags.string({ summary: 'State file or fleet directory the unit applies.', default: '/etc/vfio-reconcile/state.yaml' }),
    'dry-run': Flags.boolean({ summary: 'Show the files, write nothing.' }),
    'lock-timeout': Flags.integer({ summary: 'Seconds the boot-time apply waits for another apply (a watch agent) to finish.', default: 120, min: 0 }),
    hostname: Flags.string({ summary: "Generate for the host with this name (default: this machine's)." }),
    'machine-id': Flags.string({ summary: 'Generate for the machine with this machine-id (default: /etc/machine-id for the live /sys).' }),
  };

  public async run(): Promise<unknown> {
    const { resolve } = await import('node:path');
    const { openEnv } = await import('../cli/context.js');
    const { install, renderInstall, selfCommand } = await import('../install/install.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname, machineId: this.flags['machine-id'] });
    const stateDir = this.flags['state-dir'];
    const result = install(env, {
      root: resolve(this.flags.root),
      state: resolve(this.flags.state),
      ...(stateDir ? { stateDir: resolve(stateDir) } : {}),
      lockTimeoutSec: this.flags['lock-timeout'],
      program: await selfCommand(),
      dryRun: this.flags['dry-run'],
    });
    this.log(renderInstall(result));
    return result;
  }
}
