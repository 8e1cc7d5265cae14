/** Plain-text tables and human units for CLI output. */
import stringWidth from 'string-width';

/**
 * Columns a string takes on a terminal: colour codes take none, East Asian wide
 * characters and most emoji two (an owner's address may be in any script).
 */
export function displayWidth(s: string): number {
  return stringWidth(s);
}

/** Left-aligned columns two spaces apart, sized by what shows on the terminal, not by string length. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const line = (cells: string[]): string => cells.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(c)))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function ago(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

export function bytes(n: number | null | undefined): string {
  if (!n) return '-';
  if (n < 1024 * 1024) return `${Math.round(n / 1024)}K`;
  if (n < 1024 ** 3) return `${Math.round(n / 1024 / 1024)}M`;
  return `${(n / 1024 ** 3).toFixed(1)}G`;
}

const COLORS: Record<string, string> = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m' };

export function colour(health: string, tty: boolean): string {
  return tty && COLORS[health] ? `${COLORS[health]}${health}\x1b[0m` : health;
}
