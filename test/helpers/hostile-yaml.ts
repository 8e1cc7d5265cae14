/**
 * planes.yaml files that must be refused: each of the hostile inputs the
 * hardening issue lists, and seeded random variations of them (which agent, how
 * wide or deep, which bad bytes or characters). Each case knows the line its
 * error must name and a word of what the error must say. The files stay small
 * except the three that are about size, which are written in 1 MiB pieces.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { PLANES_FILE_LIMITS } from '../../hub/src/planes-file-input.ts';

export interface HostileCase {
  name: string;
  /** The file's bytes; `huge` cases are written by `write` instead. */
  bytes?: Buffer;
  /** Writes a large file without holding it in memory. */
  write?: (path: string) => void;
  /** Sent on stdin (planes apply -f /dev/stdin) instead of a file. */
  viaStdin?: boolean;
  /** The line the error must name. */
  line: number;
  /** What the error must say. */
  says: RegExp;
}

const MiB = 1024 * 1024;

/** The example plane under another name: every case is a mutation of a file that applies cleanly. */
export function baseFile(example: string, plane: string): string {
  return example.replace('name: acme-agents', `name: ${plane}`);
}

const lineOf = (text: string, needle: string): number => {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} is not in the file`);
  return text.slice(0, i).split('\n').length;
};

const agentNames = ['alice-agent', 'bob-agent', 'carol-agent'] as const;

/** Inserts `lines` (already indented as an agent's fields, 6 spaces) right after the agent's owner line. */
function intoAgent(base: string, agent: string, lines: string): string {
  const owner = new RegExp(`(    - name: ${agent}\\n      owner: [^\\n]*\\n)`);
  if (!owner.test(base)) throw new Error(`no agent ${agent}`);
  return base.replace(owner, `$1${lines}`);
}

function ownerBytes(base: string, agent: string, owner: Buffer): Buffer {
  const marker = '\u0000OWNER\u0000';
  const text = base.replace(new RegExp(`(- name: ${agent}\\n      owner: )[^\\n]*`), `$1${marker}`);
  const [before, after] = text.split(marker) as [string, string];
  return Buffer.concat([Buffer.from(before), owner, Buffer.from(after)]);
}

/** A billion-laughs chain: level k is a list of `width` aliases to level k-1. */
function aliasBomb(width: number, levels: number): string {
  const rows = [`        l0: &a0 [${Array(width).fill('lol').join(', ')}]`];
  for (let k = 1; k < levels; k++) rows.push(`        l${k}: &a${k} [${Array(width).fill(`*a${k - 1}`).join(', ')}]`);
  return `      configOverrides:\n${rows.join('\n')}\n`;
}

/** The first level of a bomb whose expansion takes the running total past the value budget. */
function bombLevel(width: number, levels: number): number {
  let size = 1 + width; // level 0: the list and its scalars
  let total = size;
  for (let k = 1; k < levels; k++) {
    size = 1 + width * (1 + size); // each alias counts, then what it names
    total += size;
    if (total > PLANES_FILE_LIMITS.maxValues) return k;
  }
  throw new Error('the bomb is too small');
}

/** Mappings nested by indentation under configOverrides; the error names the key of the first one too deep. */
function deepMaps(levels: number): { text: string; tooDeepKey: string } {
  const rows = Array.from({ length: levels }, (_, i) => `${' '.repeat(8 + 2 * i)}k${i + 1}:`);
  // configOverrides' mapping is level 5 (file, spec, agents, agent, configOverrides) and holds k1: kN's is level 4 + N.
  return { text: `      configOverrides:\n${rows.join('\n')} leaf\n`, tooDeepKey: `k${PLANES_FILE_LIMITS.maxDepth + 1 - 4}:` };
}

function writeInPieces(path: string, head: string, piece: (i: number) => string, bytes: number, tail = ''): void {
  writeFileSync(path, head);
  let written = head.length;
  for (let i = 0; written < bytes; i++) {
    const p = piece(i);
    appendFileSync(path, p);
    written += p.length;
  }
  if (tail) appendFileSync(path, tail);
}

export function hostileCases(base: string): HostileCase[] {
  const cases: HostileCase[] = [];
  const add = (name: string, text: string | Buffer, line: number, says: RegExp): void => {
    cases.push({ name, bytes: typeof text === 'string' ? Buffer.from(text) : text, line, says });
  };
  const agentsHead = base.slice(0, base.indexOf('  policies:'));

  // Size: refused before the file is read, and through a pipe after at most the limit.
  cases.push({
    name: '50 MB of agents',
    write: (p) => writeInPieces(p, agentsHead, (i) => Array.from({ length: 5000 }, (_, j) => `    - name: agent-${i * 5000 + j}\n      owner: a${i * 5000 + j}@x.example\n      tools: [email, calendar]\n`).join(''), 50 * MiB),
    line: 1,
    says: /at most 4\.0 MiB .*nothing was read/,
  });
  cases.push({
    name: 'a 50 MB string value',
    write: (p) => writeInPieces(p, `${agentsHead}    - name: big\n      owner: big@x.example\n      machineType: "`, () => 'x'.repeat(MiB), 50 * MiB, '"\n'),
    line: 1,
    says: /at most 4\.0 MiB/,
  });
  cases.push({ name: '50 MB on stdin', viaStdin: true, line: 1, says: /longer than 4\.0 MiB/ });

  // Within the size limit, but more lines or values than a plane needs: stopped while the parser reads them.
  const lines = intoAgent(base, 'alice-agent', `      configOverrides:\n        list:\n${'          - 1\n'.repeat(PLANES_FILE_LIMITS.maxLines)}`);
  add('200,000 lines of list items', lines, PLANES_FILE_LIMITS.maxLines + 1, /more than 200000 lines; a planes.yaml may have at most 200000/);
  const values = intoAgent(base, 'bob-agent', `      configOverrides: {list: [${'1,'.repeat(PLANES_FILE_LIMITS.maxValues)}1]}\n`);
  add('500,000 values on one line', values, lineOf(values, '{list: ['), /more than 500000 values \(keys, scalars, mappings and lists\); a planes.yaml may hold at most 500000/);

  // Aliases and nesting.
  const bomb = intoAgent(base, 'alice-agent', aliasBomb(9, 9));
  add('alias bomb', bomb, lineOf(bomb, `l${bombLevel(9, 9)}: `), new RegExp(`expanding this alias takes the file past ${PLANES_FILE_LIMITS.maxValues} values`));
  const cycle = intoAgent(base, 'bob-agent', '      configOverrides: &loop\n        again: *loop\n');
  add('an alias inside what it names', cycle, lineOf(cycle, 'again: *loop'), /inside what it names/);
  const manyAliases = intoAgent(base, 'carol-agent', `      configOverrides:\n        one: &one 1\n${Array.from({ length: PLANES_FILE_LIMITS.maxAliases + 1 }, (_, i) => `        a${i}: *one`).join('\n')}\n`);
  add('too many aliases', manyAliases, lineOf(manyAliases, `a${PLANES_FILE_LIMITS.maxAliases}: *one`), /alias number 1001; .* at most 1000 aliases/);
  const flow = intoAgent(base, 'alice-agent', `      configOverrides: {x: ${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`);
  add('100,000 nested flow lists', flow, lineOf(flow, 'configOverrides: {x: ['), /nested 32 levels deep; .* at most 31/);
  const block = intoAgent(base, 'bob-agent', `      configOverrides:\n        x:\n          ${'- '.repeat(50_000)}x\n`);
  add('50,000 nested block lists', block, lineOf(block, '- - -'), /nested 32 levels deep/);
  const maps = deepMaps(40);
  const deep = intoAgent(base, 'carol-agent', maps.text);
  add('40 nested mappings', deep, lineOf(deep, maps.tooDeepKey), /nested 32 levels deep/);

  // Tags and directives.
  const evil = base.replace('owner: bob@acme.example', 'owner: !evil bob@acme.example');
  add('an unknown tag', evil, lineOf(evil, '!evil'), /the tag '!evil' is not allowed/);
  const binary = intoAgent(base, 'alice-agent', '      configOverrides: {blob: !!binary aGVsbG8=}\n');
  add('a !!binary tag', binary, lineOf(binary, '!!binary'), /the tag '!!binary' is not allowed/);
  add('a %TAG directive', `%TAG !e! tag:evil.example,2000:\n---\n${base}`, 1, /directive '%TAG .* is not allowed/);
  add('a %YAML 1.1 directive', `%YAML 1.1\n---\n${base}`, 1, /directive '%YAML 1\.1' is not allowed/);

  // Owners.
  const script = base.replace('owner: bob@acme.example', 'owner: <script>@x.example');
  add('an owner with markup', script, lineOf(script, '<script>'), /spec\.agents\[1\]\.owner: must be an email address/);
  const latin1 = ownerBytes(base, 'carol-agent', Buffer.from([0x63, 0x61, 0x72, 0xf6, 0x6c, 0x40, 0x78, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65])); // "carol" with ö in Latin-1
  add('an owner in Latin-1, not UTF-8', latin1, lineOf(base, 'owner: carol@'), /not valid UTF-8 here \(byte 0xf6\)/);
  const surrogate = ownerBytes(base, 'alice-agent', Buffer.concat([Buffer.from('al'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('@x.example')]));
  add('an owner with an encoded surrogate', surrogate, lineOf(base, 'owner: alice@'), /not valid UTF-8 here \(byte 0xed\)/);
  const replacement = base.replace('owner: alice@acme.example', 'owner: al\uFFFDce@acme.example');
  add('an owner holding U+FFFD', replacement, lineOf(replacement, 'al\uFFFDce'), /owner: must be an email address/);
  const quoted = base.replace('owner: carol@acme.example', 'owner: \'"carol smith"@acme.example\'');
  add('a quoted local part', quoted, lineOf(quoted, 'carol smith'), /owner: must be an email address/);
  const admin = base.replace('adminEmail: admin@acme.example', 'adminEmail: admin@[192.0.2.1]');
  add('an address literal', admin, lineOf(admin, 'adminEmail'), /identity\.adminEmail: must be an email address/);

  // Duplicates, documents, prototype keys, numbers JSON cannot carry.
  const dup = intoAgent(base, 'bob-agent', '      name: robert-agent\n');
  add('a duplicate key', dup, lineOf(dup, 'name: robert-agent'), /the key 'name' is already in this mapping \(line \d+\)/);
  const dupTop = base.replace('kind: AgentsPlane\n', 'kind: AgentsPlane\nkind: AgentsPlane\n');
  add('a duplicate top-level key', dupTop, lineOf(dupTop, 'kind:') + 1, /the key 'kind' is already in this mapping/);
  add('a second document', `${base}---\napiVersion: openclaw.dev/v1alpha1\n`, base.split('\n').length, /a second YAML document starts here/);
  const proto = intoAgent(base, 'carol-agent', '      __proto__: {isAdmin: true}\n');
  add('__proto__ in an agent', proto, lineOf(proto, '__proto__'), /'__proto__' is not allowed as a key/);
  const protoDeep = intoAgent(base, 'alice-agent', '      configOverrides:\n        gateway:\n          __proto__:\n            polluted: 1\n');
  add('__proto__ in configOverrides', protoDeep, lineOf(protoDeep, '__proto__'), /configOverrides\.gateway\.__proto__: '__proto__' is not allowed/);
  const ctor = intoAgent(base, 'bob-agent', '      configOverrides: {constructor: {prototype: {polluted: 1}}}\n');
  add('constructor.prototype in configOverrides', ctor, lineOf(ctor, 'constructor'), /'prototype' is not allowed as a key/);
  const inf = intoAgent(base, 'carol-agent', '      configOverrides: {temperature: .inf}\n');
  add('.inf', inf, lineOf(inf, '.inf'), /\.inf is not a finite number/);
  return cases;
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same cases. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` random variations: which agent, which bad byte or character, how wide or deep. */
export function fuzzCases(base: string, seed: number, count: number): HostileCase[] {
  const r = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const kinds: Array<() => HostileCase> = [
    () => {
      const agent = pick(agentNames);
      const width = int(6, 12);
      const levels = 10;
      const text = intoAgent(base, agent, aliasBomb(width, levels));
      return { name: `alias bomb ${width}x${levels} in ${agent}`, bytes: Buffer.from(text), line: lineOf(text, `l${bombLevel(width, levels)}: `), says: /expanding this alias/ };
    },
    () => {
      const agent = pick(agentNames);
      const depth = int(32, 5000);
      const [open, close] = pick([['[', ']'], ['{a: ', '}']] as const);
      const text = intoAgent(base, agent, `      configOverrides: {x: ${open.repeat(depth)}1${close.repeat(depth)}}\n`);
      return { name: `${depth} nested ${open === '[' ? 'lists' : 'mappings'} in ${agent}`, bytes: Buffer.from(text), line: lineOf(text, 'configOverrides: {x: '), says: /nested 32 levels deep/ };
    },
    () => {
      const agent = pick(agentNames);
      const tag = pick(['!evil', '!!binary', '!!timestamp', '!!set', '!e!x', '!<tag:evil.example:x>', '!!python/object']);
      const text = intoAgent(base, agent, `      configOverrides: {x: ${tag} y}\n`);
      return { name: `tag ${tag} in ${agent}`, bytes: Buffer.from(text), line: lineOf(text, tag), says: /(the tag .* is not allowed|not valid YAML)/ };
    },
    () => {
      const agent = pick(agentNames);
      const bad = pick([[0xff], [0xc0, 0x80], [0xe2, 0x82], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xed, 0xbf, 0xbf]]);
      const bytes = ownerBytes(base, agent, Buffer.concat([Buffer.from('x'), Buffer.from(bad), Buffer.from('y@acme.example')]));
      return { name: `owner of ${agent} with bytes ${bad.map((b) => b.toString(16)).join(' ')}`, bytes, line: lineOf(base, `name: ${agent}`) + 1, says: /not valid UTF-8 here/ };
    },
    () => {
      const agent = pick(agentNames);
      const ch = pick(['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', ' ', '"', '\u200b', '\u202e', '\ufffd', '\u0007']);
      // A YAML double-quoted string: JSON's escapes are YAML's.
      const owner = JSON.stringify(`x${ch}y@acme.example`);
      const text = base.replace(new RegExp(`(- name: ${agent}\\n      owner: )[^\\n]*`), `$1${owner}`);
      return { name: `owner of ${agent} with ${JSON.stringify(ch)}`, bytes: Buffer.from(text), line: lineOf(base, `name: ${agent}`) + 1, says: /owner: must be an email address/ };
    },
    () => {
      const agent = pick(agentNames);
      // name and owner come before the insertion point, so the inserted line is the second.
      const key = pick(['name', 'owner', 'configOverrides']);
      const line = key === 'name' ? 'name: other-agent' : key === 'owner' ? 'owner: other@acme.example' : `configOverrides: {k${int(0, 9)}: 1, ${pick(['x', 'y'])}: 2, k: 3, k: 4}`;
      const text = intoAgent(base, agent, `      ${line}\n`);
      return { name: `duplicate ${key === 'configOverrides' ? 'k' : key} in ${agent}`, bytes: Buffer.from(text), line: lineOf(text, line), says: new RegExp(`the key '${key === 'configOverrides' ? 'k' : key}' is already in this mapping`) };
    },
    () => {
      const agent = pick(agentNames);
      const where = pick(['configOverrides: {__proto__: {x: 1}}', 'configOverrides: {a: {b: {__proto__: 1}}}', '__proto__: 1', 'configOverrides: {constructor: {prototype: 1}}']);
      const text = intoAgent(base, agent, `      ${where}\n`);
      return { name: `${where} in ${agent}`, bytes: Buffer.from(text), line: lineOf(text, where), says: /is not allowed as a key/ };
    },
    () => {
      const separator = pick(['---\n', '---\nfoo: 1\n', '...\nfoo: 1\n', '--- !evil\n']);
      // "---" starts the next document on its own line; after "..." the next document starts with its content.
      const line = base.split('\n').length + (separator.startsWith('...') ? 1 : 0);
      return { name: `a second document after ${JSON.stringify(separator)}`, bytes: Buffer.from(base + separator), line, says: /a second YAML document starts here/ };
    },
  ];
  return Array.from({ length: count }, () => pick(kinds)());
}
