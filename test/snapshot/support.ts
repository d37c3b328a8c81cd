// Hosts for the snapshot tests: a "live" host built as files (a sysfs tree with usage class entries,
// /proc, /dev, /etc and a /lib/modules/<release> with modules.alias), so capture reads exactly
// what it reads on a real machine; and state files and CLI runs shared by the suites.

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { RunEnv } from '../../src/cli/context.js';
import { pciNames } from '../../src/cli/names.js';
import type { KernelModel } from '../../src/kernel/model.js';
import { SystemModules } from '../../src/observe/modules.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';
import { PCI_IDS_FIXTURE, tempDir } from '../cli/harness.js';
import { FakeHost } from '../safety/fake-host.js';

export const MACHINE_ID = '0123456789abcdef0123456789abcdef';
export const MAC = '3c:ec:ef:12:34:56';
export const SERIAL = 'S5GXNF0R812345';
export const SECRET = 'hunter2-spice-password';

/** A few real-shaped modules.alias lines (from Debian 6.12's), in file order. */
export const MODULES_ALIAS = [
  '# Aliases extracted from modules themselves.',
  'alias pci:v000010DEd*sv*sd*bc03sc*i* nouveau',
  'alias pci:v000010DEd*sv*sd*bc03sc*i* nvidiafb',
  'alias pci:v000010DEd00001AEFsv*sd*bc*sc*i* snd_hda_intel',
  'alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci',
  'alias pci:v00008086d00001A1Csv*sd*bc*sc*i* e1000e',
  'alias pci:v*d*sv*sd*bc01sc08i02* nvme',
  'alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci',
  'alias of:N*T*Camd,xgbe-seattle-v1a amd_xgbe',
  '',
].join('\n');

const MODULES = ['nouveau', 'nvidiafb', 'snd_hda_intel', 'xhci_pci', 'e1000e', 'nvme', 'vfio_pci', 'vfio', 'pci_stub', 'i915', 'amd_xgbe'];

export interface LiveHost {
  fh: FakeHost;
  env: RunEnv;
  etc: string;
  libModules: string;
  cleanup(): void;
}

/**
 * `model` written out as a live host: usage class trees come from `decorate`, the module list from
 * modules.dep, the default drivers from modules.alias, the machine-id from etc/, DMI from the tree.
 */
export function liveHost(model: KernelModel, decorate: (fh: FakeHost) => void = () => undefined): LiveHost {
  const fh = new FakeHost(model);
  const files = tempDir('snapshot-host');
  const etc = join(files.dir, 'etc');
  const libModules = join(files.dir, 'lib/modules', model.kernel);
  mkdirSync(etc, { recursive: true });
  mkdirSync(libModules, { recursive: true });
  writeFileSync(join(etc, 'machine-id'), `${MACHINE_ID}\n`);
  writeFileSync(join(libModules, 'modules.alias'), MODULES_ALIAS);
  writeFileSync(join(libModules, 'modules.dep'), MODULES.map((m) => `kernel/drivers/${m}.ko.xz:`).join('\n') + '\n');
  writeFileSync(join(libModules, 'modules.builtin.modinfo'), 'pcieport.alias=pci:v*d*sv*sd*bc06sc04i00*\0pcieport.license=GPL\0');
  sysFile(fh, 'class/dmi/id/product_name', 'ProArt Z790-CREATOR WIFI\n');
  decorate(fh);
  const names = pciNames([PCI_IDS_FIXTURE]);
  const env: RunEnv = {
    sysfs: new FsSysfsPort(fh.sys),
    modules: new SystemModules({ libModules }),
    hostname: 'pve-lab',
    kernelRelease: model.kernel,
    usage: fh.env(),
    hostFiles: { etc, libModules },
    ...(names ? { names } : {}),
  };
  return {
    fh,
    env,
    etc,
    libModules,
    cleanup() {
      fh.cleanup();
      files.cleanup();
    },
  };
}

export function sysFile(fh: FakeHost, path: string, content: string): void {
  mkdirSync(dirname(join(fh.sys, path)), { recursive: true });
  writeFileSync(join(fh.sys, path), content);
}

/** A relative symlink at root-relative `at` to root-relative `to`, as the kernel writes them. */
export function sysLink(fh: FakeHost, at: string, to: string): void {
  mkdirSync(dirname(join(fh.sys, at)), { recursive: true });
  symlinkSync(posix.relative(posix.dirname(at), to), join(fh.sys, at));
}

/** The NIC's interface with a MAC, the NVMe controller's serial, a VM holding group 14 with a secret on its command line. */
export function withIdentifiers(fh: FakeHost): void {
  fh.netif('enp0s31f6', fh.pci('0000:00:1f.6'), { up: false });
  sysFile(fh, `${fh.pci('0000:00:1f.6')}/net/enp0s31f6/address`, `${MAC}\n`);
  const ctrl = `${fh.pci('0000:04:00.0')}/nvme/nvme0`;
  sysFile(fh, `${ctrl}/serial`, `${SERIAL}    \n`);
  sysLink(fh, 'class/nvme/nvme0', ctrl);
  fh.process(4242, ['qemu-system-x86_64', '-name', 'win11', '-spice', `port=5901,password=${SECRET}`], ['/dev/vfio/14']);
}

/** The GPU drives the text console and the NVMe disk holds /. */
export function withUsage(fh: FakeHost): void {
  fh.framebuffer('fb0', fh.pci('0000:01:00.0'), 'nouveaudrmfb');
  fh.vtconsole('vtcon1', 'frame buffer device', true);
  fh.block('nvme0n1', fh.pci('0000:04:00.0'), { devno: '259:0' });
  fh.mount('259:0', '/', 'ext4', '/dev/nvme0n1');
}

export const STATES: Record<string, string> = {
  gpu: 'version: 1\nhosts: ["pve-*"]\ndevices:\n  - name: rtx3090\n    match: { address: "01:00.*", vendor: "10de" }\n    count: 2\n    driver: vfio-pci\n',
  'in-sync': 'version: 1\ndevices:\n  - match: { address: "00:02.0" }\n    driver: i915\n',
  split: 'version: 1\ndevices:\n  - match: { address: "01:00.0" }\n    driver: vfio-pci\n',
  usb: 'version: 1\ndevices:\n  - name: usb\n    match: { address: "05:00.0" }\n    driver: vfio-pci\n',
  nvme: 'version: 1\ndevices:\n  - name: disk\n    match: { class: "0108" }\n    driver: vfio-pci\n',
  miscount: 'version: 1\ndevices:\n  - name: gpus\n    match: { vendor: "10de", class: "03" }\n    count: 2\n    driver: vfio-pci\n',
  elsewhere: 'version: 1\nhosts: ["db-*"]\ndevices:\n  - match: { address: "01:00.0" }\n    driver: vfio-pci\n',
  mdev: 'version: 1\nmdevs:\n  - parent: { address: "00:02.0" }\n    type: i915-GVTg_V5_4\n    uuid: 0b2ac85e-9b54-4bd1-9f3c-5d2e7c0b4a11\n',
};

/** The state files above, written into `dir`; name -> path. */
export function writeStates(dir: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(STATES).map(([name, text]) => {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(path, text);
      return [name, path];
    }),
  );
}
