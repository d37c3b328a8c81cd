// Every command's --help teaches by example: each command has examples with a description, and
// each example is a command line the CLI accepts (its command exists, its flags and arguments parse
// with that command's own parser), so an example cannot outlive a renamed flag.

import { Config } from '@oclif/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { parseCommandLine } from './support.js';

const s = suite('help examples');

/** The words after `bin` in an example, up to a redirection, pipe or the `)` of `<(...)`. */
function invocation(example: string, bin: string): string[] {
  const words = example.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  const at = words.findIndex((w) => w === bin || w === `<(${bin}`);
  assert.ok(at >= 0, `example runs ${bin}: ${example}`);
  const argv: string[] = [];
  for (const w of words.slice(at + 1)) {
    if (/^(\d?>|[|;&])/.test(w)) break;
    if (w.endsWith(')')) {
      argv.push(w.slice(0, -1));
      break;
    }
    argv.push(w);
  }
  return argv.map((w) => w.replace(/^(["'])(.*)\1$/, '$2'));
}

s('every command has at least two examples, each with a description', async () => {
  const config = await Config.load(packageRoot);
  for (const c of config.commands.filter((x) => !x.hidden)) {
    const examples = c.examples ?? [];
    assert.ok(examples.length >= 2, `${c.id} has ${examples.length} example(s)`);
    for (const e of examples) assert.ok(typeof e !== 'string' && e.description.trim().length > 0, `${c.id}: ${JSON.stringify(e)} has a description`);
  }
});

s('every example is a command line that command accepts', async () => {
  const config = await Config.load(packageRoot);
  const bin = config.bin;
  for (const c of config.commands.filter((x) => !x.hidden)) {
    for (const e of c.examples ?? []) {
      const text = (typeof e === 'string' ? e : e.command).replace(/<%= config\.bin %>/g, bin).replace(/<%= command\.id %>/g, c.id.split(':').join(' '));
      const argv = invocation(text, bin);
      // The example may run another command (snapshot's example plans against the snapshot).
      await parseCommandLine(argv).catch((err: Error) => assert.unreachable(`${c.id} example does not parse: ${text}\n  ${err.message}`));
    }
  }
});

s.run();
