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

describe('planes.yaml', () => {
  it('parses the shipped example', () => {
    const f = parsePlanesFile(example, 'examples/planes.yaml');
    expect(f.metadata.name).toBe('acme-agents');
    expect(f.spec.agents.map((a) => a.name)).toEqual(['alice-agent', 'bob-agent', 'carol-agent']);
  });

  it('names the YAML path and line of a bad value', () => {
    const e = errorOf(example.replace('owner: bob@acme.example', 'owner: not-an-email'));
    expect(e.code).toBe('invalid_argument');
    const line = example.split('\n').findIndex((l) => l.includes('owner: bob@acme.example')) + 1;
    expect(e.message).toMatch(new RegExp(`^planes.yaml:${line}: spec.agents\\[1\\].owner `));
  });

  it('rejects unknown keys, naming them', () => {
    const e = errorOf(example.replace('      modelTier: haiku', '      modelTeir: haiku'));
    expect(e.message).toMatch(/spec\.agents\[2\]\.modelTeir is not a known field/);
  });

  it('reports YAML syntax errors with a line', () => {
    expect(errorOf('apiVersion: [unclosed\n').message).toMatch(/^planes.yaml:\d+: /);
    expect(errorOf('- just\n- a list\n').message).toMatch(/mapping at the top level/);
  });
});
