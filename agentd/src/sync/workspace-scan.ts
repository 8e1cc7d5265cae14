import { promises as fs, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';
import { brainPathProblem } from '../../../common/src/brain/brain-paths.ts';

/**
 * What crosses to the bucket from the workspace, and what never does.
 * Never: credentials, env files, secrets, live SQLite files and their
 * -wal/-shm/-journal, tmp, caches, logs, media, dependency trees, the
 * workspace's own .git (snapshots are the history). Symlinks, devices, FIFOs
 * and sockets are skipped, never followed; so are files over the size limit,
 * names that are not valid UTF-8 and paths too long to keep.
 */
const NEVER_DIRS = new Set(['credentials', '.git', 'tmp', '.tmp', 'cache', '.cache', 'logs', 'media', 'node_modules', '.venv', '__pycache__']);
const NEVER_FILE = [
  /^\.env(\..*)?$/,
  /\.env$/,
  /^secrets?\.(json|ya?ml|txt)$/i,
  /\.(sqlite|sqlite3|db)(-wal|-shm|-journal)?$/i,
  /-(wal|shm|journal)$/,
  /\.(log|tmp|swp|swx|pid|sock)$/i,
  /~$/,
  /^\.DS_Store$/,
  // agentd's own restore temp files
  /\.apb-[0-9a-f]+\.tmp$/,
];

export interface ScanEntry {
  size: number;
  mode: number;
  mtimeMs: number;
}

/** Why a workspace file is left out of the brain, as counted in heartbeats (SyncStatus.skipped_by_reason). */
export type SkipKind =
  | 'invalid-name'
  | 'unsafe-name'
  | 'path-too-long'
  | 'too-deep'
  | 'symlink'
  | 'fifo'
  | 'socket'
  | 'device'
  | 'not-regular'
  | 'too-large'
  | 'unreadable';

export interface Skipped {
  path: string;
  kind: SkipKind;
  /** The sentence logged and shown in `agentd status`. */
  reason: string;
}

export interface ScanOptions {
  maxFileBytes: number;
}

/** Why a workspace-relative path never syncs, or null if it may. */
export function excludedReason(rel: string, isDir: boolean): string | null {
  const parts = rel.split('/');
  const name = parts.at(-1) ?? '';
  const dirs = isDir ? parts : parts.slice(0, -1);
  const badDir = dirs.find((d) => NEVER_DIRS.has(d));
  if (badDir) return `inside ${badDir}/ (never synced)`;
  if (!isDir && NEVER_FILE.some((re) => re.test(name))) return 'never synced (secret, live database, log or temp file)';
  return null;
}

/** A path the brain cannot hold (too long, unsafe segments), as a skip; null when it is fine. */
export function pathSkip(rel: string, isDir: boolean): Omit<Skipped, 'path'> | null {
  const problem = brainPathProblem(rel);
  if (!problem) return null;
  const kind: SkipKind = problem.startsWith('path longer') ? 'path-too-long' : 'unsafe-name';
  return { kind, reason: isDir ? `${problem} (nothing under this directory syncs)` : problem };
}

/** Classifies one lstat result: null when the file syncs, else why it is left out. Rule exclusions are not skips. */
export function skipOf(rel: string, st: Stats, options: ScanOptions): Omit<Skipped, 'path'> | null {
  const bad = pathSkip(rel, false);
  if (bad) return bad;
  if (st.isSymbolicLink()) return { kind: 'symlink', reason: 'symlink (not followed)' };
  if (st.isFIFO()) return { kind: 'fifo', reason: 'FIFO' };
  if (st.isSocket()) return { kind: 'socket', reason: 'socket' };
  if (st.isBlockDevice() || st.isCharacterDevice()) return { kind: 'device', reason: 'device file' };
  if (!st.isFile()) return { kind: 'not-regular', reason: 'not a regular file' };
  if (st.size > options.maxFileBytes) return { kind: 'too-large', reason: `larger than the ${options.maxFileBytes}-byte limit (${st.size} bytes)` };
  return null;
}

/** A failed readdir/lstat/open as a skip: too deep for the system's path limits, or unreadable. */
export function errnoSkip(err: unknown, what: string): Omit<Skipped, 'path'> {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  if (code === 'ENAMETOOLONG' || code === 'ELOOP') return { kind: 'too-deep', reason: `${what} (${code}: too deep or too long for the file system's path limit)` };
  return { kind: 'unreadable', reason: `${what} (${code})` };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A name as UTF-8, or null when its bytes are not valid UTF-8 (Node would silently mangle them). */
function decodeName(raw: Buffer): string | null {
  try {
    return utf8.decode(raw);
  } catch {
    return null;
  }
}

/** Printable form of a name that is not UTF-8: ASCII kept, every other byte as \xNN. */
export function escapeName(raw: Buffer): string {
  let out = '';
  for (const b of raw) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * Walks a directory without following links, reading names as raw bytes.
 * Returns the files that sync and the ones left out (with why). Paths excluded
 * by rule (credentials, .env, ...) are not in `skipped`: they are expected, not
 * surprising.
 */
export async function scanTree(root: string, sub: string, options: ScanOptions): Promise<{ files: Map<string, ScanEntry>; skipped: Skipped[] }> {
  const files = new Map<string, ScanEntry>();
  const skipped: Skipped[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Dirent<Buffer>[];
    try {
      entries = await fs.readdir(rel ? join(root, rel) : root, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      skipped.push({ path: rel || '.', ...errnoSkip(err, 'unreadable directory') });
      return;
    }
    await Promise.all(
      entries.map(async (e) => {
        const name = decodeName(e.name);
        if (name === null) {
          const path = rel ? `${rel}/${escapeName(e.name)}` : escapeName(e.name);
          skipped.push({ path, kind: 'invalid-name', reason: e.isDirectory() ? 'directory name is not valid UTF-8 (nothing under it syncs)' : 'name is not valid UTF-8' });
          return;
        }
        const childRel = rel ? `${rel}/${name}` : name;
        if (e.isDirectory()) {
          if (excludedReason(childRel, true)) return;
          const bad = pathSkip(childRel, true);
          if (bad) skipped.push({ path: childRel, ...bad });
          else await walk(childRel);
          return;
        }
        if (excludedReason(childRel, false)) return;
        let st: Stats;
        try {
          st = await fs.lstat(join(root, childRel));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') skipped.push({ path: childRel, ...errnoSkip(err, 'cannot stat') });
          return;
        }
        const skip = skipOf(childRel, st, options);
        if (skip) skipped.push({ path: childRel, ...skip });
        else files.set(childRel, { size: st.size, mode: st.mode & 0o777, mtimeMs: Math.floor(st.mtimeMs) });
      }),
    );
  };
  await walk(sub);
  return { files, skipped };
}
