// The real CLI in its own process, writing to a kernel model of the example GPU host instead of
// /sys, so a test can kill it mid-apply. Every write and module load the "kernel" completed is
// logged to a file as it completes; replaying the log on a fresh model (replay()) gives the machine
// as the process left it, for a later run in the test's own process.
//
//   node dist/test/state/model-cli.js <log.json> <hang-path | -> <cli args...>
//
// <hang-path>: that write blocks in the "kernel" as an unbind of a held device would. SIGTERM
// stands for the kernel finishing it: the write in flight completes after the CLI has seen the
// signal, as on a real host where the driver's remove() returns.

import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gpuPassthrough } from '../../examples/hosts.js';
import { runCliOnModel } from './support.js';

// Only as a script: a test runner that imports every file in this directory must not start a CLI.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));

async function main([logFile, hang, ...argv]: string[]): Promise<void> {
  const model = gpuPassthrough();
  if (hang !== '-') model.inject({ path: hang!, errno: 'hang' });
  writeFileSync(logFile!, '[]');
  process.on('SIGTERM', () => setImmediate(() => model.release()));
  await runCliOnModel(model, [], logFile!, argv);
}
