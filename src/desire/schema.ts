// The state-file JSON Schema and its validator. `npm run build` writes ajv's standalone code for the
// schema next to this module (precompile.ts), so a command that reads a state file neither loads
// ajv nor compiles a schema. Compiling at run time stays as the fallback for a tree built by plain
// `tsc`, or a schema edited since the build: the generated code names the schema it came from.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, ValidateFunction } from 'ajv';
import { readShipped } from '../shipped/files.js';

/** Where the build puts the standalone validator (CommonJS, as ajv emits it). */
export const PRECOMPILED_URL = new URL('./state-validator.cjs', import.meta.url);

/** `verbose` gives errors their parentSchema, whose descriptions validate.ts quotes. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true } as const;

const require = createRequire(import.meta.url);
let text: string | undefined;
let schema: Record<string, unknown> | undefined;
let validator: ValidateFunction | undefined;
let bundled: ValidateFunction | undefined;

function schemaText(): string {
  text ??= readShipped('schemas/state.schema.json');
  return text;
}

/** The schema as users read it (`vfio-reconcile schema`). */
export function stateSchema(): Record<string, unknown> {
  schema ??= JSON.parse(schemaText()) as Record<string, unknown>;
  return schema;
}

/** Identifies the schema text a precompiled validator was generated from. */
export function schemaDigest(): string {
  return createHash('sha256').update(schemaText()).digest('hex');
}

/** Built on first use only: commands that never read a state file pay nothing. */
export function stateValidator(): ValidateFunction {
  validator ??= precompiled() ?? compiled();
  return validator;
}

/** The single executable carries the generated validator in its bundle: there is no file to require. */
export function useBundledValidator(generated: ValidateFunction): void {
  bundled = generated;
}

function precompiled(): ValidateFunction | undefined {
  let generated: ValidateFunction & { schemaDigest?: unknown };
  try {
    generated = (bundled ?? require(fileURLToPath(PRECOMPILED_URL))) as typeof generated;
  } catch {
    return undefined; // not built
  }
  return generated.schemaDigest === schemaDigest() ? generated : undefined;
}

function compiled(): ValidateFunction {
  const { Ajv: AjvClass } = require('ajv') as { Ajv: typeof Ajv };
  return new AjvClass(AJV_OPTIONS).compile(stateSchema());
}
