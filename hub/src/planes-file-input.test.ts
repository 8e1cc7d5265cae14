import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PlaneError } from '../../common/src/errors.ts';
import { baseFile, fuzzCases, hostileCases } from '../../test/helpers/hostile-yaml.ts';
import { PLANES_FILE_LIMITS, type PlanesFileLimits } from './planes-file-input.ts';
import { parsePlanesFileBytes, parsePlanesFileWithSource, readPlanesFile } from './planes-file.ts';

const base = baseFile(readFileSync(new URL('../../examples/planes.yaml', import.meta.url), 'utf8'), 'hostile');
const dir = mkdtempSync(join(tmpdir(), 'planes-file-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(run: () => unknown): PlaneError {
  try {
    run();
  } catch (err) {
    return err as PlaneError;
  }
  throw new Error('expected the file to be refused');
}

describe('hostile planes.yaml, parsed in-process', () => {
  it('the base file is accepted', () => {
    expect(parsePlanesFileWithSource(base, 'planes.yaml').file.metadata.name).toBe('hostile');
  });

  for (const c of hostileCases(base).filter((x) => !x.viaStdin)) {
    it(`refuses ${c.name} at line ${c.line}, in one line of our own words`, () => {
      const path = join(dir, 'planes.yaml');
      if (c.write) c.write(path);
      else writeFileSync(path, c.bytes as Buffer);
      const e = refusal(() => readPlanesFile(path));
      expect(e.code).toBe('invalid_argument');
      expect(e.message).toMatch(new RegExp(`^${path}:${c.line}:\\d+ `));
      expect(e.message).toMatch(c.says);
      expect(e.message).not.toMatch(/\n/);
      expect(e.message).not.toMatch(/YAML\.parse|please use|resource exhaustion|Cannot read properties/);
      expect(e.where).toMatch(new RegExp(`^${path}:${c.line}:\\d+$`));
    });
  }

  it('refuses 150 seeded random variations, each at its line', () => {
    const seed = Number(process.env['PLANES_FUZZ_SEED'] ?? 13);
    for (const c of fuzzCases(base, seed, 150)) {
      const e = refusal(() => parsePlanesFileBytes(c.bytes as Buffer, 'planes.yaml'));
      expect(`${c.name}: ${e.message}`).toMatch(new RegExp(`^${escape(c.name)}: planes\\.yaml:${c.line}:\\d+ [^\\n]*$`));
      expect(`${c.name}: ${e.message}`).toMatch(c.says);
    }
  }, 180_000);
});

describe('the limits', () => {
  const limits = (over: Partial<PlanesFileLimits>): PlanesFileLimits => ({ ...PLANES_FILE_LIMITS, ...over });
  const withOverrides = (yaml: string): string => base.replace('channels: [slack]\n', `channels: [slack]\n      configOverrides: ${yaml}\n`);
  const parse = (text: string, over: Partial<PlanesFileLimits>): unknown => parsePlanesFileWithSource(text, 'p.yaml', limits(over));

  it('size: a file of exactly the limit is read, one byte more is not', () => {
    const path = join(dir, 'limit.yaml');
    const max = base.length + 10;
    writeFileSync(path, base.padEnd(max, '#'));
    expect(readPlanesFile(path, limits({ maxBytes: max })).file.spec.agents).toHaveLength(3);
    writeFileSync(path, base.padEnd(max + 1, '#'));
    expect(refusal(() => readPlanesFile(path, limits({ maxBytes: max }))).message).toBe(`${path}:1:1 the file is ${max + 1} bytes (${max + 1} bytes); a planes.yaml may be at most ${max} bytes (${max} bytes), so nothing was read`);
  });

  it('lines: a file of exactly maxLines lines is read, one more is not', () => {
    const lines = base.split('\n').length - 1; // the base ends with a newline
    expect(() => parse(base, { maxLines: lines })).not.toThrow();
    expect(refusal(() => parse(`${base}# one more\n`, { maxLines: lines })).message).toBe(`p.yaml:${lines + 1}:11 the file has more than ${lines} lines; a planes.yaml may have at most ${lines}`);
  });

  it('aliases: at most maxAliases', () => {
    expect(() => parse(withOverrides('{a: &v 1, b: *v, c: *v}'), { maxAliases: 2 })).not.toThrow();
    expect(refusal(() => parse(withOverrides('{a: &v 1, b: *v, c: *v, d: *v}'), { maxAliases: 2 })).message).toMatch(/^p\.yaml:\d+:\d+ this is alias number 3; a planes.yaml may use at most 2 aliases/);
  });

  it('depth: configOverrides is level 5, so with maxDepth 6 one list below it fits and two do not', () => {
    expect(() => parse(withOverrides('{x: [1]}'), { maxDepth: 6 })).not.toThrow();
    expect(refusal(() => parse(withOverrides('{x: [[1]]}'), { maxDepth: 6 })).message).toMatch(/nested 7 levels deep; a planes.yaml may nest mappings and lists at most 6 levels deep$/);
    // Through an alias: the list is shallow where it is written, too deep where it is used.
    expect(refusal(() => parse(withOverrides('{x: &l [1], y: {z: *l}}'), { maxDepth: 6 })).message).toMatch(/configOverrides\.y\.z: with its aliases expanded this nests more than 6 levels deep/);
  });

  it('values: counted with aliases expanded', () => {
    const list = `&l [${Array(100).fill(1).join(', ')}]`;
    expect(() => parse(withOverrides(`{x: ${list}, y: [${Array(5).fill('*l').join(', ')}]}`), { maxValues: 1000 })).not.toThrow();
    expect(refusal(() => parse(withOverrides(`{x: ${list}, y: [${Array(10).fill('*l').join(', ')}]}`), { maxValues: 1000 })).message).toMatch(/expanding this alias takes the file past 1000 values/);
  });
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
