/**
 * The command line, built with commander from the verbs' declarations: each
 * verb a (sub)command with its own flags, positional arguments and help. It
 * reads and checks every flag before the verb runs, and turns commander's
 * refusals into usage errors (exit 2) with one sentence, as the rest of the CLI.
 */
import { Command, CommanderError, Option } from 'commander';
import { ErrorCode, ExitCode, PlaneError } from '../common/src/errors.ts';
import { VERSION } from '../common/src/version.ts';
import { missingFlag, oneOf, readFlag } from './flags.ts';
import { groupHelp, rootHelp, synopsis, verbHelp } from './help.ts';
import { HubClient, resolveTarget } from './hub-client.ts';
import { allFlags, type Flag, type Out, type Verb } from './verb.ts';
import { VERBS } from './verbs/index.ts';

function option(f: Flag): Option {
  // commander reads "--no-x" as the negation of x; the value is read back in flagValue().
  const o = new Option(`${f.short ? `-${f.short}, ` : ''}--${f.name}${f.kind === 'boolean' ? '' : ' <value>'}`, f.help);
  return f.kind === 'boolean' ? o : o.argParser((raw: string) => readFlag(f, raw));
}

function flagValue(cmd: Command, f: Flag, o: Option): unknown {
  const raw: unknown = cmd.getOptionValue(o.attributeName());
  if (f.kind === 'boolean') return o.negate ? raw === false : raw === true;
  if (raw !== undefined && raw !== '') return raw;
  if (f.required) throw missingFlag(f);
  return typeof f.default === 'string' ? readFlag(f, f.default) : f.default;
}

function output(json: boolean): Out & { done(): void } {
  const tty = Boolean(process.stderr.isTTY) && !json;
  return {
    json,
    print: (t) => console.log(t),
    printJson: (v) => console.log(JSON.stringify(v, null, 2)),
    progress: (t) => {
      if (!json) process.stderr.write(tty ? `\r\x1b[K${t}` : `${t}\n`);
    },
    done: () => {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

/** Reads the flags and arguments commander parsed, then runs the verb. */
async function runVerb(v: Verb, cmd: Command, options: ReadonlyMap<Flag, Option>): Promise<number> {
  const values: Record<string, unknown> = {};
  for (const [f, o] of options) values[f.name] = flagValue(cmd, f, o);
  const args: Record<string, string | undefined> = {};
  v.args.forEach((a, i) => (args[a.name] = cmd.args[i]));
  const missing = v.args.find((a) => !args[a.name]);
  if (missing) throw new PlaneError(ErrorCode.InvalidArgument, `usage: planes ${synopsis(v).join(' ')}`, { where: missing.name });
  const out = output(values['json'] === true);
  let client: HubClient | undefined;
  const hub = (): HubClient => {
    if (values['token'] !== undefined) process.stderr.write('planes: warning: --token puts the token in the process list; prefer PLANES_TOKEN or --token-file\n');
    const target = resolveTarget({ hub: values['hub'] as string | undefined, token: values['token'] as string | undefined, tokenFile: values['token-file'] as string | undefined, dataDir: values['data-dir'] as string | undefined });
    return new HubClient(target, v.calls);
  };
  try {
    return await v.run({
      // Checked against the declaration above; run() sees the types verb() gave it.
      values: values as never,
      args,
      out,
      get hub() {
        return (client ??= hub());
      },
      connect: (target) => new HubClient(target, v.calls),
    });
  } finally {
    out.done();
  }
}

/** A commander refusal as one sentence; `where` names the flag when there is one. */
function usageError(err: CommanderError): PlaneError {
  const [first = '', ...rest] = err.message.replace(/^error: /, '').split('\n');
  const hint = rest.join(' ').replace(/^\(Did you mean (.*)\?\)$/, 'did you mean $1?');
  const where = /'(-[^' ]+)/.exec(first)?.[1];
  const message =
    err.code === 'commander.unknownCommand' ? `${first} (${hint ? `${hint} ` : ''}see 'planes help')` : `${first}${hint ? ` (${hint})` : ''}`;
  return new PlaneError(ErrorCode.InvalidArgument, message, where ? { where } : undefined);
}

/** The program: one commander command per verb, `secrets set` and the like as subcommands. */
export function program(verbs: readonly Verb[], onExit: (code: number) => void): Command {
  const root = new Command('planes')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s), outputError: () => undefined })
    .version(VERSION, '--version', 'print the version');
  const declared = new Map<Command, Verb>();
  const children = (prefix: string): Verb[] => verbs.filter((x) => x.name.startsWith(`${prefix} `));
  root.configureHelp({
    formatHelp: (cmd) => {
      const v = declared.get(cmd);
      const name = [cmd.parent?.parent ? cmd.parent.name() : '', cmd.name()].filter(Boolean).join(' ');
      return `${cmd === root ? rootHelp(verbs) : v ? verbHelp(v, children(v.name)) : groupHelp(name, children(name))}\n`;
    },
  });
  for (const v of verbs) {
    const words = v.name.split(' ');
    let parent = root;
    if (words.length > 1) {
      const head = words[0] ?? '';
      parent = root.commands.find((c) => c.name() === head) ?? groupCommand(root, head, children(head));
    }
    const cmd = parent.command(words.at(-1) ?? v.name).description(v.summary);
    const options = new Map(allFlags(v).map((f) => [f, option(f)] as const));
    for (const o of options.values()) cmd.addOption(o);
    for (const a of v.args) cmd.argument(`[${a.name}]`, a.help);
    cmd.action(async () => onExit(await runVerb(v, cmd, options)));
    declared.set(cmd, v);
  }
  return root;
}

/** `planes secrets`, `planes gcp`: a name for subcommands, no verb itself. */
function groupCommand(root: Command, name: string, subs: readonly Verb[]): Command {
  return root
    .command(name)
    .description(subs.map((s) => s.summary).join('; '))
    .argument('[command]')
    .action((sub: string | undefined) => {
      const names = oneOf(subs.map((s) => s.name.split(' ').at(-1) ?? ''));
      throw new PlaneError(
        ErrorCode.InvalidArgument,
        sub === undefined ? `${name} needs a command: ${names} (see 'planes ${name} --help')` : `unknown ${name} command '${sub}': ${names} (see 'planes ${name} --help')`,
      );
    });
}

/** Runs `planes` with these arguments; resolves to the exit code, rejects with what went wrong. */
export async function runPlanes(argv: string[], verbs: readonly Verb[] = VERBS): Promise<number> {
  if (argv.length === 0) {
    // No command at all: the list, and a usage exit.
    console.log(rootHelp(verbs));
    return ExitCode.Usage;
  }
  let code: number = ExitCode.Ok;
  try {
    await program(verbs, (c) => (code = c)).parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // --help, help, --version: printed already.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    throw usageError(err);
  }
  return code;
}
