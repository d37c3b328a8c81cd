// The state-file JSON Schema and its compiled validator. Everything about creating the validator
// sits here, so swapping runtime compilation for ajv's precompiled standalone code touches one file.

import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

/** schemas/ ships next to dist/ (package.json `files`); this module runs from dist/src/desire/. */
const SCHEMA_URL = new URL('../../../schemas/state.schema.json', import.meta.url);

let schema: Record<string, unknown> | undefined;
let validator: ValidateFunction | undefined;

/** The schema as users read it (`vfio-reconcile schema`). */
export function stateSchema(): Record<string, unknown> {
  schema ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
  return schema;
}

/**
 * Compiled on first use only: commands that never read a state file pay nothing. `verbose` gives
 * errors their parentSchema, whose descriptions validate.ts quotes.
 */
export function stateValidator(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true }).compile(stateSchema());
  return validator;
}
