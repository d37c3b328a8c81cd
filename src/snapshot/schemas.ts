// The schemas of the documents this module reads back, compiled once on first use. One ajv holds
// them all, so the saved-plan schema can `$ref` the plan schema by its `$id`.

import { Ajv, type ValidateFunction } from 'ajv';
import { readShipped } from '../shipped/files.js';

type Name = 'snapshot' | 'plan' | 'saved-plan';

let ajv: Ajv | undefined;

function validator(name: Name, needs: Name[] = []): ValidateFunction {
  ajv ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  let id = '';
  for (const n of [...needs, name]) {
    const schema = JSON.parse(readShipped(`schemas/${n}.schema.json`)) as { $id: string };
    if (!ajv.getSchema(schema.$id)) ajv.addSchema(schema);
    id = schema.$id; // the last one is `name`
  }
  return ajv.getSchema(id)!;
}

let snapshot: ValidateFunction | undefined;
let savedPlan: ValidateFunction | undefined;

export const snapshotValidator = (): ValidateFunction => (snapshot ??= validator('snapshot'));
export const savedPlanValidator = (): ValidateFunction => (savedPlan ??= validator('saved-plan', ['plan', 'snapshot']));
