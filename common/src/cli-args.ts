import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCode, PlaneError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs with our error type: an unknown flag is a usage error naming the flag. */
export function parseFlags<O extends Options>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new PlaneError(ErrorCode.InvalidArgument, (err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''), { cause: err });
  }
}

export function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new PlaneError(ErrorCode.InvalidArgument, `--${name} must be a whole number, got '${value}'`, { where: `--${name}` });
  return n;
}

/** "host:port" -> parts; port 0 means "any free port". */
export function hostPortFlag(value: string | undefined, name: string): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new PlaneError(ErrorCode.InvalidArgument, `--${name} must be host:port, got '${value}'`, { where: `--${name}` });
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
