import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';

export default class Export extends BaseCommand<typeof Export> {
  static override summary = "Write a state file that reproduces the host's current non-default bindings.";
  static override description = `The way in for a host configured by hand or with driverctl: every device whose binding is not the \
kernel's own choice (a driver_override, including none, or a VFIO driver or pci-stub bound without one) \
becomes a rule, and a PF with VFs gets its VF count. Rules match by address plus vendor and device ids, \
with a comment naming each device (from pci.ids when installed). Overrides that driverctl persists in \
/etc/driverctl.d are marked, and ones not in effect now are listed. \`plan\` of the exported file on this \
host shows no changes. Nothing is written to the host.

Exit codes: 0 exported; 1 bad sysfs root or output file.

--json prints { "file", "devices": [ { "bus", "address" } ], "state": <the file's text> }.`;

  static override examples = [
    { description: 'Start managing a hand-configured host.', command: '<%= config.bin %> <%= command.id %> -o /etc/vfio-reconcile/state.yaml' },
    { description: 'Check that it describes the host as it is.', command: '<%= config.bin %> plan /etc/vfio-reconcile/state.yaml --detailed-exitcode' },
  ];

  static override flags = {
    output: Flags.string({ char: 'o', summary: 'Write the state file to FILE (default: standard output).', helpValue: 'FILE' }),
    hostname: Flags.string({ summary: "Hostname for the file's hosts: line (default: this machine's)." }),
  };

  public async run(): Promise<unknown> {
    const { openEnv } = await import('../cli/context.js');
    const { observe } = await import('../observe/observe.js');
    const { readDriverctl } = await import('../snapshot/driverctl.js');
    const { exportState } = await import('../snapshot/export.js');
    const { splitKey } = await import('../domain/names.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname });
    const host = observe(env.sysfs, { hostname: env.hostname });
    const exported = exportState(host, {
      hostname: env.hostname,
      ...(env.names ? { names: env.names } : {}),
      driverctl: env.hostFiles ? readDriverctl(env.hostFiles.etc) : {},
      tool: `vfio-reconcile ${this.config.version}`,
      created: new Date(),
    });
    const devices = exported.devices.map((key) => ({ bus: splitKey(key).bus, address: splitKey(key).name }));
    const result = { file: this.flags.output ?? null, devices, state: exported.text };
    if (this.flags.output === undefined) {
      this.log(exported.text.trimEnd());
      return result;
    }
    const { writeOutput } = await import('../snapshot/write.js');
    writeOutput(this.flags.output, exported.text, 'the state file');
    this.log(`Exported ${exported.devices.length} device${exported.devices.length === 1 ? '' : 's'} to ${this.flags.output}. Check it with: vfio-reconcile plan ${this.flags.output}`);
    return result;
  }
}
