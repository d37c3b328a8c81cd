// `npm run build:sea`: the single executable for hosts without Node.js, dist/sea/vfio-reconcile.
// 1. An entry module that imports every compiled command (found on disk, so commands added later are
//    in it without anyone listing them), package.json and the precompiled state validator, and hands
//    them to src/sea/main.ts.
// 2. esbuild bundles it with its dependencies into one CommonJS file (Node's SEA runs CommonJS).
// 3. node --experimental-sea-config turns that into a blob, with schemas/ as embedded assets.
// 4. postject injects the blob into a copy of this node binary.
// Usage: node dist/scripts/build-sea.js [--out FILE]

import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** This file runs from dist/scripts/. */
const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(root, 'dist');
/** The fuse postject flips so node looks for the blob (Node's SEA documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const BANNER = [
  // ESM modules find their neighbours through import.meta.url, which CommonJS lacks: point it at the
  // executable (in a SEA __filename is process.execPath). Shipped files come from assets there.
  "var __vr_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
  // oclif checks node against engines by requiring its own package.json from disk, which a SEA cannot
  // (and warns about on every run); the node inside the binary is the one it was built with.
  "process.env.OCLIF_DISABLE_ENGINE_WARNING = '1';",
].join('\n');

/**
 * oclif's command ids for the pattern strategy: `commands/a/b.ts` is `a:b`, an `index.ts` names its
 * topic. Taken from the sources, so a command deleted since an earlier build is not bundled from a
 * stale dist/.
 */
export function commandIds(): { id: string; file: string }[] {
  const sources = readdirSync(join(root, 'src/commands'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  return sources.sort().map((file) => {
    const parts = file.slice(0, -3).split(sep);
    if (parts[parts.length - 1] === 'index') parts.pop();
    return { id: parts.join(':'), file: join(dist, 'src/commands', `${file.slice(0, -3)}.js`) };
  });
}

function entrySource(): string {
  const commands = commandIds();
  return [
    `import { main } from ${JSON.stringify(join(dist, 'src/sea/main.js'))};`,
    `import pjson from ${JSON.stringify(join(root, 'package.json'))};`,
    `import validator from ${JSON.stringify(join(dist, 'src/desire/state-validator.cjs'))};`,
    ...commands.map((c, i) => `import c${i} from ${JSON.stringify(c.file)};`),
    `const commands = { ${commands.map((c, i) => `${JSON.stringify(c.id)}: c${i}`).join(', ')} };`,
    'void main({ pjson, commands, validator });',
    '',
  ].join('\n');
}

export async function buildSea(out: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'vfio-reconcile-sea-'));
  try {
    await buildIn(work, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function buildIn(work: string, out: string): Promise<void> {
  const entry = join(work, 'entry.mjs');
  writeFileSync(entry, entrySource());

  const bundle = join(work, 'vfio-reconcile.cjs');
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    define: { 'import.meta.url': '__vr_import_meta_url' },
    banner: { js: BANNER },
    // oclif reads a tsconfig.json only to find commands from a target file, which the bundle replaces
    // (src/sea/main.ts): the TypeScript compiler it would load is never needed.
    external: ['typescript'],
    legalComments: 'none',
    logLevel: 'warning',
  });

  const assets = Object.fromEntries(readdirSync(join(root, 'schemas')).map((f) => [`schemas/${f}`, join(root, 'schemas', f)]));
  const blob = join(work, 'sea.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, assets }, null, 2));
  quiet(process.execPath, ['--experimental-sea-config', config]);

  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  // In a child: its ELF parser prints warnings about note sections that do not matter here.
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  quiet(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
}

/** Runs a build tool, showing its output only when it fails. */
function quiet(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (${r.signal ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : join(dist, 'sea/vfio-reconcile');
  await buildSea(out);
  process.stdout.write(`built ${relative(process.cwd(), out) || out}\n`);
}
