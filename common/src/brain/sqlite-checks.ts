import Database from 'better-sqlite3';

/**
 * Sessions in an OpenClaw database: rows of `session_windows` (OpenClaw 2026.9
 * renamed its `sessions` table to that), or of `sessions` in older schemas;
 * -1 when the database has neither.
 */
export function countSessions(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    for (const table of ['session_windows', 'sessions']) {
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) {
        return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
      }
    }
    return -1;
  } finally {
    db.close();
  }
}

/** PRAGMA integrity_check: 'ok' or the first problems SQLite reports. */
export function integrityCheck(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check(20)') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
