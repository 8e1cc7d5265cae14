import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { findDatabases } from './db-snapshot.ts';

/**
 * Moves what a restore would overwrite (the workspace, and the databases the
 * snapshot has or the machine has) aside under <syncDir>/displaced/<time>/,
 * so nothing local is lost. Keeps the last 3. Returns where, or undefined when
 * there was nothing to move.
 */
export async function displace(o: { syncDir: string; workspace: string; dbDir: string; databases: readonly string[]; log: Logger }): Promise<string | undefined> {
  const dbs = new Set([...o.databases, ...(await findDatabases(o.dbDir))]);
  const workspaceHasFiles = (await fs.readdir(o.workspace).catch(() => [])).length > 0;
  if (!workspaceHasFiles && ![...dbs].some((d) => existsSync(join(o.dbDir, d)))) return undefined;
  const root = join(o.syncDir, 'displaced');
  const dest = join(root, new Date().toISOString().replace(/[:.]/g, '-'));
  ensureDir(dest, 0o700);
  if (workspaceHasFiles) await move(o.workspace, join(dest, 'workspace'));
  for (const d of dbs) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      const from = join(o.dbDir, d + suffix);
      if (await exists(from)) {
        await fs.mkdir(join(dest, 'databases', d, '..'), { recursive: true });
        await move(from, join(dest, 'databases', d + suffix));
      }
    }
  }
  const all = (await fs.readdir(root)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - 3))) await fs.rm(join(root, old), { recursive: true, force: true });
  o.log.warn('moved local brain aside before restoring', { to: dest });
  return dest;
}

/** Removes what a failed restore attempt wrote (the workspace and these databases): it all came from the bucket. */
export async function clearRestored(workspace: string, dbDir: string, databases: readonly string[]): Promise<void> {
  await fs.rm(workspace, { recursive: true, force: true });
  ensureDir(workspace, 0o700);
  for (const d of databases) for (const suffix of ['', '-wal', '-shm', '-journal']) await fs.rm(join(dbDir, d + suffix), { force: true });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** rename, or copy and remove across filesystems. */
async function move(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await fs.cp(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await fs.rm(from, { recursive: true, force: true });
  }
}
