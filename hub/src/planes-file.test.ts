import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PlaneError } from '../../common/src/errors.ts';
import { parsePlanesFile } from './planes-file.ts';

const example = readFileSync(new URL('../../examples/planes.yaml', import.meta.url), 'utf8');

function errorOf(text: string): PlaneError {
  try {
    parsePlanesFile(text, 'planes.yaml');
  } catch (err) {
    return err as PlaneError;
  }
  throw new Error('expected an error');
}

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function position(text: string, needle: string): string {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

describe('planes.yaml', () => {
  it('parses the shipped example', () => {
    const f = parsePlanesFile(example, 'examples/planes.yaml');
    expect(f.metadata.name).toBe('acme-agents');
    expect(f.spec.agents.map((a) => a.name)).toEqual(['alice-agent', 'bob-agent', 'carol-agent']);
    expect(f.spec.policies?.length).toBeGreaterThan(0);
  });

  it('names file:line:column, the YAML path and the allowed values of a bad enum', () => {
    const bad = example.replace('modelTier: haiku', 'modelTier: gpt5');
    const e = errorOf(bad);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toBe(`planes.yaml:${position(bad, 'modelTier: gpt5')} spec.agents[2].modelTier: must be one of haiku|sonnet|opus`);
    expect(e.where).toBe(`planes.yaml:${position(bad, 'modelTier: gpt5')}`);
  });

  it('points at a bad value by its key', () => {
    const bad = example.replace('owner: bob@acme.example', 'owner: not-an-email');
    expect(errorOf(bad).message).toMatch(new RegExp(`^planes.yaml:${position(bad, 'owner: not-an-email')} spec\\.agents\\[1\\]\\.owner: must be an email address`));
  });

  it('rejects unknown keys, naming them where they are', () => {
    const bad = example.replace('      modelTier: haiku', '      modelTeir: haiku');
    expect(errorOf(bad).message).toBe(`planes.yaml:${position(bad, 'modelTeir')} spec.agents[2].modelTeir: is not a known field`);
  });

  it('names a missing required field at its parent', () => {
    const bad = example.replace('    - name: carol-agent\n      owner: carol@acme.example\n', '    - name: carol-agent\n');
    expect(errorOf(bad).message).toBe(`planes.yaml:${position(bad, 'name: carol-agent')} spec.agents[2].owner: is required`);
  });

  it('refuses an agent listed twice, pointing at the second', () => {
    const bad = example.replace('name: carol-agent', 'name: alice-agent');
    const at = bad.lastIndexOf('name: alice-agent');
    const line = bad.slice(0, at).split('\n').length;
    expect(errorOf(bad).message).toBe(`planes.yaml:${line}:7 spec.agents[2].name: 'alice-agent' is already listed at spec.agents[0]`);
  });

  it('refuses a policy that matches on nothing, and a malformed OU', () => {
    expect(errorOf(example.replace('ou: /Sales\n', 'ou: Sales\n')).message).toMatch(/spec\.policies\[\d\]\.match\.ou: must match pattern/);
    expect(errorOf(example.replace(/match:\n\s+ou: \/Sales/, 'match: {}')).message).toMatch(/spec\.policies\[\d\]\.match: must NOT have fewer than 1 properties/);
  });

  it('reports YAML syntax errors with a line and column', () => {
    expect(errorOf('apiVersion: [unclosed\n').message).toMatch(/^planes.yaml:\d+:\d+ /);
    expect(errorOf('- just\n- a list\n').message).toMatch(/^planes.yaml:1:1 expected a mapping at the top level/);
    expect(errorOf('a: 1\na: 2\n').message).toBe("planes.yaml:2:1 a: the key 'a' is already in this mapping (line 1); each key may appear once");
  });
});

describe('the published JSON Schema (schemas/planes.schema.json)', () => {
  it('accepts the example and refuses what the CLI refuses, as an editor using it would', async () => {
    const { Ajv } = await import('ajv');
    const { parse } = await import('yaml');
    const schema = JSON.parse(readFileSync(new URL('../../schemas/planes.schema.json', import.meta.url), 'utf8')) as object;
    const check = new Ajv({ strict: false, allErrors: true }).compile(schema);
    expect(check(parse(example)), JSON.stringify(check.errors)).toBe(true);
    expect(check(parse(example.replace('modelTier: haiku', 'modelTier: gpt5')))).toBe(false);
    expect(check(parse(example.replace('budgetCap: 25', 'budgetCap: null')))).toBe(true);
    expect(check(parse(example.replace('      modelTier: haiku', '      modelTeir: haiku')))).toBe(false);
    expect(example.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/planes.schema.json');
  });
});
