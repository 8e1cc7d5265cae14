/**
 * How a `planes` verb is declared: its name, group, help, flags, positional
 * arguments and the REST calls it makes, once. The parser (program.ts) and the
 * help (help.ts) are built from it; test/docs.test.ts checks docs/api.md
 * against it and test/cli-contract.test.ts its calls against the hub's routes.
 * The verb's run() sees typed flag values and a client that may call only the
 * declared routes.
 */
import type { RouteKey } from './api.ts';
import type { HubClient, HubTarget } from './hub-client.ts';

/** What a flag's value is, and how it is read and checked. */
export type FlagKind =
  | 'string'
  | 'boolean'
  /** a whole number >= 0 */
  | 'int'
  /** a,b,c */
  | 'list'
  /** N or N% */
  | 'limit'
  /** an ISO 8601 date/time, sent as ISO in UTC */
  | 'date'
  /** host:port */
  | 'host-port';

export interface Flag {
  /** The long name without dashes: 'plane' is --plane. */
  readonly name: string;
  readonly short?: string;
  /** Default 'string'. */
  readonly kind?: FlagKind;
  /** The value's placeholder in help: --plane P. */
  readonly value?: string;
  readonly help: string;
  readonly required?: boolean;
  /** The value when the flag is not given (shown in help). */
  readonly default?: string | number;
  /** The only values a string flag takes. */
  readonly choices?: readonly string[];
}

export interface Arg {
  readonly name: string;
  readonly help: string;
}

export interface HostPort {
  host: string;
  port: number;
}

type KindValue<F extends Flag> = F extends { kind: 'int' }
  ? number
  : F extends { kind: 'list' }
    ? string[]
    : F extends { kind: 'limit' }
      ? number | string
      : F extends { kind: 'host-port' }
        ? HostPort
        : F extends { choices: readonly (infer C)[] }
          ? C
          : string;
type FlagValue<F extends Flag> = F extends { kind: 'boolean' } ? boolean : F extends { required: true } | { default: string | number } ? KindValue<F> : KindValue<F> | undefined;

/** The parsed flags of a verb, by long name. */
export type Values<Fs extends readonly Flag[]> = { [F in Fs[number] as F['name']]: FlagValue<F> };

/** Where a verb writes: stdout for results, stderr for progress (silent with --json). */
export interface Out {
  json: boolean;
  print(text: string): void;
  printJson(v: unknown): void;
  progress(text: string): void;
}

export interface Ctx<Fs extends readonly Flag[], C extends RouteKey, A extends readonly Arg[]> {
  values: Values<Fs>;
  args: { [X in A[number] as X['name']]: string | undefined };
  out: Out;
  /** A client for the hub that --hub, --token, --token-file and --data-dir name (resolved on first use). */
  readonly hub: HubClient<C>;
  /** A client for a hub this process knows itself (planes up). */
  connect: (target: HubTarget) => HubClient<C>;
}

export const GROUPS = [
  'Plane lifecycle',
  'Agent lifecycle',
  'Fleet operations (one agent, --name a,b, or the whole plane; rate-controlled by the hub)',
  'Cost',
  'Brain (workspace + databases in the bucket)',
  'Secrets (values are write-only: stdin, a prompt, or --from-file; never argv)',
  'Google Cloud',
  'Audit',
  'Declarative (planes.yaml)',
  'Embedded',
] as const;
export type Group = (typeof GROUPS)[number];

export interface VerbSpec<Fs extends readonly Flag[], C extends RouteKey, A extends readonly Arg[]> {
  /** 'status', or a subcommand: 'secrets set'. */
  name: string;
  group: Group;
  /** One line for `planes --help`. */
  summary: string;
  /** More, for `planes <verb> --help`. */
  details?: string;
  flags: Fs;
  args?: A;
  /** Every REST call the verb makes. */
  calls: readonly C[];
  /** false: no --hub, --token, --token-file, --data-dir, --json of its own (planes up declares its own). */
  hubFlags?: false;
  run(ctx: Ctx<Fs, C, A>): Promise<number>;
}

/** A declared verb, its types erased for the registry. */
export interface Verb {
  readonly name: string;
  readonly group: Group;
  readonly summary: string;
  readonly details: string | undefined;
  readonly flags: readonly Flag[];
  readonly args: readonly Arg[];
  readonly calls: readonly RouteKey[];
  readonly hubFlags: boolean;
  run(ctx: Ctx<readonly Flag[], RouteKey, readonly Arg[]>): Promise<number>;
}

/** --plane P and --name A, both required: most verbs act on one plane or one agent. */
export const PLANE = { name: 'plane', value: 'P', help: 'the plane', required: true } as const satisfies Flag;
export const AGENT = { name: 'name', value: 'A', help: 'the agent', required: true } as const satisfies Flag;

/** Flags every verb that talks to a hub takes. */
export const HUB_FLAGS = [
  { name: 'hub', value: 'URL', help: 'the hub (default: PLANES_HUB, else apiUrl in <data dir>/hub.json)' },
  { name: 'token-file', value: 'FILE', help: 'a file holding the API token (or PLANES_TOKEN_FILE)' },
  { name: 'token', value: 'TOKEN', help: 'the API token; visible in the process list (prefer PLANES_TOKEN or --token-file)' },
  { name: 'data-dir', value: 'DIR', help: "a local hub's data dir, for its hub.json (default: PLANES_DATA_DIR, else .planes-data)" },
  { name: 'json', kind: 'boolean', help: 'machine output on stdout, nothing else there; no progress' },
] as const satisfies readonly Flag[];

/** Declares a verb: its flags' values and its client are typed from the declaration. */
export function verb<const Fs extends readonly Flag[], const C extends RouteKey = never, const A extends readonly Arg[] = readonly []>(spec: VerbSpec<Fs, C, A>): Verb {
  return {
    name: spec.name,
    group: spec.group,
    summary: spec.summary,
    details: spec.details,
    flags: spec.flags,
    args: spec.args ?? [],
    calls: spec.calls,
    hubFlags: spec.hubFlags ?? true,
    run: (ctx) => spec.run(ctx),
  };
}

/** All flags a verb takes: its own, then the hub flags. */
export function allFlags(v: Pick<Verb, 'flags' | 'hubFlags'>): readonly Flag[] {
  return v.hubFlags ? [...v.flags, ...HUB_FLAGS] : v.flags;
}
