// The bundled example snapshots: what examples/snapshots.ts makes of examples/hosts.ts (run
// `npm run examples` after changing either), readable by `plan --snapshot`, planning each
// example's state file to the same changes as its sysfs tree does.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXAMPLE_HOSTS } from '../../examples/hosts.js';
import { exampleSnapshotText } from '../../examples/snapshots.js';
import { packageRoot } from '../../src/cli/paths.js';
import { runOut } from '../cli/harness.js';

const s = suite('example snapshots');

for (const [name, make] of Object.entries(EXAMPLE_HOSTS)) {
  const dir = join(packageRoot, 'examples', name);

  s(`${name}: the committed snapshot.json is what examples/snapshots.ts makes (npm run examples)`, () => {
    assert.fixture(readFileSync(join(dir, 'snapshot.json'), 'utf8'), exampleSnapshotText(name, make));
  });

  s(`${name}: plan --snapshot gives the same changes and steps as plan --sysfs-root`, () => {
    const offline = runOut(['plan', join(dir, 'state.yaml'), '--snapshot', join(dir, 'snapshot.json'), '--json']);
    const tree = runOut(['plan', join(dir, 'state.yaml'), '--sysfs-root', join(dir, 'sysfs'), '--json']);
    assert.is(offline.exitCode, 0, offline.stderr);
    const [a, b] = [JSON.parse(offline.stdout), JSON.parse(tree.stdout)];
    assert.equal(a.changes, b.changes);
    assert.equal(a.steps, b.steps);
    assert.is(a.fingerprint, b.fingerprint);
  });
}

s.run();
