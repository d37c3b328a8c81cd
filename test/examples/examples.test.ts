// The bundled examples are the first thing a user runs: their trees must be what examples/hosts.ts
// describes, their state files must plan cleanly against them, and applying each plan on the
// kernel model must converge (a second plan is empty).

import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXAMPLE_HOSTS, writeExampleTrees } from '../../examples/hosts.js';
import { execute } from '../../src/apply/executor.js';
import { packageRoot } from '../../src/cli/paths.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import { observe } from '../../src/observe/observe.js';
import { plan } from '../../src/plan/planner.js';
import { FsSysfsPort } from '../../src/sysfs/fs-port.js';

const examples = join(packageRoot, 'examples');
const s = suite('examples');

/**
 * Every file and link below dir, as path -> content or link target. Empty directories are left out:
 * git does not keep them, and through the sysfs port an absent directory lists like an empty one.
 */
function snapshotTree(dir: string, rel = '', out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = join(rel, name);
    const st = lstatSync(join(dir, path));
    if (st.isSymbolicLink()) out.set(path, `-> ${readlinkSync(join(dir, path))}`);
    else if (st.isDirectory()) snapshotTree(dir, path, out);
    else out.set(path, readFileSync(join(dir, path), 'utf8'));
  }
  return out;
}

s('committed example trees match examples/hosts.ts (run `npm run examples` after changing it)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vr-examples-'));
  try {
    writeExampleTrees(tmp);
    for (const name of Object.keys(EXAMPLE_HOSTS)) {
      const fresh = snapshotTree(join(tmp, name, 'sysfs'));
      const committed = snapshotTree(join(examples, name, 'sysfs'));
      assert.equal([...committed.keys()], [...fresh.keys()], `${name}: same files`);
      for (const [path, content] of fresh) assert.is(committed.get(path), content, `${name}: ${path}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

const expectations: Record<string, { changed: string[]; untouched: string[] }> = {
  'gpu-passthrough': {
    changed: ['pci/0000:01:00.0', 'pci/0000:01:00.1', 'pci/0000:05:00.0'],
    untouched: ['pci/0000:00:02.0', 'pci/0000:04:00.0', 'pci/0000:00:1f.6', 'pci/0000:00:1c.0'],
  },
  'dpdk-nic': { changed: ['pci/0000:3b:00.0', 'pci/0000:3b:00.1'], untouched: ['pci/0000:19:00.0'] },
  'arm-board': { changed: ['platform/e0700000.xgmac', 'platform/e0700000.dma'], untouched: ['platform/e0900000.xgmac', 'platform/serial8250'] },
};

for (const [name, want] of Object.entries(expectations)) {
  s(`${name}: the state file plans against the bundled tree and converges on the kernel model`, async () => {
    const statePath = join(examples, name, 'state.yaml');
    const host = observe(new FsSysfsPort(join(examples, name, 'sysfs')));
    const state = loadStateFile(statePath);
    const first = plan(host, resolve(state, host));
    assert.ok(first.applyable, `${name} blocked: ${JSON.stringify(first.blocked)}`);
    assert.equal(first.changes.map((c) => c.device).sort(), [...want.changed].sort());
    for (const key of want.untouched) assert.not.ok(first.steps.some((st) => 'device' in st && st.device === key), key);

    const model = EXAMPLE_HOSTS[name]!();
    const result = await execute(first, { sysfs: model, modules: model });
    assert.is(result.outcome, 'applied', JSON.stringify(result.failure));
    const after = observe(model);
    for (const c of first.changes) {
      const dev = after.devices.find((d) => d.key === c.device)!;
      const wanted = c.target.kind === 'driver' ? c.target.driver : null;
      assert.is(dev.driver, wanted, `${c.device} driver`);
    }
    const again = plan(after, resolve(state, after));
    assert.equal(again.steps, [], `${name}: second plan is empty`);
  });
}

s.run();
