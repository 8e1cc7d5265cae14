import { promises as fs, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';
import { brainPathProblem } from '../../../common/src/brain/brain-paths.ts';

/**
 * What crosses to the bucket from the workspace, and what never does.
 * Never: credentials, env files, secrets, live SQLite files and their
 * -wal/-shm/-journal, tmp, caches, logs, media, dependency trees, the
 * workspace's own .git (snapshots are the history). Symlinks, devices, FIFOs
 * and sockets are skipped, never followed; so are files over the size limit.
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

export interface Skipped {
  path: string;
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

/** Classifies one lstat result: null when the file syncs, else the reason it is skipped. */
export function skipReason(rel: string, st: Stats, options: ScanOptions): string | null {
  const problem = brainPathProblem(rel);
  if (problem) return problem;
  if (st.isSymbolicLink()) return 'symlink (not followed)';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device file';
  if (!st.isFile()) return 'not a regular file';
  if (st.size > options.maxFileBytes) return `larger than the ${options.maxFileBytes}-byte limit (${st.size} bytes)`;
  return excludedReason(rel, false);
}

/**
 * Walks a directory without following links. Returns the files that sync and
 * the ones skipped (with why). Paths excluded by rule (credentials, .env, ...)
 * are left out of `skipped`: they are expected, not surprising.
 */
export async function scanTree(root: string, sub: string, options: ScanOptions): Promise<{ files: Map<string, ScanEntry>; skipped: Skipped[] }> {
  const files = new Map<string, ScanEntry>();
  const skipped: Skipped[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(rel ? join(root, rel) : root, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      skipped.push({ path: rel || '.', reason: `unreadable directory (${code ?? String(err)})` });
      return;
    }
    await Promise.all(
      entries.map(async (e) => {
        const childRel = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (excludedReason(childRel, true) || brainPathProblem(childRel)) return;
          await walk(childRel);
          return;
        }
        if (e.isFile() && excludedReason(childRel, false)) return;
        let st: Stats;
        try {
          st = await fs.lstat(join(root, childRel));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') skipped.push({ path: childRel, reason: `cannot stat (${code ?? String(err)})` });
          return;
        }
        const reason = skipReason(childRel, st, options);
        if (reason) {
          if (!excludedReason(childRel, false)) skipped.push({ path: childRel, reason });
          return;
        }
        files.set(childRel, { size: st.size, mode: st.mode & 0o777, mtimeMs: Math.floor(st.mtimeMs) });
      }),
    );
  };
  await walk(sub);
  return { files, skipped };
}
