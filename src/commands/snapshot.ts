import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';

export default class Snapshot extends BaseCommand<typeof Snapshot> {
  static override summary = 'Capture the host in one JSON file, for planning and simulating elsewhere (CI).';
  static override description = `Reads the host's sysfs tree (--sysfs-root) the way plan does and writes what planning needs: every \
PCI and platform device (ids, class, modalias, driver, driver_override, IOMMU group, NUMA node, SR-IOV \
state, PF/VF links), the registered drivers, the loadable modules, the driver the kernel would choose for \
each device by default (from modules.alias, or the host driver it sits on), the kernel release, hostname, \
DMI product name and machine-id, the devices an earlier apply manages, and, on the live /sys, the in-use \
facts the safety guards read. \`plan --snapshot\` and \`apply --simulate --snapshot\` then run against it on \
any machine. The file is described by \`vfio-reconcile schema --snapshot\`.

MAC addresses and serial numbers are left out unless --include-ids is given. The command lines of \
processes holding /dev/vfio open are cut to the program name. Nothing is written to the host.

Exit codes: 0 written; 1 bad sysfs root or output file.`;

  static override examples = [
    { description: 'Snapshot this host into the fleet repository.', command: '<%= config.bin %> <%= command.id %> -o hosts/pve-1.snapshot.json' },
    { description: 'Plan against it in CI.', command: '<%= config.bin %> plan hosts/pve-1.yaml --snapshot hosts/pve-1.snapshot.json --detailed-exitcode' },
  ];

  static override flags = {
    output: Flags.string({ char: 'o', summary: 'Write the snapshot to FILE (default: standard output).', helpValue: 'FILE' }),
    'include-ids': Flags.boolean({ summary: 'Also record MAC addresses and serial numbers (left out by default).' }),
    hostname: Flags.string({ summary: "Hostname to record (default: this machine's)." }),
  };

  public async run(): Promise<unknown> {
    const { openEnv } = await import('../cli/context.js');
    const { peekManaged, planInputs } = await import('../state/session.js');
    const { captureHost } = await import('../snapshot/capture.js');
    const { toSnapshotDocument } = await import('../snapshot/document.js');
    const env = openEnv({ sysfsRoot: this.flags['sysfs-root'], hostname: this.flags.hostname });
    const { applied } = planInputs(peekManaged(env, this.flags['state-dir'], (line) => void process.stderr.write(`${line}\n`)));
    const captured = captureHost(env, { applied, includeIds: this.flags['include-ids'] });
    const doc = toSnapshotDocument(captured, { created: new Date(), tool: `vfio-reconcile ${this.config.version}` });
    const text = JSON.stringify(doc, null, 2);
    if (this.flags.output === undefined) {
      this.log(text);
      return doc;
    }
    const { writeOutput } = await import('../snapshot/write.js');
    writeOutput(this.flags.output, `${text}\n`, 'the snapshot');
    const what = `${doc.devices.length} devices${doc.usage_known ? ', in-use facts' : ''}${this.flags['include-ids'] ? ', MAC addresses and serials' : ''}`;
    this.log(`Wrote a snapshot of ${doc.host.hostname ?? 'this host'} (${what}) to ${this.flags.output}.`);
    return { file: this.flags.output, hostname: doc.host.hostname, devices: doc.devices.length, usage_known: doc.usage_known };
  }
}
