import { ErrorCode, PlaneError } from '../errors.ts';

/**
 * Paths inside a brain (workspace files, database names) are relative and
 * `/`-separated, with no empty, `.` or `..` segment, no NUL or backslash, and
 * at most 1024 bytes. Checked when a file is taken in and again when a
 * snapshot is read back, so a tampered or hostile manifest cannot write
 * outside the restore target.
 */
export function brainPathProblem(p: string): string | null {
  if (p === '') return 'empty path';
  if (Buffer.byteLength(p) > 1024) return 'path longer than 1024 bytes';
  if (p.startsWith('/')) return 'absolute path';
  if (p.includes('\0')) return 'NUL in path';
  if (p.includes('\\')) return 'backslash in path';
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'empty, . or .. segment';
  return null;
}

export function checkBrainPath(p: string): void {
  const problem = brainPathProblem(p);
  if (problem) throw new PlaneError(ErrorCode.FailedPrecondition, `unsafe path in snapshot: ${JSON.stringify(p)} (${problem})`, { where: p });
}

/** Memory files: MEMORY.md and markdown under memory/. */
export function isMemoryFile(rel: string): boolean {
  return rel === 'MEMORY.md' || (rel.startsWith('memory/') && rel.endsWith('.md'));
}
