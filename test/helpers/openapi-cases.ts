import { Ajv, type ValidateFunction } from 'ajv';

/** The parts of JSON Schema the hub's OpenAPI document uses. */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  enum?: unknown[];
}

export interface Operation {
  parameters?: Array<{ in: 'path' | 'query'; name: string; schema: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
}

/** A request body: JSON to send, or raw text (non-finite numbers, depth, bad JSON), and the content type. */
export interface BodyCase {
  label: string;
  text: string | undefined;
  contentType?: string;
}

/**
 * The oracle: the served schema, read strictly (no coercion; defaults filled,
 * as the hub does). A case it accepts is valid input and is not sent.
 */
export class Oracle {
  readonly #ajv = new Ajv({ strict: false, coerceTypes: false, useDefaults: true, allErrors: false });
  readonly #fns = new Map<Schema, ValidateFunction>();
  constructor() {
    this.#ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);
  }
  valid(schema: Schema, value: unknown): boolean {
    let fn = this.#fns.get(schema);
    if (!fn) {
      fn = this.#ajv.compile(schema);
      this.#fns.set(schema, fn);
    }
    return fn(structuredClone(value)) === true;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
type Path = Array<string | number>;
const show = (path: Path): string => path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${p}`), 'body');

function withValue(root: unknown, path: Path, value: unknown, remove = false): unknown {
  const copy = structuredClone(root);
  let node = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (remove) delete node[last];
  else node[last] = value;
  return copy;
}

/** Values of every JSON type, odd strings and numbers, and each bound of the schema passed by one. */
function wrongValues(s: Schema): unknown[] {
  const out: unknown[] = [true, null, 0, -1, 1.5, 1e308, -1e308, '', 'x', '5', 'true', [], ['x'], [1], {}, { x: 1 }];
  for (const b of [s, ...(s.anyOf ?? [])]) {
    if (b.maximum !== undefined) out.push(b.maximum + 1, b.maximum + 0.5);
    if (b.minimum !== undefined) out.push(b.minimum - 1);
    if (b.maxLength !== undefined) out.push('a'.repeat(b.maxLength + 1));
  }
  return out;
}

/** The branch of a union the valid value takes, so a walk goes on inside it. */
function branch(s: Schema, v: unknown, oracle: Oracle): Schema {
  return s.anyOf?.find((b) => oracle.valid(b, v)) ?? s;
}

const nest = (depth: number): string => `${'['.repeat(depth - 1)}{}${']'.repeat(depth - 1)}`;

/**
 * Every way to get one thing wrong in a valid body: each property set to a
 * value of another type or out of range, each required one left out, an extra
 * field in each closed object, 1e999 (JSON.parse makes it Infinity) in each
 * number, deep nesting and a prototype key in each free-form object. Cases the
 * oracle accepts are dropped.
 */
export function bodyCases(schema: Schema, valid: unknown, oracle: Oracle, maxDepth: number): BodyCase[] {
  const out: BodyCase[] = [];
  const json = (label: string, value: unknown): void => {
    if (!oracle.valid(schema, value)) out.push({ label, text: JSON.stringify(value) });
  };
  // Raw text at a path: the valid body with a placeholder there, replaced after serialising.
  const raw = (label: string, path: Path, text: string): void => {
    out.push({ label, text: JSON.stringify(withValue(valid, path, '\u0000RAW\u0000')).replace('"\\u0000RAW\\u0000"', text) });
  };
  const wrong = (s: Schema, path: Path): void => {
    for (const w of wrongValues(s)) json(`${show(path)} = ${JSON.stringify(w).slice(0, 40)}`, withValue(valid, path, w));
    if ([s, ...(s.anyOf ?? [])].some((b) => b.type === 'integer' || b.type === 'number')) for (const n of ['1e999', '-1e999']) raw(`${show(path)} = ${n}`, path, n);
  };
  const walk = (s0: Schema, v: unknown, path: Path, depth: number): void => {
    const s = branch(s0, v, oracle);
    if (!isObject(v) && !Array.isArray(v)) return;
    if (Array.isArray(v)) {
      if (!s.items) return;
      wrong(s.items, [...path, v.length]);
      if (v.length > 0) walk(s.items, v[0], [...path, 0], depth + 1);
      return;
    }
    for (const [k, ps] of Object.entries(s.properties ?? {})) {
      wrong(ps, [...path, k]);
      if (!(k in v)) continue;
      if (s.required?.includes(k)) json(`${show([...path, k])} missing`, withValue(valid, [...path, k], undefined, true));
      walk(ps, v[k], [...path, k], depth + 1);
    }
    if (s.additionalProperties === false) json(`${show([...path, 'unexpectedField'])} added`, withValue(valid, [...path, 'unexpectedField'], 1));
    else if (isObject(s.additionalProperties) && Object.keys(s.additionalProperties).length > 0) {
      // A map ({"e2-small": 0.02}): wrong values under a new key, and the walk goes on under the keys given.
      wrong(s.additionalProperties, [...path, 'newKey']);
      for (const k of Object.keys(v)) walk(s.additionalProperties, v[k], [...path, k], depth + 1);
    } else if (!s.properties) {
      // Free-form (configOverrides, command args): any JSON, but not too deep, finite, without prototype keys.
      raw(`${show(path)} nested 10,000 deep`, path, `{"a":${nest(10_000)}}`);
      raw(`${show(path)} nested ${maxDepth + 1} deep in the body`, path, `{"a":${nest(maxDepth + 1 - depth)}}`);
      raw(`${show(path)}.x = 1e999`, path, '{"x":1e999}');
      raw(`${show(path)}.__proto__`, path, '{"__proto__":{"polluted":true}}');
      raw(`${show(path)}.constructor.prototype`, path, '{"constructor":{"prototype":{"polluted":true}}}');
    }
  };
  walk(schema, valid, [], 1);
  const text = JSON.stringify(valid);
  out.push(
    { label: 'no body', text: undefined },
    { label: 'an empty body', text: '' },
    { label: 'body null', text: 'null' },
    { label: 'body []', text: '[]' },
    { label: 'body "x"', text: '"x"' },
    { label: 'body 1', text: '1' },
    { label: 'body that is not JSON', text: text.slice(0, -1) },
    { label: 'body nested 10,000 deep', text: nest(10_000) },
    { label: 'body with __proto__', text: `{"__proto__":{"polluted":true},${text.slice(1)}` },
    { label: 'valid JSON as text/plain', text, contentType: 'text/plain' },
    { label: 'valid JSON without a content type', text, contentType: '' },
  );
  return out;
}

/** Each query parameter given a value that is not what its schema says, or that parses leniently elsewhere. */
export function queryCases(params: Array<{ name: string; schema: Schema }>, oracle: Oracle): Array<{ label: string; query: string }> {
  const out: Array<{ label: string; query: string }> = [{ label: 'unknown parameter', query: 'unexpectedParam=1' }];
  for (const { name, schema } of params) {
    const values: string[] = ['', 'x'.repeat(300)];
    if (schema.type === 'integer' || schema.type === 'number') {
      values.push('1e999', 'Infinity', '-Infinity', 'NaN', '1.5', '0x10', ' 7', '7 ', '1e3', '+5', 'true', '99999999999999999999', '\u0663');
      if (schema.maximum !== undefined) values.push(String(schema.maximum + 1));
      if (schema.minimum !== undefined) values.push(String(schema.minimum - 1));
    } else if (schema.type === 'boolean') values.push('1', '0', 'yes', 'TRUE', 'True', 'on');
    else values.push('Not A Name!', 'yesterday', '%00', 'x'.repeat((schema.maxLength ?? 1000) + 1));
    for (const v of values) {
      const typed = schema.type === 'integer' && /^-?(0|[1-9]\d*)$/.test(v) ? Number(v) : schema.type === 'boolean' && /^(true|false)$/.test(v) ? v === 'true' : v;
      if (!oracle.valid(schema, typed)) out.push({ label: `${name}=${JSON.stringify(v.slice(0, 30))}`, query: `${name}=${encodeURIComponent(v)}` });
    }
    out.push({ label: `${name} given twice`, query: `${name}=1&${name}=2` }, { label: `${name} with a bad %-escape`, query: `${name}=%E0%A4%A` });
  }
  return out;
}
