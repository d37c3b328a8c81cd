// Files that ship with the package (schemas/). Installed from npm they sit at the package root,
// three levels above this module (dist/src/shipped/). The single executable has no package root:
// it serves them from its embedded assets (src/sea/main.ts), so nothing is read next to the binary.

import { readFileSync } from 'node:fs';

export type ShippedFile = `schemas/${string}.schema.json`;

let embedded: ((name: ShippedFile) => string) | null = null;

/** The single executable's asset reader; null goes back to the package root. */
export function serveShippedFrom(read: ((name: ShippedFile) => string) | null): void {
  embedded = read;
}

export function readShipped(name: ShippedFile): string {
  return embedded ? embedded(name) : readFileSync(new URL(`../../../${name}`, import.meta.url), 'utf8');
}
