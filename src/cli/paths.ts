// Files shipped with the package (schemas/), located from this module: compiled code lives in
// dist/src/cli/, three levels below the package root, both in the repository and when installed.

import { fileURLToPath } from 'node:url';

export const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));

export function schemaPath(name: 'state' | 'plan'): string {
  return fileURLToPath(new URL(`../../../schemas/${name}.schema.json`, import.meta.url));
}
