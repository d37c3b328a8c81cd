// The journal in the state dir is input too: `rollback` reads each device's pre-state back from it
// and writes that state to sysfs. A damaged or edited journal (a disk error, a hand edit, another
// version's format) must be refused before the first write, with every name and value checked
// against the kernel's grammar, exactly as the executor checks a saved plan.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpuPassthrough } from '../../examples/hosts.js';
import { injectEnv } from '../../src/cli/context.js';
import Apply from '../../src/commands/apply.js';
import Plan from '../../src/commands/plan.js';
import Rollback from '../../src/commands/rollback.js';
import type { JournalRecord } from '../../src/state/records.js';
import { runIn } from '../cli/harness.js';
import { FakeMachine, GPU_STATE, useModel, workspace } from '../state/support.js';

type Begin = Extract<JournalRecord, { type: 'begin' }>;

/** Edits of the begin record's pre-state that no kernel could have produced. */
const EDITS: Record<string, (b: Begin) => void> = {
  'a device key that climbs out of sysfs': (b) => void (b.pre[0]!.key = 'pci/../../../../etc'),
  'an override with a newline': (b) => void (b.pre[0]!.binding.override = 'vfio-pci\nnvidia'),
  'a driver that is a path': (b) => void (b.pre[0]!.binding.driver = '../../etc'),
  'a driver that is an option': (b) => void (b.pre[0]!.binding.driver = '--help'),
};

const s = suite('hostile journal');
s.after.each(() => injectEnv(null));

for (const [what, edit] of Object.entries(EDITS)) {
  s(`rollback refuses a journal with ${what}, before any write (exit 1)`, async () => {
    const ws = workspace();
    try {
      const machine = new FakeMachine();
      const model = gpuPassthrough();
      useModel(model, machine.process(100));
      const applied = await runIn(Apply, [ws.file('state.yaml', GPU_STATE), '--state-dir', ws.stateDir]);
      assert.is(applied.exitCode, 0, applied.stderr);

      const dir = join(ws.stateDir, 'journal');
      const file = join(dir, readdirSync(dir).find((n) => n.endsWith('.jsonl'))!);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      const begin = JSON.parse(lines[0]!) as Begin;
      edit(begin);
      lines[0] = JSON.stringify(begin);
      writeFileSync(file, `${lines.join('\n')}\n`);

      const writes = model.writes.length;
      useModel(model, machine.process(101));
      const r = await runIn(Rollback, ['--state-dir', ws.stateDir, '--force']);
      assert.equal(model.writes.slice(writes), [], `rollback wrote from a damaged journal:\n${r.stdout}${r.stderr}`);
      assert.is(r.exitCode, 1, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /journal/);
    } finally {
      ws.cleanup();
    }
  });
}

s('apply and plan refuse a managed.json naming a device outside sysfs and a driver that is an option (exit 1)', async () => {
  // managed.json tells later plans which devices to prune back to the host's driver: the same input.
  const ws = workspace();
  try {
    const machine = new FakeMachine();
    const model = gpuPassthrough();
    useModel(model, machine.process(100));
    const state = ws.file('state.yaml', GPU_STATE);
    const applied = await runIn(Apply, [state, '--state-dir', ws.stateDir]);
    assert.is(applied.exitCode, 0, applied.stderr);

    const file = join(ws.stateDir, 'managed.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { devices: Record<string, { target: unknown }> };
    const [entry] = Object.values(doc.devices);
    doc.devices['pci/../../../../etc'] = { ...entry!, target: { kind: 'driver', driver: '-r' } };
    writeFileSync(file, JSON.stringify(doc));

    const writes = model.writes.length;
    for (const command of [Apply, Plan]) {
      useModel(model, machine.process(101));
      const r = await runIn(command, [state, '--state-dir', ws.stateDir]);
      assert.is(r.exitCode, 1, `${command.name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /managed\.json/);
      assert.match(r.stderr, /pci\/\.\.\/\.\.\/\.\.\/\.\.\/etc/);
    }
    assert.equal(model.writes.slice(writes), []);
  } finally {
    ws.cleanup();
  }
});

s.run();
