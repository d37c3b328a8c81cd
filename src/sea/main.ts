// Entry of the single executable. scripts/build-sea.ts bundles it, every command and the state
// validator into one CommonJS file, which Node's single executable application support runs. There
// is no package on disk: package.json, the command map and the validator come in the bundle, and
// schemas/ from the embedded assets. oclif still parses, prints help and dispatches.

import { dirname } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { flush, handle, Plugin, run, type Command, type Interfaces } from '@oclif/core';
import type { ValidateFunction } from 'ajv';
import { useBundledValidator } from '../desire/schema.js';
import { serveShippedFrom } from '../shipped/files.js';
import { WRITE_CHILD } from '../sysfs/write-worker.js';

export interface Bundle {
  pjson: Interfaces.PJSON;
  /** Command id (`plan`, `topic:cmd`) -> class, as oclif's explicit strategy expects. */
  commands: Record<string, Command.Class>;
  /** dist/src/desire/state-validator.cjs. */
  validator: ValidateFunction;
}

export async function main(bundle: Bundle): Promise<void> {
  // write-worker.ts forks process.execPath with the child's module path; here that is this binary.
  if (process.send !== undefined && process.argv[2] === WRITE_CHILD) {
    await import('../sysfs/write-child.js');
    return;
  }
  if (isSea()) serveShippedFrom((name) => getAsset(name, 'utf8'));
  useBundledValidator(bundle.validator);
  try {
    await run(process.argv.slice(2), { root: dirname(process.execPath), pjson: bundle.pjson, plugins: await bundledPlugins(bundle) });
    await flush();
  } catch (err) {
    await handle(err as Error);
  }
}

async function bundledPlugins(bundle: Bundle): Promise<Map<string, Plugin>> {
  const pjson = { ...bundle.pjson, oclif: { ...bundle.pjson.oclif, commands: { strategy: 'explicit' as const, target: './bundle', identifier: 'default' } } };
  const plugin = new Plugin({ root: dirname(process.execPath), pjson, isRoot: true, ignoreManifest: true });
  // The explicit strategy would import its target file, and a bundle has none: hand oclif the map
  // that import would have produced (Plugin.loadCommandsFromTarget returns it when set).
  Object.assign(plugin, { commandCache: bundle.commands });
  await plugin.load();
  return new Map([[plugin.name, plugin]]);
}
