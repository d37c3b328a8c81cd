import { fileURLToPath } from 'node:url';

/** The repository root: tests run from dist/test/desire/. */
export const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
