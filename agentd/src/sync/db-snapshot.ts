import Database from 'better-sqlite3';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * OpenClaw's SQLite databases, relative to its state dir: the global one and
 * one per agent. Found by walking `state/` and `agents/<id>/agent/`, never
 * `credentials/`.
 */
export async function findDatabases(stateDir: string): Promise<string[]> {
  const found: string[] = [];
  const take = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(join(stateDir, rel));
    } catch {
      return;
    }
    for (const n of names) if (/\.sqlite$/.test(n)) {
      const st = await fs.lstat(join(stateDir, rel, n)).catch(() => null);
      if (st?.isFile()) found.push(`${rel}/${n}`);
    }
  };
  await take('state');
  let agents: string[] = [];
  try {
    agents = await fs.readdir(join(stateDir, 'agents'));
  } catch {
    // no agents yet
  }
  for (const a of agents) if (!a.startsWith('.')) await take(`agents/${a}/agent`);
  return found.sort();
}

/**
 * A consistent copy of a live database through SQLite's online backup API
 * (the gateway may keep writing; the copy is one point in time). Never a copy
 * of the raw file with its WAL.
 */
export async function snapshotDatabase(source: string, dest: string): Promise<void> {
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(dest);
  } finally {
    db.close();
  }
  // The copy is a standalone file: no WAL beside it to lose.
  const copy = new Database(dest);
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}
