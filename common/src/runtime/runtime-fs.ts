import { readFileSync } from 'node:fs';
import { ErrorCode, PlaneError } from '../errors.ts';

/** Small filesystem helpers shared by the runtime manager and its install lock. */

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Filesystem errors as PlaneErrors naming what was being done and where. */
export function fsError(err: unknown, what: string, where: string): PlaneError {
  if (err instanceof PlaneError) return err;
  const e = err as NodeJS.ErrnoException;
  const path = typeof e.path === 'string' ? e.path : where;
  const code =
    e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
      ? ErrorCode.PermissionDenied
      : e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.code === 'EMFILE'
        ? ErrorCode.Unavailable
        : ErrorCode.Internal;
  return new PlaneError(code, `${what}: ${e.message ?? String(err)}`, { cause: err, where: path });
}
