/** Reading and checking a flag's value by its kind; each refusal names the flag and what it takes. */
import { ErrorCode, PlaneError } from '../common/src/errors.ts';
import { hostPortFlag } from '../common/src/cli-args.ts';
import type { Flag } from './verb.ts';

const usage = (f: Flag, message: string): PlaneError => new PlaneError(ErrorCode.InvalidArgument, message, { where: `--${f.name}` });

/** "a, b or c" */
export function oneOf(choices: readonly string[]): string {
  return choices.length < 2 ? choices.join('') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1) ?? ''}`;
}

/** The value of a flag given on the command line, as its kind says. */
export function readFlag(f: Flag, raw: string): unknown {
  switch (f.kind ?? 'string') {
    case 'int':
      // Digits only: 1e3, 0x10 and 7.0 are refused, as the hub refuses them in a query.
      if (!/^\d{1,15}$/.test(raw)) throw usage(f, `--${f.name} must be a whole number, got '${raw}'`);
      return Number(raw);
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'limit':
      if (!/^\d{1,6}%?$/.test(raw)) throw usage(f, `--${f.name} ${raw}: a whole number or a share like 25%`);
      return raw.endsWith('%') ? raw : Number(raw);
    case 'date':
      if (Number.isNaN(Date.parse(raw))) throw usage(f, `--${f.name} ${raw}: not a date/time (use ISO 8601, e.g. 2026-11-21T09:30:00Z)`);
      return new Date(Date.parse(raw)).toISOString();
    case 'host-port':
      return hostPortFlag(raw, f.name);
    default:
      if (f.choices && !f.choices.includes(raw)) throw usage(f, `--${f.name} must be ${oneOf(f.choices)}, got '${raw}'`);
      return raw;
  }
}

/** How a missing required flag is reported: "--plane is required", "-f planes.yaml is required". */
export function missingFlag(f: Flag): PlaneError {
  return f.short ? new PlaneError(ErrorCode.InvalidArgument, `-${f.short} ${f.value ?? ''} is required`, { where: `-${f.short}` }) : usage(f, `--${f.name} is required`);
}
