import type { FastifyRequest } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';

/** The largest request body, unless a route says otherwise (BODY_LIMITS). */
export const MAX_BODY_BYTES = 256 * 1024;
/** How deep objects and arrays may nest in a body: configOverrides and command args are free-form. */
export const MAX_JSON_DEPTH = 32;
/** Routes whose bodies are larger by nature: a whole planes.yaml document, a clone's own SOUL.md (up to 256 Ki characters). */
export const BODY_LIMITS = { planesDocument: 4 * 1024 * 1024, clone: 1024 * 1024 } as const;

const invalid = (message: string, where: string): PlaneError => new PlaneError(ErrorCode.InvalidArgument, message, { where });

/**
 * Fails at the first bracket that opens deeper than `max`, before JSON.parse
 * builds anything: a 256 KiB body of "[[[[..." is 260,000 levels, and what
 * walks a value later (JSON.stringify, merges) recurses.
 */
function checkDepth(text: string, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) throw invalid(`the body nests objects and arrays more than ${max} deep (at character ${i})`, 'body');
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

const key = (path: string, k: string): string => (/^[A-Za-z_$][\w$-]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);

/** JSON.parse turns a number too large for a double (1e999) into Infinity; the schemas cannot see that. */
function checkValues(v: unknown, path: string): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalid(`${path} is not a finite number`, path);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => checkValues(x, `${path}[${i}]`));
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      // A key that would reach an object's prototype when merged (configOverrides are merged over OpenClaw's config).
      if (k === '__proto__' || (k === 'constructor' && x !== null && typeof x === 'object' && 'prototype' in x)) throw invalid(`${key(path, k)} is a forbidden key`, key(path, k));
      checkValues(x, key(path, k));
    }
  }
}

/** A request body: JSON, nested at most `MAX_JSON_DEPTH` deep, with finite numbers and no prototype keys. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw invalid('the request body is empty: send a JSON object ({} when there are no fields)', 'body');
  checkDepth(text, MAX_JSON_DEPTH);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(`request body is not valid JSON: ${(err as Error).message}`, 'body');
  }
  checkValues(value, 'body');
  return value;
}

interface PropertySchema {
  type?: string;
}

/**
 * Query strings are parsed strictly, before the schema sees them (Ajv's own
 * coercion takes "1e999", "0x10" and " 7" as numbers, and "Infinity" as an
 * integer): an integer is digits with an optional minus, a boolean is true or
 * false. A route with no query schema takes no query parameters.
 */
function parseQuery(req: FastifyRequest): void {
  const search = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  for (const part of search.split('&')) {
    try {
      decodeURIComponent(part);
    } catch {
      throw invalid('the query string is not valid: a %-escape does not decode to UTF-8', 'querystring');
    }
  }
  const query = req.query as Record<string, unknown>;
  const props = (req.routeOptions.schema?.querystring as { properties?: Record<string, PropertySchema> } | undefined)?.properties;
  for (const [k, v] of Object.entries(query)) {
    const where = `querystring.${k}`;
    if (!props) throw invalid(`${where} is not a known parameter: ${req.method} ${req.routeOptions.url ?? ''} takes none`, where);
    const type = props[k]?.type;
    if (typeof v !== 'string' || type === undefined || type === 'string') continue; // a repeated or unknown key fails the schema
    if (type === 'integer') {
      if (!/^-?(0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(Number(v))) throw invalid(`${where} must be a whole number written in digits, not ${JSON.stringify(v.slice(0, 40))}`, where);
      query[k] = Number(v);
    } else if (type === 'number') {
      if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(v) || !Number.isFinite(Number(v))) throw invalid(`${where} must be a decimal number, not ${JSON.stringify(v.slice(0, 40))}`, where);
      query[k] = Number(v);
    } else if (type === 'boolean') {
      if (v !== 'true' && v !== 'false') throw invalid(`${where} must be true or false, not ${JSON.stringify(v.slice(0, 40))}`, where);
      query[k] = v === 'true';
    }
  }
}

const isEmptyObject = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;

/**
 * Runs before schema validation: strict query parsing, and the body rule: a
 * route with a body schema needs a JSON object body ({} when no field is
 * given); a route without one takes no fields, so no body or {}.
 */
export async function checkRequestInput(req: FastifyRequest): Promise<void> {
  if (req.is404) return;
  parseQuery(req);
  const route = `${req.method} ${req.routeOptions.url ?? ''}`;
  const wantsBody = req.routeOptions.schema?.body !== undefined;
  if (wantsBody && req.body === undefined) throw invalid(`${route} needs a JSON object body (content-type: application/json); send {} when there are no fields`, 'body');
  if (!wantsBody && req.body !== undefined && !isEmptyObject(req.body)) throw invalid(`${route} takes no fields: send no body, or {}`, 'body');
}
