// `--version` is answered by bin/run.js before oclif loads: it must still say exactly what oclif says.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Config } from '@oclif/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';

const version = suite('--version');

version('prints what oclif prints for --version', async () => {
  const config = await Config.load(packageRoot);
  const out = execFileSync(process.execPath, [join(packageRoot, 'bin/run.js'), '--version'], { encoding: 'utf8' });
  assert.is(out, `${config.userAgent}\n`);
  assert.match(out, /^vfio-reconcile\/\d+\.\d+\.\d+ linux-/);
});

version.run();
