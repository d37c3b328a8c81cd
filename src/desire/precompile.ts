// Build step (`npm run build` runs `node dist/src/desire/precompile.js`): ajv's standalone code for
// the state schema, stamped with the digest of the schema it was generated from, written where
// schema.ts looks for it.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { AJV_OPTIONS, PRECOMPILED_URL, schemaDigest, stateSchema } from './schema.js';

/** CommonJS source whose module.exports is the validator, as `new Ajv(AJV_OPTIONS).compile` would build it. */
export function standaloneStateValidator(): string {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  const code = standalone.default(ajv, ajv.compile(stateSchema()));
  return `${code}\nmodule.exports.schemaDigest = ${JSON.stringify(schemaDigest())};\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(PRECOMPILED_URL, standaloneStateValidator());
