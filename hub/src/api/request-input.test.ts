import { describe, expect, it } from 'vitest';
import { PlaneError } from '../../../common/src/errors.ts';
import { MAX_JSON_DEPTH, parseJsonBody } from './request-input.ts';

const refusal = (text: string): { message: string; where: string | undefined } => {
  try {
    parseJsonBody(text);
  } catch (err) {
    expect(err).toBeInstanceOf(PlaneError);
    return { message: (err as PlaneError).message, where: (err as PlaneError).where };
  }
  throw new Error(`accepted ${text.slice(0, 60)}`);
};

describe('parseJsonBody', () => {
  const nest = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('takes nesting up to the limit and refuses one level more, before parsing', () => {
    expect(parseJsonBody(nest(MAX_JSON_DEPTH))).toBeInstanceOf(Array);
    expect(refusal(nest(MAX_JSON_DEPTH + 1))).toEqual({ message: `the body nests objects and arrays more than ${MAX_JSON_DEPTH} deep (at character ${MAX_JSON_DEPTH})`, where: 'body' });
    // 260,000 levels: refused at the 33rd bracket, never handed to JSON.parse.
    expect(refusal('['.repeat(260_000)).where).toBe('body');
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const brackets = '[{'.repeat(100);
    expect(parseJsonBody(JSON.stringify({ s: brackets, t: `"\\${brackets}` }))).toEqual({ s: brackets, t: `"\\${brackets}` });
  });

  it('refuses numbers a double cannot hold, naming where they are', () => {
    expect(refusal('{"a":{"b":[1,1e999]}}')).toEqual({ message: 'body.a.b[1] is not a finite number', where: 'body.a.b[1]' });
    expect(refusal('{"odd key":-1e400}').where).toBe('body["odd key"]');
    expect(parseJsonBody('{"a":1e308,"b":-0.5}')).toEqual({ a: 1e308, b: -0.5 });
  });

  it('refuses keys that reach a prototype when merged', () => {
    expect(refusal('{"configOverrides":{"__proto__":{"x":1}}}')).toEqual({ message: 'body.configOverrides.__proto__ is a forbidden key', where: 'body.configOverrides.__proto__' });
    expect(refusal('{"constructor":{"prototype":{}}}').where).toBe('body.constructor');
    expect(parseJsonBody('{"constructor":"fine"}')).toEqual({ constructor: 'fine' });
  });

  it('says what is wrong with an empty body or bad JSON', () => {
    expect(refusal('  ').message).toMatch(/^the request body is empty: send a JSON object/);
    expect(refusal('{"a":').message).toMatch(/^request body is not valid JSON: /);
  });
});
