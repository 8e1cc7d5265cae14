/**
 * planes.yaml as untrusted input: read with a size cap, decoded as strict UTF-8,
 * and parsed only within the limits that keep parsing cheap: lines, values,
 * aliases and nesting are counted, and directives, tags and a second document
 * refused, while the token tree is built, before anything is composed from
 * it. The composed document is then walked once, with
 * aliases expanded, to refuse duplicate keys, prototype keys, non-finite numbers
 * and documents that grow past a value budget: an alias bomb stops there, before
 * anything builds or validates the expanded tree. Every refusal is one line,
 * "file:line:column what is wrong", and a PlaneError (exit 2).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Composer, CST, type Document, isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, type Node, Parser, type YAMLError } from 'yaml';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';

export interface PlanesFileLimits {
  maxBytes: number;
  maxLines: number;
  maxDepth: number;
  maxAliases: number;
  maxValues: number;
}

/** Documented in docs/operations.md ("Limits of planes.yaml"). */
export const PLANES_FILE_LIMITS: Readonly<PlanesFileLimits> = {
  /** Bytes in the file: a 10,000-agent plane is about 1.5 MB. */
  maxBytes: 4 * 1024 * 1024,
  /** Lines (comments and blank lines too): a 10,000-agent plane has about 60,000. */
  maxLines: 200_000,
  /** Levels of mappings and lists; the hub takes 32 in a request body and the document sits one level inside it. */
  maxDepth: 31,
  /** Alias nodes (*name) in the file. */
  maxAliases: 1000,
  /** Keys, scalars, mappings and lists, every alias expanded: a 10,000-agent plane has about 150,000. */
  maxValues: 500_000,
};

const SECOND_DOCUMENT = 'a second YAML document starts here; a planes.yaml holds exactly one (remove it, and the "---" or "..." line before it)';
const tooManyValues = (limits: PlanesFileLimits): string =>
  `the file holds more than ${limits.maxValues} values (keys, scalars, mappings and lists); a planes.yaml may hold at most ${limits.maxValues}`;

/** YAML's core tags; anything else (!evil, !!binary, !!timestamp, %TAG handles) is refused. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq']);
const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

const fail = (where: string, message: string): never => {
  throw new PlaneError(ErrorCode.InvalidArgument, `${where} ${message}`, { where });
};

/** Control and line-separator characters escaped, and cut to `max` characters: an error stays one line. */
export function oneLine(s: string, max = 200): string {
  const safe = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}
const quote = (s: string): string => `'${oneLine(s, 60)}'`;

const sizeText = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${n} bytes`);

/**
 * The file's bytes, refusing one over `maxBytes` without reading it (a regular
 * file, by its size) or after reading at most `maxBytes + 1` (a pipe).
 */
export function readBoundedFile(fileName: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(fileName, 'r');
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `cannot read ${fileName}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { where: fileName, cause });
  }
  const tooBig = (what: string, after: string): never =>
    fail(`${fileName}:1:1`, `the file is ${what}; a planes.yaml may be at most ${sizeText(maxBytes)} (${maxBytes} bytes), so ${after}`);
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > maxBytes) tooBig(`${sizeText(st.size)} (${st.size} bytes)`, 'nothing was read');
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (cause) {
        throw new PlaneError(ErrorCode.InvalidArgument, `cannot read ${fileName}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { where: fileName, cause });
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) tooBig(`longer than ${sizeText(maxBytes)}`, 'reading stopped there');
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Strict UTF-8 (a BOM is dropped); otherwise names the line and column of the first byte that is not. */
export function decodeUtf8(bytes: Buffer, fileName: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // A valid prefix survives a lossy round trip unchanged; the first difference is the first bad byte.
    const lossy = Buffer.from(bytes.toString('utf8'), 'utf8');
    let i = 0;
    while (i < bytes.length && bytes[i] === lossy[i]) i++;
    const before = bytes.subarray(0, i).toString('utf8');
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    return fail(`${fileName}:${line}:${col}`, `the file is not valid UTF-8 here (byte 0x${(bytes[i] ?? 0).toString(16).padStart(2, '0')}); save it as UTF-8`);
  }
}

/** One parsed document, and "file:line:column" for an offset in its text. */
export interface StrictYaml {
  doc: Document.Parsed;
  at: (offset: number) => string;
}

/**
 * Parses `text` as one YAML 1.2 document under `limits`, or throws a
 * PlaneError naming the file, line and column of the first problem.
 */
export function parseStrictYaml(text: string, fileName: string, limits: PlanesFileLimits = PLANES_FILE_LIMITS): StrictYaml {
  const lines = new LineCounter();
  const at = (offset: number): string => {
    const p = lines.linePos(offset);
    return `${fileName}:${p.line}:${p.col}`;
  };
  const tokens = tokenize(text, lines, limits, at);
  const doc = [...new Composer({ uniqueKeys: false, version: '1.2' }).compose(tokens, true, text.length)][0] as Document.Parsed;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) fail(at(problem.pos[0]), yamlProblem(problem));
  checkValues(doc, limits, at, (offset) => lines.linePos(offset).line);
  return { doc, at };
}

/** The parser's complaint in our words where we know it, otherwise its first line. */
function yamlProblem(e: YAMLError): string {
  switch (e.code) {
    case 'BAD_ALIAS':
      return 'this alias names no anchor (&name) defined before it';
    case 'TAG_RESOLVE_FAILED':
      return 'this tag is not one planes.yaml takes';
    case 'KEY_OVER_1024_CHARS':
      return 'a key written without "? " may be at most 1024 characters';
    default:
      return `this is not valid YAML: ${oneLine(e.message.split('\n')[0] ?? '')}`;
  }
}

/**
 * The token tree, built one lexeme at a time so that whatever passes a limit
 * stops the parser where it is, before the rest of the file costs anything:
 * "[[[[..." costs a parser frame per byte, and the tree itself about 300 bytes
 * per token. Also refused here, where they are written: directives other than
 * %YAML 1.2, tags other than YAML's core ones, and a second document.
 */
function tokenize(text: string, lines: LineCounter, limits: PlanesFileLimits, at: (offset: number) => string): CST.Token[] {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // as Parser.parse() does for a source it starts
  const tokens: CST.Token[] = [];
  let documents = 0;
  // Nodes as written (scalars and keys, aliases, flow collections): a lower bound of what checkValues counts, known early.
  let written = 0;
  let aliases = 0;
  let scalarNext = false;
  for (const lexeme of new Lexer().lex(text)) {
    const here = (): string => at(parser.offset); // before next(): where this lexeme starts
    if (scalarNext) {
      scalarNext = false; // a scalar's own text: whatever it starts with is not syntax
    } else if (lexeme === CST.SCALAR || lexeme === '[' || lexeme === '{' || /^["'*]/.test(lexeme)) {
      scalarNext = lexeme === CST.SCALAR;
      if (++written > limits.maxValues) fail(here(), tooManyValues(limits));
      if (lexeme.startsWith('*') && ++aliases > limits.maxAliases) fail(here(), `this is alias number ${aliases}; a planes.yaml may use at most ${limits.maxAliases} aliases (*name)`);
    } else if (lexeme.startsWith('!')) {
      if (!coreTag(lexeme)) fail(here(), `the tag ${quote(lexeme)} is not allowed; a planes.yaml holds plain values, and takes only YAML's core tags (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)`);
    } else if (lexeme.startsWith('%')) {
      if (!/^%YAML[ \t]+1\.2[ \t]*$/.test(lexeme.trim())) fail(here(), `the directive ${quote(lexeme.trim())} is not allowed; a planes.yaml may only start with %YAML 1.2`);
    } else if (lexeme === '\n' && lines.lineStarts.length > limits.maxLines) {
      fail(here(), `the file has more than ${limits.maxLines} lines; a planes.yaml may have at most ${limits.maxLines}`);
    }
    for (const t of parser.next(lexeme)) {
      tokens.push(t);
      if (t.type === 'document') documents++;
    }
    const first = parser.stack[0];
    if (documents > 0 && first?.type === 'document') fail(at(first.offset), SECOND_DOCUMENT);
    if (parser.stack.length > limits.maxDepth) {
      const deepest = parser.stack.filter((t) => COLLECTIONS.has(t.type))[limits.maxDepth];
      if (deepest) fail(at(deepest.offset), `this is nested ${limits.maxDepth + 1} levels deep; a planes.yaml may nest mappings and lists at most ${limits.maxDepth} levels deep`);
    }
  }
  for (const t of parser.end()) {
    tokens.push(t);
    if (t.type === 'document' && ++documents > 1) fail(at(t.offset), SECOND_DOCUMENT);
  }
  return tokens;
}

function coreTag(source: string): boolean {
  if (source === '!') return true; // the non-specific tag: a plain string
  const m = /^!!([a-z]+)$/.exec(source) ?? /^!<tag:yaml\.org,2002:([a-z]+)>$/.exec(source);
  return m?.[1] !== undefined && CORE_TAGS.has(m[1]);
}

/**
 * One walk over the composed document with aliases expanded: counts values
 * against the budget, follows nesting through aliases, refuses an alias inside
 * what it names, duplicate and prototype keys, non-scalar keys and numbers
 * JSON cannot carry (.inf, .nan).
 */
function checkValues(doc: Document.Parsed, limits: PlanesFileLimits, at: (offset: number) => string, lineOf: (offset: number) => number): void {
  const anchors = new Map<string, Node>();
  const path: Array<string | number> = [];
  const open = new Set<Node>();
  let values = 0;
  /** The outermost alias being expanded: where a budget or depth problem is reported. */
  let aliasAt: number | undefined;
  const offsetOf = (n: unknown): number => (n as { range?: [number] } | null)?.range?.[0] ?? 0;
  const here = (): string => {
    const p = path.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc === '' ? s : `${acc}.${s}`), '');
    return p === '' ? '(top level)' : oneLine(p);
  };

  const count = (node: unknown): void => {
    if (++values > limits.maxValues) {
      fail(
        at(aliasAt ?? offsetOf(node)),
        aliasAt === undefined
          ? tooManyValues(limits)
          : `expanding this alias takes the file past ${limits.maxValues} values; a planes.yaml may hold at most ${limits.maxValues}, aliases expanded`,
      );
    }
  };

  const visit = (node: unknown, depth: number): void => {
    count(node);
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) return; // composing already refused an alias without an anchor
      if (open.has(target)) fail(at(offsetOf(node)), `${here()}: the alias *${oneLine(node.source, 60)} is inside what it names, which would never end`);
      const outer = aliasAt === undefined;
      if (outer) aliasAt = offsetOf(node);
      visit(target, depth);
      if (outer) aliasAt = undefined;
      return;
    }
    const n = node as Node | null;
    if (n?.anchor !== undefined && aliasAt === undefined) anchors.set(n.anchor, n);
    if (isScalar(n)) {
      if (typeof n.value === 'number' && !Number.isFinite(n.value)) fail(at(offsetOf(n)), `${here()}: ${oneLine(String(n.source ?? n.value), 40)} is not a finite number; the hub takes finite numbers only`);
      return;
    }
    if (!isMap(n) && !isSeq(n)) return;
    if (depth + 1 > limits.maxDepth) fail(at(aliasAt ?? offsetOf(n)), `${here()}: with its aliases expanded this nests more than ${limits.maxDepth} levels deep, the most a planes.yaml may`);
    open.add(n);
    if (isSeq(n)) {
      n.items.forEach((item, i) => {
        path.push(i);
        visit(item, depth + 1);
        path.pop();
      });
    } else {
      const seen = new Map<string, Node>();
      for (const pair of n.items) {
        const key = pair.key as Node | null;
        if (!isScalar(key) || key.value === null) fail(at(offsetOf(key ?? pair.value ?? n)), `${here()}: a key must be a name, not ${key === null || isScalar(key) ? 'empty' : 'a mapping, list or alias'}`);
        count(key);
        const name = String((key as { value: unknown }).value);
        path.push(name);
        const first = seen.get(name);
        if (first !== undefined) fail(at(offsetOf(key)), `${here()}: the key ${quote(name)} is already in this mapping (line ${lineOf(offsetOf(first))}); each key may appear once`);
        seen.set(name, key as Node);
        if (name === '__proto__' || (name === 'prototype' && path.at(-2) === 'constructor')) {
          fail(at(offsetOf(key)), `${here()}: ${quote(name)} is not allowed as a key: merged into the hub's objects it would reach their prototype`);
        }
        visit(pair.value, depth + 1);
        path.pop();
      }
    }
    open.delete(n);
  };
  visit(doc.contents, 0);
}
