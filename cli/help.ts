/** `planes --help` and `planes <verb> --help`, written from the verbs' declarations. */
import { displayWidth } from './format.ts';
import { oneOf } from './flags.ts';
import { allFlags, type Flag, GROUPS, HUB_FLAGS, type Verb } from './verb.ts';

const WIDTH = 100;

/** --plane P, -f FILE, --spot, --model-tier haiku|sonnet|opus */
export function flagUsage(f: Flag, long = true): string {
  const name = f.short && !long ? `-${f.short}` : `--${f.name}`;
  if (f.kind === 'boolean') return name;
  return `${name} ${f.choices ? f.choices.join('|') : (f.value ?? 'VALUE')}`;
}

/** "secrets set --plane P --name A KEY [--from-file F]": required flags, arguments, then the rest in brackets. */
export function synopsis(v: Verb): string[] {
  const required = v.flags.filter((f) => f.required).map((f) => flagUsage(f, false));
  const optional = v.flags.filter((f) => !f.required).map((f) => `[${flagUsage(f, false)}]`);
  return [v.name, ...required, ...v.args.map((a) => a.name), ...optional];
}

/** Words (or given pieces) wrapped at WIDTH, continuation lines indented by `indent`. */
function wrap(text: string | string[], indent: number, first = 0): string[] {
  const lines: string[] = [];
  let line = '';
  let room = WIDTH - first;
  for (const word of typeof text === 'string' ? text.split(' ') : text) {
    if (line && displayWidth(line) + 1 + displayWidth(word) > room) {
      lines.push(line);
      line = '';
      room = WIDTH - indent;
    }
    line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : `${' '.repeat(indent)}${l}`));
}

/** The command list, by group, one verb a line: `planes`, `planes help`, `planes --help`. */
export function rootHelp(verbs: readonly Verb[]): string {
  const nameWidth = Math.max(...verbs.map((v) => v.name.length)) + 2;
  const lines = ['usage: planes <command> [flags]', ''];
  for (const group of GROUPS) {
    const members = verbs.filter((v) => v.group === group);
    if (members.length === 0) continue;
    lines.push(group);
    for (const v of members) lines.push(`  ${v.name.padEnd(nameWidth)}${wrap(v.summary, nameWidth + 2, nameWidth + 2).join('\n')}`);
  }
  lines.push(
    '',
    'Help:         planes help | planes --help (this list) | planes COMMAND --help (its flags)',
    'Version:      planes --version',
    `Global flags: ${HUB_FLAGS.map((f) => flagUsage(f)).join(' ')} (every command but up)`,
    'Environment:  PLANES_HUB, PLANES_TOKEN, PLANES_TOKEN_FILE, PLANES_DATA_DIR',
    'Exit codes:   0 ok, 1 some agents failed, 2 usage, 3 not found, 4 auth, 5 hub unreachable, 6 conflict, 70 internal',
  );
  return lines.join('\n');
}

/** One verb: usage, what it does, each flag with its help and default, the REST calls it makes. */
export function verbHelp(v: Verb, subcommands: readonly Verb[] = []): string {
  const flags = allFlags(v);
  const labels = flags.map((f) => (f.short ? `-${f.short}, ${flagUsage(f)}` : flagUsage(f)));
  const labelWidth = Math.min(36, Math.max(0, ...labels.map((l) => l.length)) + 2);
  const flagLine = (f: Flag, i: number): string => {
    const label = labels[i] ?? '';
    const extra = [f.required ? 'required' : '', f.default !== undefined ? `default ${String(f.default)}` : '', f.choices && f.value ? `one of ${oneOf(f.choices)}` : ''].filter(Boolean);
    const text = `${f.help}${extra.length ? ` (${extra.join('; ')})` : ''}`;
    const pad = label.length + 2 > labelWidth ? `\n${' '.repeat(labelWidth + 2)}` : ' '.repeat(labelWidth - label.length);
    return `  ${label}${pad}${wrap(text, labelWidth + 2, labelWidth + 2).join('\n')}`;
  };
  return [
    ...wrap(['usage: planes', ...synopsis(v)], 6),
    '',
    ...wrap(v.summary, 0),
    ...(v.details ? ['', ...v.details.split('\n').flatMap((p) => wrap(p, 0))] : []),
    ...(v.args.length ? ['', 'Arguments:', ...v.args.map((a) => `  ${a.name.padEnd(labelWidth)}${a.help}`)] : []),
    ...(flags.length ? ['', 'Flags:', ...flags.map(flagLine)] : []),
    ...(subcommands.length ? ['', 'Commands:', ...subcommands.map((s) => `  ${s.name.padEnd(labelWidth)}${s.summary}`)] : []),
    '',
    `REST: ${v.calls.join(', ') || 'none'}`,
  ].join('\n');
}

/** A parent of subcommands that is no verb itself (planes secrets, planes gcp). */
export function groupHelp(name: string, subcommands: readonly Verb[]): string {
  const width = Math.max(...subcommands.map((s) => s.name.length)) + 2;
  return [`usage: planes ${name} <command> [flags]`, '', 'Commands:', ...subcommands.map((s) => `  ${s.name.padEnd(width)}${s.summary}`), '', `planes ${name} <command> --help shows its flags.`].join('\n');
}
