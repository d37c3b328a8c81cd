// `vfio-reconcile completion bash|zsh`: the scripts come from the commands' metadata (every command
// and flag oclif knows is in them), bash sources the bash one and completes through the function
// `complete -p` names, and zsh loads the zsh one and completes in a real interactive shell.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Config } from '@oclif/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/cli/paths.js';
import { runFromCheckout, show, tempDir } from './support.js';

const s = suite<{ dir: string; bash: string; zsh: string; cleanup: () => void }>('shell completion');

s.before((ctx) => {
  const t = tempDir('completion');
  Object.assign(ctx, { dir: join(t.dir, 'work'), cleanup: t.cleanup });
  mkdirSync(ctx.dir);
  for (const shell of ['bash', 'zsh'] as const) {
    const r = runFromCheckout(['completion', shell], t.dir);
    assert.is(r.status, 0, show(r));
    ctx[shell] = join(t.dir, `completion.${shell}`);
    writeFileSync(ctx[shell], r.stdout);
  }
  // What file completion has to choose from: a state file, a snapshot, a sysfs tree directory.
  writeFileSync(join(ctx.dir, 'state.yaml'), 'version: 1\n');
  writeFileSync(join(ctx.dir, 'snap.json'), '{}\n');
  mkdirSync(join(ctx.dir, 'sysfs'));
});
s.after((ctx) => ctx.cleanup());

/** Each case is the words typed so far (the last one being completed); answers COMPREPLY per case. */
function bashComplete(script: string, cwd: string, cases: string[][]): string[] {
  const calls = cases.map((words) => `t ${words.map((w) => `'${w}'`).join(' ')}`).join('\n');
  const program = `set -u
source ${JSON.stringify(script)}
t() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _vfio_reconcile; local IFS=' '; echo "\${COMPREPLY[*]}"; }
${calls}`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', program], { cwd, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  return r.stdout.split('\n').slice(0, cases.length);
}

s('bash: the script parses, and sourcing it registers the completion function', ({ bash, dir }) => {
  const syntax = spawnSync('bash', ['-n', bash], { encoding: 'utf8' });
  assert.is(syntax.status, 0, syntax.stderr);
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source ${JSON.stringify(bash)} && complete -p vfio-reconcile`], { cwd: dir, encoding: 'utf8' });
  assert.is(r.stdout.trim(), 'complete -F _vfio_reconcile vfio-reconcile', r.stderr);
});

s('bash: every command the CLI has is offered, each with every flag it takes', async ({ bash, dir }) => {
  const config = await Config.load(packageRoot);
  const ids = config.commands.filter((c) => !c.hidden).map((c) => c.id).sort();
  const [top] = bashComplete(bash, dir, [['vfio-reconcile', '']]);
  assert.equal(top!.split(' ').filter((w) => !w.startsWith('-')), ids);
  const answers = bashComplete(bash, dir, ids.map((id) => ['vfio-reconcile', id, '--']));
  ids.forEach((id, i) => {
    const cmd = config.commands.find((c) => c.id === id)!;
    const offered = answers[i]!.split(' ');
    for (const flag of Object.values(cmd.flags).filter((f) => !f.hidden)) assert.ok(offered.includes(`--${flag.name}`), `${id} --${flag.name}`);
  });
});

s('bash: commands, flags, enum values, directories, files and the shell argument', ({ bash, dir }) => {
  const answers = bashComplete(bash, dir, [
    ['vfio-reconcile', 'st'],
    ['vfio-reconcile', 'status', '--b'],
    ['vfio-reconcile', 'status', '--bus', ''],
    ['vfio-reconcile', 'status', '--bus', '=', 'pl'],
    ['vfio-reconcile', 'plan', '--sysfs-root', ''],
    ['vfio-reconcile', 'plan', ''],
    ['vfio-reconcile', 'plan', 'state.yaml', '--snapshot', 's'],
    ['vfio-reconcile', 'plan', 'state.yaml', '--hostname', ''],
    ['vfio-reconcile', 'completion', ''],
    ['vfio-reconcile', 'validate', 'state.yaml', 'sn'],
    ['vfio-reconcile', 'status', 'state.yaml', ''],
  ]);
  assert.equal(answers, [
    'status',
    '--bus',
    'pci platform',
    'platform',
    'sysfs',
    'snap.json state.yaml sysfs',
    'snap.json state.yaml sysfs',
    '',
    'bash zsh',
    'snap.json',
    '',
  ]);
});

const hasZsh = spawnSync('zsh', ['--version']).status === 0;

/**
 * Types each line into an interactive zsh (zpty) with the script loaded, presses TAB, and reports
 * whether what the shell shows then contains `expect`; bounded by a deadline, not by timing.
 */
function zshComplete(script: string, cwd: string, cases: { line: string; expect: string }[]): string[] {
  const program = `zmodload zsh/zpty
for line expect in ${cases.map((c) => `'${c.line}' '${c.expect}'`).join(' ')}; do
  zpty z 'zsh -f -i'
  zpty -w z 'PS1=">" PROMPT_EOL_MARK=""; autoload -U compinit; compinit -u -D; source ${script}'
  zpty -n -w z "$line"$'\\t'
  seen= out=
  for i in {1..100}; do
    zpty -rt z out 2>/dev/null && seen+=$out
    [[ $seen == *$expect* ]] && break
    sleep 0.1
  done
  [[ $seen == *$expect* ]] && print -r -- "yes" || print -r -- "no: $seen"
  zpty -d z
done`;
  const r = spawnSync('zsh', ['-f', '-c', program], { cwd, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').slice(0, cases.length);
}

s('zsh: the script parses, registers with compdef, and completes commands, flags, values and directories', ({ zsh, dir }) => {
  if (!hasZsh) throw new Error('zsh is not installed (.ci/run installs it): the zsh completion cannot be checked');
  const syntax = spawnSync('zsh', ['-n', zsh], { encoding: 'utf8' });
  assert.is(syntax.status, 0, syntax.stderr);
  const loaded = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${zsh} && print -r -- $_comps[vfio-reconcile]`], { cwd: dir, encoding: 'utf8' });
  assert.is(loaded.stdout.trim(), '_vfio_reconcile', loaded.stderr);
  const answers = zshComplete(zsh, dir, [
    // The shell paints what it inserts (`--bus` then a bold `=`), so each expectation stops short of that.
    { line: 'vfio-reconcile stat', expect: 'status' },
    { line: 'vfio-reconcile status --bu', expect: '--bus' },
    { line: 'vfio-reconcile status --bus pl', expect: 'platform' },
    { line: 'vfio-reconcile plan --sysfs-root sy', expect: 'sysfs' },
    { line: 'vfio-reconcile completion z', expect: 'zsh' },
  ]);
  assert.equal(answers, ['yes', 'yes', 'yes', 'yes', 'yes']);
});

s.run();
