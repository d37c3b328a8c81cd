// Shell completion scripts, generated from the commands' own oclif metadata (ids, flags, enum
// options, arguments), so a command or flag added later completes without anyone editing this.
// What a value completes to: a flag's `options` (--bus pci|platform), files for a helpValue of
// FILE, directories for DIR, nothing for other values; an argument's `options`, else files.

import type { Command } from '@oclif/core';

type Flag = Command.Flag.Cached;
type Arg = Command.Arg.Cached;

/** The part of oclif's cached command that completion reads. */
export interface CommandSpec {
  id: string;
  summary?: string | undefined;
  hidden?: boolean | undefined;
  strict?: boolean | undefined;
  flags: Record<string, Flag>;
  args: Record<string, Arg>;
}

type Values = { kind: 'enum'; words: string[] } | { kind: 'file' } | { kind: 'dir' } | { kind: 'none' };

interface Cmd {
  words: string[];
  summary: string;
  flags: Flag[];
  args: { name: string; values: Values; required: boolean }[];
  variadic: boolean;
}

function valuesOfFlag(f: Flag): Values {
  if (f.type === 'option' && f.options?.length) return { kind: 'enum', words: [...f.options] };
  const help = [f.type === 'option' ? f.helpValue : undefined].flat().join(' ');
  return /FILE/.test(help) ? { kind: 'file' } : /DIR/.test(help) ? { kind: 'dir' } : { kind: 'none' };
}

function valuesOfArg(a: Arg): Values {
  return a.options?.length ? { kind: 'enum', words: [...a.options] } : { kind: 'file' };
}

const firstLine = (text: string | undefined): string => (text ?? '').split('\n')[0]!.trim();

function model(commands: CommandSpec[]): Cmd[] {
  return commands
    .filter((c) => !c.hidden)
    .map((c) => ({
      words: c.id.split(':'),
      summary: firstLine(c.summary),
      flags: Object.values(c.flags)
        .filter((f) => !f.hidden)
        .sort((a, b) => a.name.localeCompare(b.name)),
      args: Object.values(c.args).map((a) => ({ name: a.name, values: valuesOfArg(a), required: Boolean(a.required) })),
      variadic: c.strict === false,
    }))
    .sort((a, b) => a.words.join(' ').localeCompare(b.words.join(' ')));
}

/** Every command and topic as the words a user types, and the words that may follow each. */
function tree(cmds: Cmd[]): { paths: string[]; next: Map<string, string[]> } {
  const next = new Map<string, Set<string>>([['', new Set()]]);
  for (const c of cmds) {
    for (let i = 0; i < c.words.length; i++) {
      const at = c.words.slice(0, i).join(' ');
      if (!next.has(at)) next.set(at, new Set());
      next.get(at)!.add(c.words[i]!);
    }
  }
  const paths = [...new Set(cmds.flatMap((c) => c.words.map((_, i) => c.words.slice(0, i + 1).join(' '))))].sort();
  return { paths, next: new Map([...next].map(([k, v]) => [k, [...v].sort()])) };
}

const flagWords = (f: Flag): string[] => [`--${f.name}`, ...(f.type === 'boolean' && f.allowNo ? [`--no-${f.name}`] : []), ...(f.char ? [`-${f.char}`] : [])];
const takesValue = (f: Flag): boolean => f.type === 'option';
const shIdent = (bin: string): string => `_${bin.replace(/[^A-Za-z0-9]/g, '_')}`;
/** A word in single quotes, for bash and zsh alike. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashCompletion(bin: string, commands: CommandSpec[]): string {
  const fn = shIdent(bin);
  const cmds = model(commands);
  const { paths, next } = tree(cmds);
  const reply = (v: Values): string =>
    v.kind === 'enum' ? `${fn}_reply -W ${q(v.words.join(' '))}` : v.kind === 'file' ? `compopt -o filenames 2>/dev/null; ${fn}_reply -f` : v.kind === 'dir' ? `compopt -o filenames 2>/dev/null; ${fn}_reply -d` : ':';
  const branch = (c: Cmd): string[] => {
    const valued = c.flags.filter(takesValue);
    const out = [`    ${q(c.words.join(' '))})`, '      case $prev in'];
    for (const f of valued) out.push(`        ${flagWords(f).join('|')}) ${reply(valuesOfFlag(f))}; return ;;`);
    out.push('      esac');
    out.push(`      if [[ $cur == -* ]]; then ${fn}_reply -W ${q([...c.flags.flatMap(flagWords), '--help'].join(' '))}; return; fi`);
    if (c.args.length > 0) {
      out.push(`      case $(${fn}_position $i ${q(valued.flatMap(flagWords).join(' '))}) in`);
      c.args.forEach((a, n) => {
        const pattern = c.variadic && n === c.args.length - 1 ? '*' : String(n);
        out.push(`        ${pattern}) ${reply(a.values)} ;;`);
      });
      out.push('      esac');
    }
    out.push('      ;;');
    return out;
  };
  const topics = [...next].filter(([path]) => path !== '' && !cmds.some((c) => c.words.join(' ') === path));
  return [
    `# bash completion for ${bin}, generated from its commands by \`${bin} completion bash\`.`,
    `# Try it:  source <(${bin} completion bash)`,
    `# Install: ${bin} completion bash > /etc/bash_completion.d/${bin}`,
    '',
    `${fn}_reply() {`,
    '  mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")',
    '}',
    '',
    '# How many arguments precede the cursor from word $1 on; $2 lists the flags that take a value.',
    `${fn}_position() {`,
    '  local i=$1 takes=" $2 " n=0 w skip=',
    '  for ((; i < COMP_CWORD; i++)); do',
    '    w=${COMP_WORDS[i]}',
    '    if [[ -n $skip ]]; then [[ $w == = ]] || skip=; continue; fi',
    '    if [[ $w == -* ]]; then [[ $takes == *" $w "* ]] && skip=1',
    '    elif [[ $w != = ]]; then ((n++)); fi',
    '  done',
    '  echo $n',
    '}',
    '',
    `${fn}() {`,
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i',
    '  # bash splits --flag=value into three words: --flag, =, value',
    '  if [[ $cur == = ]]; then cur=; elif [[ $prev == = ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    case "${cmd:+$cmd }${COMP_WORDS[i]}" in',
    `      ${paths.map(q).join('|')}) cmd="\${cmd:+$cmd }\${COMP_WORDS[i]}" ;;`,
    '      *) break ;;',
    '    esac',
    '  done',
    '  case $cmd in',
    `    '') ${fn}_reply -W ${q([...next.get('')!, '--help', '--version'].join(' '))} ;;`,
    ...topics.map(([path, words]) => `    ${q(path)}) ${fn}_reply -W ${q(words.join(' '))} ;;`),
    ...cmds.flatMap(branch),
    '  esac',
    '}',
    `complete -F ${fn} ${bin}`,
    '',
  ].join('\n');
}

/** Text inside an _arguments `[explanation]` or after a _describe `name:`. */
const zdesc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1');

function zshAction(v: Values, message: string): string {
  const m = message.replace(/:/g, '');
  switch (v.kind) {
    case 'enum':
      return `:${m}:(${v.words.join(' ')})`;
    case 'file':
      return `:${m}:_files`;
    case 'dir':
      return `:${m}:_files -/`;
    case 'none':
      return `:${m}: `;
  }
}

function zshFlagSpecs(c: Cmd): string[] {
  return c.flags.flatMap((f) => {
    const desc = `[${zdesc(firstLine(f.summary ?? f.description))}]`;
    // A flag excludes its other spellings and the flags it is exclusive with; a repeatable one nothing.
    const others = (f.exclusive ?? []).flatMap((n) => c.flags.filter((g) => g.name === n).flatMap(flagWords));
    const group = f.type === 'option' && f.multiple ? '*' : `(${[...flagWords(f), ...others].join(' ')})`;
    if (f.type === 'boolean') {
      const on = f.char ? `${q(group)}{-${f.char},--${f.name}}${q(desc)}` : q(`${group}--${f.name}${desc}`);
      return f.allowNo ? [on, q(`${group}--no-${f.name}[${zdesc(`Turn off --${f.name}.`)}]`)] : [on];
    }
    const action = zshAction(valuesOfFlag(f), [f.helpValue].flat()[0] ?? f.name);
    return [f.char ? `${q(group)}{-${f.char}+,--${f.name}=}${q(desc + action)}` : q(`${group}--${f.name}=${desc}${action}`)];
  });
}

function zshArgSpecs(c: Cmd): string[] {
  return c.args.map((a, n) => {
    const action = zshAction(a.values, a.name);
    if (c.variadic && n === c.args.length - 1) return q(`*${action}`);
    return q(`${n + 1}${a.required ? '' : ':'}${action}`);
  });
}

export function zshCompletion(bin: string, commands: CommandSpec[]): string {
  const fn = shIdent(bin);
  const cmds = model(commands);
  const { paths, next } = tree(cmds);
  const describe = (path: string): string[] => {
    const words = next.get(path) ?? [];
    const entries = words.map((w) => {
      const full = path ? `${path} ${w}` : w;
      const summary = cmds.find((c) => c.words.join(' ') === full)?.summary ?? '';
      return q(`${zdesc(w)}:${summary}`);
    });
    return [`      local -a subcommands=(${entries.join(' ')})`, `      _describe -t commands ${q(`${bin} ${path}`.trim() + ' command')} subcommands`];
  };
  const topics = [...next.keys()].filter((path) => path !== '' && !cmds.some((c) => c.words.join(' ') === path));
  return [
    `#compdef ${bin}`,
    `# zsh completion for ${bin}, generated from its commands by \`${bin} completion zsh\`.`,
    `# Try it:  source <(${bin} completion zsh)   (after compinit)`,
    `# Install: ${bin} completion zsh > "\${fpath[1]}/_${bin}"`,
    '',
    `${fn}() {`,
    '  local cmd= i=2',
    '  while (( i < CURRENT )); do',
    '    case "${cmd:+$cmd }${words[i]}" in',
    `      (${paths.map(q).join('|')}) cmd="\${cmd:+$cmd }\${words[i]}"; (( i++ )) ;;`,
    '      (*) break ;;',
    '    esac',
    '  done',
    '  case $cmd in',
    "    ('')",
    `      if [[ $PREFIX == -* ]]; then compadd -- --help --version; return; fi`,
    ...describe(''),
    '      ;;',
    ...topics.flatMap((path) => [`    (${q(path)})`, ...describe(path), '      ;;']),
    ...cmds.flatMap((c) => [
      `    (${q(c.words.join(' '))})`,
      "      # From here _arguments sees the command's last word as words[1].",
      '      words=("${(@)words[i-1,-1]}"); (( CURRENT -= i - 2 ))',
      `      _arguments -s -S \\`,
      ...[...zshFlagSpecs(c), q('--help[Show help for this command.]'), ...zshArgSpecs(c)].map((spec, n, all) => `        ${spec}${n === all.length - 1 ? '' : ' \\'}`),
      '      ;;',
    ]),
    '  esac',
    '}',
    '',
    `if [[ $funcstack[1] == _${bin} ]]; then ${fn} "$@"; else compdef ${fn} ${bin}; fi`,
    '',
  ].join('\n');
}

export function completionScript(shell: 'bash' | 'zsh', bin: string, commands: CommandSpec[]): string {
  return shell === 'bash' ? bashCompletion(bin, commands) : zshCompletion(bin, commands);
}
