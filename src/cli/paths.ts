// The package root, located from this module: compiled code lives in dist/src/cli/, three levels
// below it, both in the repository and when installed. Shipped files are read through
// shipped/files.ts, which also serves them inside the single executable.

import { fileURLToPath } from 'node:url';

export const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
