// The one mapping from errors to exit codes and messages, checked directly, then the apply progress
// view against a real execution on the kernel model.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { execute } from '../../src/apply/executor.js';
import { progressHooks } from '../../src/cli/apply-view.js';
import { palette } from '../../src/cli/color.js';
import { errorJson, errorText, reportFor } from '../../src/cli/report.js';
import { observeHost } from '../../src/cli/run-plan.js';
import { loadStateFile } from '../../src/desire/load.js';
import { resolve } from '../../src/desire/resolve.js';
import { VrError } from '../../src/domain/errors.js';
import { plan } from '../../src/plan/planner.js';

const s = suite('cli error report and progress');

s('exit codes come from the error kind: 3 rolled back, 4 rollback failed, 1 for the rest', () => {
  assert.is(reportFor(new VrError('rolled-back', 'x')).exitCode, 3);
  assert.is(reportFor(new VrError('rollback-failed', 'x')).exitCode, 4);
  assert.is(reportFor(new VrError('selector', 'x')).exitCode, 1);
  assert.is(reportFor(new Error('boom')).exitCode, 1);
  assert.is(reportFor(new Error('boom')).kind, 'unexpected');
});

s('located diagnostics print as file:line:col with hints; unlocated ones add only a new hint', () => {
  const err = new VrError('input', 'state.yaml: 1 problem', [{ file: 'state.yaml', line: 3, col: 5, message: 'bad key', hint: 'did you mean count?' }]);
  assert.is(errorText(reportFor(err)), 'Error: state.yaml: 1 problem\nstate.yaml:3:5: bad key\n  hint: did you mean count?');
  const restated = new VrError('safety', 'refusing: dev is busy (fix: stop the VM)', [{ message: 'dev is busy', hint: 'stop the VM' }]);
  assert.is(errorText(reportFor(restated)), 'Error: refusing: dev is busy (fix: stop the VM)');
  const newHint = new VrError('rollback-failed', 'left behind: dev', [{ message: 'dev', hint: 'restore dev by hand' }]);
  assert.is(errorText(reportFor(newHint)), 'Error: left behind: dev\n  hint: restore dev by hand');
});

s('the JSON error carries kind, message and every diagnostic', () => {
  const d = { message: 'dev', hint: 'restore dev by hand' };
  assert.equal(errorJson(reportFor(new VrError('rollback-failed', 'left', [d]))), {
    error: { kind: 'rollback-failed', message: 'left', diagnostics: [d] },
  });
});

s('progress lines (--verbose): each step numbered N/M, then ok with its time or failed with the reason', async () => {
  const model = gpuPassthrough();
  model.failProbe('vfio-pci', '0000:05:00.0', 'EIO');
  const state = loadStateFile('usb.yaml', 'version: 1\ndevices:\n  - match: { vendor: "1b21" }\n    driver: vfio-pci\n');
  const host = observeHost({ sysfs: model, modules: model, hostname: 'h' });
  const p = plan(host, resolve(state, host));
  const out: string[] = [];
  await execute(p, { sysfs: model, modules: model }, { hooks: progressHooks((t) => out.push(t), palette(false)) });
  const lines = out.join('').split('\n');
  assert.is(lines[0], `[1/${p.steps.length}] load module vfio_pci (driver vfio-pci)`);
  assert.match(lines[1]!, /^  ok \(\d+(\.\d)? ms\)$/);
  const probe = lines.findIndex((l) => /^\[\d+\/\d+\] probe pci\/0000:05:00\.0$/.test(l));
  assert.ok(probe > 0 && lines[probe + 1]!.startsWith('  failed: '), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('rollback pci/0000:05:00.0: ')));
});

s.run();
