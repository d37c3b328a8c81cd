#!/usr/bin/env node
// `--version` is answered before oclif loads (loading it costs several times Node's own start), in
// oclif's words: `<name>/<version> <platform>-<arch> node-<version>`. Everything else goes to oclif.
if (process.argv[2] === '--version') {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const arch = process.arch === 'ia32' ? 'x86' : process.arch;
  process.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${arch} node-${process.version}\n`);
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
