// The build ships ajv's standalone code for the state schema (precompile.ts); it must judge every
// state file exactly as compiling the schema at run time does, errors and their parentSchema included.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { load } from 'js-yaml';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { standaloneStateValidator } from '../../src/desire/precompile.js';
import { AJV_OPTIONS, schemaDigest, stateSchema } from '../../src/desire/schema.js';

const s = suite('precompiled state validator');
const dir = mkdtempSync(join(tmpdir(), 'vr-precompiled-'));
const file = join(dir, 'state-validator.cjs');
writeFileSync(file, standaloneStateValidator());
const generated = createRequire(import.meta.url)(file) as ValidateFunction & { schemaDigest: string };
const runtime = new Ajv(AJV_OPTIONS).compile(stateSchema());

const examples = readdirSync(join(packageRoot, 'examples'), { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(packageRoot, 'examples', e.name, 'state.yaml')))
  .map((e) => load(readFileSync(join(packageRoot, 'examples', e.name, 'state.yaml'), 'utf8')));
const broken: unknown[] = [
  {},
  { version: 2, devices: [] },
  { version: 1, devices: [{ match: {}, driver: 'vfio-pci' }] },
  { version: 1, devices: [{ match: { vendr: '8086' }, driver: 'vfio-pci' }] },
  { version: 1, devices: [{ match: { vendor: 8086, address: 'zz' }, driver: 7, count: '2' }] },
  { version: 1, hosts: [], devices: [{ match: { class: '03' }, driver: 'vfio-pci', vfs: { count: -1 } }], options: { iommuGroups: 'loose' } },
];

const judged = (v: ValidateFunction, doc: unknown) => ({ ok: v(structuredClone(doc)), errors: v.errors ?? null });

s('stamps the digest of the schema it was generated from', () => {
  assert.is(generated.schemaDigest, schemaDigest());
});

s('accepts the shipped examples, as the runtime compile does', () => {
  assert.ok(examples.length > 0);
  for (const doc of examples) assert.equal(judged(generated, doc), { ok: true, errors: null });
});

s('rejects broken files with the same errors as the runtime compile', () => {
  for (const doc of broken) {
    const got = judged(generated, doc);
    assert.is(got.ok, false, JSON.stringify(doc));
    assert.equal(got, judged(runtime, doc));
    assert.ok(got.errors!.every((e) => e.parentSchema !== undefined), 'verbose errors carry their parentSchema');
  }
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
