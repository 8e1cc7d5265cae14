import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EMAIL_PATTERN, EMAIL_RULE } from './email.ts';
import { ErrorCode, PlaneError } from './errors.ts';

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();

/** "/spec/agents/0/name" -> "spec.agents[0].name" */
export function jsonPointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`), '');
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export function describeAjvError(e: ErrorObject): ValidationIssue {
  let path = jsonPointerToPath(e.instancePath);
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    path = path === '' ? extra : `${path}.${extra}`;
    message = 'is not a known field';
  } else if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    path = path === '' ? missing : `${path}.${missing}`;
    message = 'is required';
  } else if (e.keyword === 'pattern' && (e.params as { pattern: string }).pattern === EMAIL_PATTERN) {
    message = EMAIL_RULE;
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return { path, message };
}

/**
 * Ajv's errors as issues, one per problem: a value that must be one of a union of
 * constants ("haiku" | "sonnet" | "opus") gives one "must be one of haiku|sonnet|opus"
 * instead of a "must be equal to constant" per branch and an anyOf failure.
 */
export function summariseAjvErrors(errors: readonly ErrorObject[]): ValidationIssue[] {
  const constsAt = new Map<string, unknown[]>();
  for (const e of errors) {
    if (e.keyword === 'const') constsAt.set(e.instancePath, [...(constsAt.get(e.instancePath) ?? []), (e.params as { allowedValue: unknown }).allowedValue]);
  }
  const out: ValidationIssue[] = [];
  const done = new Set<string>();
  for (const e of errors) {
    const allowed = constsAt.get(e.instancePath);
    if (allowed && (e.keyword === 'const' || e.keyword === 'anyOf')) {
      if (done.has(e.instancePath)) continue;
      done.add(e.instancePath);
      out.push({ path: jsonPointerToPath(e.instancePath), message: allowed.length > 1 ? `must be one of ${allowed.map(String).join('|')}` : `must be ${String(allowed[0])}` });
      continue;
    }
    out.push(describeAjvError(e));
  }
  return out;
}

/**
 * Validates `value` against a TypeBox schema (filling defaults in place) and
 * returns it typed; otherwise throws one PlaneError naming the first bad field,
 * with every issue in `cause`.
 */
export function validate<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (fn(value)) return value;
  const issues = summariseAjvErrors(fn.errors ?? []);
  const first = issues[0] ?? { path: '', message: 'is invalid' };
  const at = first.path === '' ? what : `${what}: ${first.path}`;
  throw new PlaneError(ErrorCode.InvalidArgument, `${at} ${first.message}`, { where: first.path, cause: issues });
}
