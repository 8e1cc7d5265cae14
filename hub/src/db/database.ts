import Database from 'better-sqlite3';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { migrations } from './migrations.ts';

export type Db = Database.Database;

/**
 * Opens the hub database: WAL (readers never block the writer), foreign keys on,
 * synchronous=NORMAL (durable across process crashes; the last transactions may be
 * lost on power loss, which heartbeats tolerate and commands re-derive), and the
 * schema migrated to the newest version. A database newer than this binary is
 * refused rather than guessed at.
 */
export function openDatabase(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    db.close();
    throw new PlaneError(
      ErrorCode.FailedPrecondition,
      `hub database schema is version ${current}, newer than this hub understands (${migrations.length}); run a newer hub`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    const sql = migrations[v] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * A per-store cache of prepared statements. Preparing is the expensive part of a
 * better-sqlite3 call (the hub benchmark measured it at a sixth of hub CPU when
 * every call re-prepared), and a statement can be reused for the life of the db.
 */
export function statementCache(db: Db): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
}
