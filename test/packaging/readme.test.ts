// The README's command reference is generated (npm run readme): it must be what the commands say
// today, so a flag added or a summary changed without regenerating it fails here.

import { readFileSync } from 'node:fs';
import { Config } from '@oclif/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commandReference, README, withReference } from '../../scripts/gen-readme.js';
import { packageRoot } from '../../src/cli/paths.js';

const s = suite('README command reference');

s('README.md holds the reference the commands generate today (else: npm run readme)', async () => {
  const readme = readFileSync(README, 'utf8');
  const expected = withReference(readme, await commandReference());
  if (readme !== expected) {
    // The first differing line, so the failure says what went stale.
    const [a, b] = [readme.split('\n'), expected.split('\n')];
    const i = a.findIndex((line, n) => line !== b[n]);
    assert.unreachable(`README.md is stale at line ${i + 1}; run \`npm run readme\`\n  README:    ${a[i]}\n  generated: ${b[i]}`);
  }
});

s('the reference has a section, a usage line and every flag for each command, and the examples filled in', async () => {
  const config = await Config.load(packageRoot);
  const reference = await commandReference();
  for (const c of config.commands.filter((x) => !x.hidden)) {
    assert.match(reference, `### \`vfio-reconcile ${c.id}\``);
    assert.match(reference, `\nvfio-reconcile ${c.id} `);
    for (const f of Object.values(c.flags).filter((x) => !x.hidden)) assert.match(reference, new RegExp(`--(\\[no-\\])?${f.name}\\b`), `${c.id} --${f.name}`);
  }
  assert.not.match(reference, '<%', 'every help template is rendered');
});

s('regenerating replaces only what lies between the markers', () => {
  const readme = 'intro\n<!-- commands:start -->\nold\n<!-- commands:end -->\nrest\n';
  assert.is(withReference(readme, 'new'), 'intro\n<!-- commands:start -->\nnew\n<!-- commands:end -->\nrest\n');
  assert.throws(() => withReference('no markers', 'new'), /markers/);
});

s.run();
