import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';

export default class Status extends BaseCommand<typeof Status> {
  static override summary = "Show the host's devices, their drivers and IOMMU groups.";
  static override description = `Lists every PCI and platform device under --sysfs-root: address, vendor:device (and the pci.ids name \
when the database is installed), class, bound driver, driver_override, and IOMMU group with its other \
members. Given a STATE file, also shows which rule manages each device. --groups lists the devices by \
IOMMU group, with whether each group could be handed to VFIO now or which member blocks it. Nothing is \
written.

Exit codes: 0 shown; 1 bad sysfs root or state file.

--json prints { "host": { "hostname", "kernel" }, "devices": [ { "address", "bus", "vendor", "device", \
"product", "class", "compatible", "driver", "override", "group", "groupPeers", "rule": { "index", "name", \
"line", "target" } | null } ], "groups": [ { "group", "viable", "members", "blockers": [ { "address", "driver", \
"why" } ] } ] }.`;

  static override examples = [
    { description: 'All devices.', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Which rule manages each device.', command: '<%= config.bin %> <%= command.id %> /etc/vfio-reconcile/state.yaml' },
    { description: 'IOMMU groups and whether VFIO can use them.', command: '<%= config.bin %> <%= command.id %> --groups --bus pci' },
  ];

  static override args = {
    state: Args.string({ description: 'State file whose rules to show next to the devices.' }),
  };

  static override flags = {
    groups: Flags.boolean({ summary: 'Group the devices by IOMMU group, with a VFIO verdict per group.' }),
    bus: Flags.option({ summary: 'Only devices on this bus.', options: ['pci', 'platform'] as const })(),
  };

  public async run(): Promise<unknown> {
    const { openEnv } = await import('../cli/context.js');
    const { statusOf } = await import('../cli/run-status.js');
    const { palette } = await import('../cli/color.js');
    const { renderGroups, renderStatus } = await import('../cli/status-view.js');
    const { peekState } = await import('../state/session.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'] });
    peekState(env, this.flags['state-dir'], (line) => void process.stderr.write(`${line}\n`));
    const { doc, note } = statusOf(env, this.args.state, this.flags.bus);
    if (note) this.log(note);
    const p = palette(this.color);
    this.log(this.flags.groups ? renderGroups(doc, p) : renderStatus(doc, p, this.args.state !== undefined && !note));
    return doc;
  }
}
