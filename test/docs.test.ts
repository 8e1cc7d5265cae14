import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// A merge that left its conflict markers behind once reached docs/api.md; nothing tracked may carry them.
describe('tracked files', () => {
  it('carry no merge conflict markers', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(50);
    const marked = files.filter((f) => {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        return false; // deleted in the working tree
      }
      return /^<{7} /m.test(text) || /^>{7} /m.test(text);
    });
    expect(marked).toEqual([]);
  });
});
