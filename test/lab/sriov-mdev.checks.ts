// What the SR-IOV and mdev lab scenarios (guest/sriov-mdev.ts) must have shown on a real kernel;
// registered into each kernel's suite by lab.lab.ts.

import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DeviceFacts } from './guest/kernel.js';
import { LAB } from './guest/kernel.js';

type Facts = Record<string, any>;
interface Run {
  exit: number | null;
  stdout?: string;
  stderr: string;
}

const said = (run: Run): string => `${run.stdout ?? ''}\n${run.stderr}`;
const show = (run: Run): string => `exit ${run.exit}; output:\n${said(run).trim().slice(-1500)}`;
const kinds = (doc: Facts | null): string[] => (doc?.steps ?? []).map((s: Facts) => (s.kind === 'set-numvfs' ? `set-numvfs ${s.from}->${s.to}` : s.kind === 'set-autoprobe' ? `set-autoprobe ${s.to}` : `${s.kind} ${s.address ?? s.uuid ?? s.module}`));

export function sriovMdevChecks(s: Test, facts: (name: string) => Facts, label: string): void {
  const [VF0, VF1] = LAB.nvmeVfs;

  s('SR-IOV split: VF 0 to vfio-pci, VF 1 left to the kernel once autoprobe is back on; again: no changes', () => {
    const f = facts('sriovSplit');
    assert.is(f.apply.exit, 0, show(f.apply));
    const steps = kinds(f.planDoc);
    assert.ok(steps.indexOf('set-autoprobe false') < steps.indexOf('set-numvfs 0->2'), steps.join(', '));
    assert.ok(steps.indexOf('set-autoprobe true') < steps.indexOf(`probe ${VF1}`), steps.join(', '));
    const [vf0, vf1] = f.afterSplit.vfs as DeviceFacts[];
    assert.equal([f.afterSplit.numvfs, f.afterSplit.autoprobe, f.afterSplit.pf.driver], ['2', '1', 'nvme']);
    assert.equal([vf0!.driver, vf0!.override, vf0!.vfioNode], ['vfio-pci', 'vfio-pci', true]);
    // nvme may give up on an offline emulated VF after its asynchronous reset: the kernel's choice either way.
    assert.ok(vf1!.driver !== 'vfio-pci' && vf1!.override === null, JSON.stringify(vf1));
    assert.is(f.again.exit, 0, show(f.again));
  });

  s('SR-IOV resize 2 -> 1: VFs unbound before they go, through 0, the new VF on vfio-pci', () => {
    const f = facts('sriovSplit');
    const steps = kinds(f.shrinkDoc);
    const unbinds = steps.map((k, i) => (k.startsWith('unbind') ? i : -1)).filter((i) => i >= 0);
    assert.ok(unbinds.length >= 1 && unbinds.every((i) => i < steps.indexOf('set-numvfs 2->0')), steps.join(', '));
    assert.ok(steps.indexOf('set-numvfs 2->0') < steps.indexOf('set-numvfs 0->1'), steps.join(', '));
    assert.is(f.resize.exit, 0, show(f.resize));
    const [vf0, vf1] = f.afterResize.vfs as DeviceFacts[];
    assert.equal([f.afterResize.numvfs, f.afterResize.autoprobe, vf0!.driver, vf1!.present], ['1', '1', 'vfio-pci', false]);
  });

  s('SR-IOV rollback: a VF probe that fails after set-numvfs puts sriov_numvfs (and autoprobe) back', () => {
    const f = facts('sriovRollback');
    assert.equal([f.before.numvfs, f.before.autoprobe], ['0', '1']);
    assert.is(f.apply.exit, 3, show(f.apply));
    assert.match(said(f.apply), VF0);
    assert.equal([f.after.numvfs, f.after.autoprobe, f.after.pf.driver, f.after.pf.override], ['0', '1', 'nvme', null]);
    assert.ok((f.after.vfs as DeviceFacts[]).every((v) => !v.present));
  });

  s('mdev on mtty: created (own /dev/vfio node), again a no-op, pruned, rolled back on a bad attribute, removed', () => {
    const f = facts('mdevMtty');
    if (f.unavailable) {
      // Building mtty needs this kernel's linux-source and linux-headers from apt (mdev-module.ts).
      if (process.env.CI === 'true' && label === '6.12') assert.unreachable(`mtty unavailable on ${label}: ${f.unavailable}`);
      console.log(`lab ${label}: mdev scenario skipped: ${f.unavailable}`);
      return;
    }
    const A = '6a1f1c2e-4b7d-4f3a-9c1e-0d2b3a4c5d01';
    const B = '6a1f1c2e-4b7d-4f3a-9c1e-0d2b3a4c5d02';
    assert.equal(f.before.mdevs, []);
    assert.equal(kinds(f.planDoc), [`create-mdev ${A}`, `create-mdev ${B}`]);
    assert.is(f.create.exit, 0, show(f.create));
    assert.equal(f.afterCreate.mdevs.map((m: Facts) => [m.uuid, m.type, m.parent, m.vfioNode]), [
      [A, 'mtty-2', 'mtty', true],
      [B, 'mtty-1', 'mtty', true],
    ]);
    // mtty's 24 ports are shared: a dual-port and a single-port instance leave 21 single / 10 dual.
    assert.equal(f.afterCreate.available, { 'mtty-1': '21', 'mtty-2': '10' });
    assert.is(f.again.exit, 0, show(f.again));
    assert.match(said(f.again), 'No changes');
    assert.is(f.planAgain.exit, 0, show(f.planAgain));
    assert.is(f.prune.exit, 0, show(f.prune));
    assert.equal(f.afterPrune.mdevs.map((m: Facts) => m.uuid), [A]);
    assert.is(f.failed.exit, 3, show(f.failed));
    assert.match(said(f.failed), 'no_such_attribute');
    assert.equal(f.afterFailed.mdevs.map((m: Facts) => m.uuid), [A], 'the mdev created before the failing attribute is gone again');
    assert.is(f.clear.exit, 0, show(f.clear));
    assert.equal(f.afterClear.mdevs, []);
  });
}
