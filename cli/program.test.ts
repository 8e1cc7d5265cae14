import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, PlaneError } from '../common/src/errors.ts';
import { HubClient } from './hub-client.ts';
import { runPlanes } from './program.ts';
import { allFlags, type Verb, verb } from './verb.ts';
import { VERBS } from './verbs/index.ts';

/** Runs `planes` in this process with these verbs; what it printed, its exit code or its error. */
async function planes(argv: string[], verbs: readonly Verb[]): Promise<{ code?: number; error?: PlaneError; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void (stdout += `${String(s)}\n`));
  try {
    return { code: await runPlanes(argv, verbs), stdout, stderr };
  } catch (err) {
    return { error: err as PlaneError, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('the command line, from the declarations', () => {
  let seen: { values: unknown; args: unknown } | undefined;
  const probe = verb({
    name: 'probe',
    group: 'Agent lifecycle',
    summary: 'Records what it was given',
    flags: [
      { name: 'plane', value: 'P', help: 'the plane', required: true },
      { name: 'file', short: 'f', value: 'planes.yaml', help: 'a file' },
      { name: 'count', kind: 'int', value: 'N', help: 'a count', default: 7 },
      { name: 'names', kind: 'list', value: 'a,b', help: 'names' },
      { name: 'share', kind: 'limit', value: 'N|N%', help: 'a share' },
      { name: 'at', kind: 'date', value: 'TIME', help: 'a time' },
      { name: 'listen', kind: 'host-port', value: 'H:P', help: 'an address', default: '127.0.0.1:7480' },
      { name: 'by', choices: ['agent', 'owner'], help: 'rows by', default: 'agent' },
      { name: 'no-wait', kind: 'boolean', help: 'do not wait' },
      { name: 'force', kind: 'boolean', help: 'force' },
    ],
    calls: [],
    async run({ values, args }) {
      seen = { values, args };
      return 0;
    },
  });
  const sub = verb({ name: 'things set', group: 'Agent lifecycle', summary: 'Sets a thing', flags: [], args: [{ name: 'KEY', help: 'the key' }], calls: [], run: async ({ args }) => ((seen = { values: {}, args }), 0) });
  const verbs = [probe, sub];
  afterEach(() => (seen = undefined));

  it('gives the verb every flag typed, with defaults, and --no-x as x: false', async () => {
    const r = await planes(['probe', '--plane', 'p1', '-f', 'x.yaml', '--names', 'a, b,,c', '--share', '25%', '--at', '2026-11-21T10:30:00+01:00', '--no-wait', '--json'], verbs);
    expect(r.code).toBe(0);
    expect(seen?.values).toEqual({
      plane: 'p1',
      file: 'x.yaml',
      count: 7,
      names: ['a', 'b', 'c'],
      share: '25%',
      at: '2026-11-21T09:30:00.000Z',
      listen: { host: '127.0.0.1', port: 7480 },
      by: 'agent',
      'no-wait': true,
      force: false,
      hub: undefined,
      'token-file': undefined,
      token: undefined,
      'data-dir': undefined,
      json: true,
    });
    await planes(['probe', '--plane=p2', '--count', '3', '--share', '12', '--by', 'owner', '--force'], verbs);
    expect(seen?.values).toMatchObject({ plane: 'p2', count: 3, share: 12, by: 'owner', force: true, 'no-wait': false, json: false });
  });

  it('refuses bad input with exit 2 and one sentence that names the flag', async () => {
    const cases: Array<[string[], string, string | undefined]> = [
      [['probe'], '--plane is required', '--plane'],
      [['probe', '--plane', ''], '--plane is required', '--plane'],
      [['probe', '--plane', 'p', '--count', '-1'], "--count must be a whole number, got '-1'", '--count'],
      [['probe', '--plane', 'p', '--count', '1e3'], "--count must be a whole number, got '1e3'", '--count'],
      [['probe', '--plane', 'p', '--share', 'half'], '--share half: a whole number or a share like 25%', '--share'],
      [['probe', '--plane', 'p', '--at', 'yesterday'], '--at yesterday: not a date/time (use ISO 8601, e.g. 2026-11-21T09:30:00Z)', '--at'],
      [['probe', '--plane', 'p', '--listen', 'nowhere'], "--listen must be host:port, got 'nowhere'", '--listen'],
      [['probe', '--plane', 'p', '--by', 'group'], "--by must be agent or owner, got 'group'", '--by'],
      [['probe', '--plane', 'p', '--bogus'], "unknown option '--bogus'", '--bogus'],
      [['probe', '--plane', 'p', '--forc'], "unknown option '--forc' (did you mean --force?)", '--forc'],
      [['probe', '--plane'], "option '--plane <value>' argument missing", '--plane'],
      [['probe', '--plane', 'p', 'extra'], "too many arguments for 'probe'. Expected 0 arguments but got 1: extra.", undefined],
      [['prob'], "unknown command 'prob' (did you mean probe? see 'planes help')", undefined],
      [['toString'], "unknown command 'toString' (see 'planes help')", undefined],
      [['things'], "things needs a command: set (see 'planes things --help')", undefined],
      [['things', 'get'], "unknown things command 'get': set (see 'planes things --help')", undefined],
      [['things', 'set'], 'usage: planes things set KEY', 'KEY'],
    ];
    for (const [argv, message, where] of cases) {
      const r = await planes(argv, verbs);
      expect(r.error, argv.join(' ')).toBeInstanceOf(PlaneError);
      expect(r.error?.code, argv.join(' ')).toBe(ErrorCode.InvalidArgument);
      expect(r.error?.exitCode).toBe(2);
      expect(r.error?.message, argv.join(' ')).toBe(message);
      expect(r.error?.where, argv.join(' ')).toBe(where);
      expect(r.stdout + r.stderr, argv.join(' ')).toBe('');
      expect(seen, argv.join(' ')).toBeUndefined();
    }
  });

  it('passes positional arguments by name', async () => {
    expect((await planes(['things', 'set', 'ANTHROPIC_API_KEY'], verbs)).code).toBe(0);
    expect(seen?.args).toEqual({ KEY: 'ANTHROPIC_API_KEY' });
  });

  it('prints the list for planes, help and --help; a verb’s own help for <verb> --help and help <verb>', async () => {
    const bare = await planes([], verbs);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toMatch(/^usage: planes <command> \[flags\]\n\nAgent lifecycle\n {2}probe {7,}Records what it was given\n {2}things set +Sets a thing\n/);
    for (const argv of [['help'], ['--help'], ['-h']]) expect(await planes(argv, verbs)).toEqual({ code: 0, stdout: bare.stdout, stderr: '' });
    const own = await planes(['probe', '--help'], verbs);
    expect(own.code).toBe(0);
    expect(own.stdout).toMatch(/^usage: planes probe --plane P \[-f planes\.yaml\] \[--count N\]/);
    expect(own.stdout).toMatch(/^ {2}--count N +a count \(default 7\)$/m);
    expect(own.stdout).toMatch(/^ {2}--by agent\|owner +rows by \(default agent\)$/m);
    expect(own.stdout).toMatch(/^REST: none$/m);
    expect((await planes(['help', 'probe'], verbs)).stdout).toBe(own.stdout);
    expect((await planes(['things', 'set', '-h'], verbs)).stdout).toMatch(/^usage: planes things set KEY\n/);
    expect((await planes(['things', '--help'], verbs)).stdout).toMatch(/^usage: planes things <command> \[flags\]\n\nCommands:\n {2}things set +Sets a thing\n/);
  });
});

describe('planes <verb> --help', () => {
  it('shows, for every verb, its usage, each flag it takes and the REST calls it makes', async () => {
    for (const v of VERBS) {
      const r = await planes([...v.name.split(' '), '--help'], VERBS);
      expect(r.code, v.name).toBe(0);
      expect(r.stdout, v.name).toMatch(new RegExp(`^usage: planes ${v.name}( |\n)`));
      for (const f of allFlags(v)) expect(r.stdout, `${v.name} --${f.name}`).toMatch(new RegExp(`^ {2}(-${f.short ?? '-'}, )?--${f.name}( |$)`, 'm'));
      expect(r.stdout, v.name).toContain(`REST: ${v.calls.join(', ')}`);
    }
  });
});

describe('a verb’s client', () => {
  it('calls only the routes the verb declares', async () => {
    const c = new HubClient({ url: 'http://127.0.0.1:1', token: 'apt1.x' }, ['GET /v1/planes']);
    await expect((c as unknown as HubClient).call('GET /v1/audit', {})).rejects.toThrow('GET /v1/audit is not among the calls this command declares');
    await expect(c.call('GET /v1/planes', {})).rejects.toThrow(/cannot reach the hub/);
  });
});
