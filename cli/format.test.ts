import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { colour, displayWidth, table } from './format.ts';

/** Where each cell of a printed table starts on the terminal, column by column. */
function starts(text: string, cells: string[][]): number[][] {
  return stripVTControlCharacters(text)
    .split('\n')
    .map((line, i) => {
      let from = 0;
      return (cells[i] ?? []).map((c) => {
        const visible = stripVTControlCharacters(c);
        const at = line.indexOf(visible, from);
        from = at + visible.length;
        return displayWidth(line.slice(0, at));
      });
    });
}

describe('table', () => {
  it('lines columns up on a terminal when a cell is coloured', () => {
    const headers = ['AGENT', 'HEALTH', 'REASON'];
    const rows = [
      ['a1', colour('green', true), 'ok'],
      ['a2', colour('yellow', true), 'paused'],
      ['a3', 'unknown', 'no heartbeat yet'],
    ];
    const out = table(headers, rows);
    expect(out).toContain('\x1b[32mgreen\x1b[0m');
    const at = starts(out, [headers, ...rows]);
    for (const line of at) expect(line).toEqual(at[0]);
    expect(at[0]).toEqual([0, 7, 16]);
  });

  it('counts wide characters as two columns and colour codes as none', () => {
    expect(displayWidth(colour('red', true))).toBe(3);
    expect(displayWidth('张伟@example.cn')).toBe(15);
    const rows = [
      ['张伟@example.cn', 'green'],
      ['bob@example.com', 'red'],
    ];
    const at = starts(table(['OWNER', 'HEALTH'], rows), [['OWNER', 'HEALTH'], ...rows]);
    expect(at).toEqual([
      [0, 17],
      [0, 17],
      [0, 17],
    ]);
  });

  it('pads nothing after the last column', () => {
    expect(table(['A', 'B'], [['x', '']])).toBe('A  B\nx');
  });
});
