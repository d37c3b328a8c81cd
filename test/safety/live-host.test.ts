// `plan` against this machine's real /sys must refuse to touch its own disk and network device,
// whose file system and interface it is running on. Only ever inside a private mount namespace
// with /sys bound read-only over itself (writes there fail with EROFS), and only `plan`: never
// apply, never the live writable /sys.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { tempDir } from '../cli/harness.js';

const READ_ONLY_SYS = 'mount --bind /sys /sys && mount -o remount,bind,ro /sys && test ! -w /sys/bus/pci/drivers_probe';

/** `plan STATE --json ...extra` in a private namespace where /sys is read-only; null if one cannot be made. */
function planReadOnly(state: string, extra: string[] = []): { code: number; doc: any; stderr: string } {
  const script = `${READ_ONLY_SYS} && exec "$NODE" bin/run.js plan "$0" --json "$@"`;
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script, state, ...extra], {
    cwd: packageRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE: process.execPath, NO_COLOR: '1' },
  });
  assert.ok(r.stdout.trim().startsWith('{'), `plan printed no JSON (exit ${r.status}): ${r.stderr}`);
  return { code: r.status ?? -1, doc: JSON.parse(r.stdout), stderr: r.stderr };
}

function namespaceProblem(): string | null {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', READ_ONLY_SYS], { encoding: 'utf8' });
  if (r.error) return `unshare could not run: ${r.error.message}`;
  return r.status === 0 ? null : `unshare -m with a read-only /sys failed (exit ${r.status}): ${r.stderr.trim()}`;
}

/** Virtio PCI devices of this machine by class prefix, e.g. `01` storage, `02` network. */
function virtio(classPrefix: string): string[] {
  const root = '/sys/bus/pci/devices';
  return readdirSync(root).filter((d) => {
    const read = (a: string) => readFileSync(join(root, d, a), 'utf8').trim();
    return read('vendor') === '0x1af4' && read('class').slice(2).startsWith(classPrefix);
  });
}

const s = suite('safety: plan on this machine refuses its own disk and network');
const problem = namespaceProblem();
const disks = problem ? [] : virtio('01');
const nics = problem ? [] : virtio('02');

if (problem && process.env.CI === 'true') {
  s('a private read-only /sys can be set up (required in CI)', () => {
    assert.unreachable(`cannot check the in-use guards against this machine: ${problem}`);
  });
} else if (problem || disks.length === 0 || nics.length === 0) {
  console.log(`live-host safety test skipped: ${problem ?? 'this machine has no virtio disk and network PCI device'}`);
} else {
  const tmp = tempDir('live');
  const state = join(tmp.dir, 'own-devices.yaml');
  // `none` rather than vfio-pci: no module load, no IOMMU question, so the in-use guards are all
  // that stands between this plan and an unbind.
  writeFileSync(
    state,
    'version: 1\ndevices:\n' +
      '  - name: virtio-disk\n    match: { vendor: "1af4", class: "01" }\n    driver: none\n' +
      '  - name: virtio-net\n    match: { vendor: "1af4", class: "02" }\n    driver: none\n',
  );
  s.after(() => tmp.cleanup());

  s('the plan is blocked (exit 1): the disk carries / and the NIC an interface with addresses', () => {
    const { code, doc } = planReadOnly(state);
    assert.is(code, 1);
    assert.not.ok(doc.applyable);
    const byAddress = new Map<string, { code: string; message: string }>(doc.blocked.map((b: any) => [b.address, b]));
    const rootDisk = disks.map((d) => byAddress.get(d)).find((b) => b && / mounted on \/(?: |,|$)/.test(b.message));
    assert.ok(rootDisk, `no in-use refusal names the root mount: ${JSON.stringify(doc.blocked, null, 2)}`);
    assert.is(rootDisk!.code, 'in-use');
    assert.match(rootDisk!.message, /is in use: \/dev\/vd[a-z]+/);
    const nic = nics.map((d) => byAddress.get(d)).find((b) => b && /interface \S+ .*up with /.test(b.message));
    assert.ok(nic, `no in-use refusal names an interface: ${JSON.stringify(doc.blocked, null, 2)}`);
    assert.is(nic!.code, 'in-use');
    const ifname = /interface (\S+)/.exec(nic!.message)![1]!;
    assert.ok(readdirSync('/sys/class/net').includes(ifname), `${ifname} is not an interface of this machine`);
    if (defaultRouteDevices().includes(ifname)) assert.match(nic!.message, 'carrying the default route');
    assert.equal(doc.changes.filter((c: any) => c.forced), []);
  });

  s('--force plans it (plan only), marking both devices forced and saying which guard it overrode', () => {
    const { code, doc } = planReadOnly(state, ['--force']);
    assert.is(code, 0);
    assert.ok(doc.applyable);
    assert.equal(doc.blocked, []);
    for (const address of [...disks, ...nics]) {
      const change = doc.changes.find((c: any) => c.address === address);
      if (!change || change.before.driver === null) continue; // nothing bound, nothing to guard
      assert.ok(change.forced, `${address} should be forced`);
    }
    const overrides = doc.warnings.filter((w: any) => w.message.startsWith('forced past the in-use guard')).map((w: any) => w.message);
    assert.ok(overrides.some((m: string) => /\(mount\b.*mounted on \//.test(m) && m.endsWith('--force')), overrides.join('\n'));
    assert.ok(overrides.some((m: string) => /\(netif\).*interface \S+ .*up with/.test(m)), overrides.join('\n'));
  });
}

/** Interfaces the main table's default routes leave through, as `ip` says. */
function defaultRouteDevices(): string[] {
  const out: string[] = [];
  for (const family of ['-4', '-6']) {
    const r = spawnSync('ip', ['-j', family, 'route', 'show', 'default'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) for (const route of JSON.parse(r.stdout)) if (route.dev) out.push(route.dev);
  }
  return out;
}

s.run();
