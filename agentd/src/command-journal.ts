import Database from 'better-sqlite3';

export type JournalState = 'started' | 'done';

export interface JournalEntry {
  id: string;
  kind: string;
  state: JournalState;
  bootId: string;
  /** The CommandResult (without id) recorded when the command finished. */
  result: { status: string; outputJson: string; errorCode: string; errorMessage: string; startedAtMs: number; finishedAtMs: number } | null;
}

/**
 * Which command ids this agent has applied, kept on disk so that "exactly once"
 * holds across reconnects and agentd restarts: a redelivered id is answered from
 * here, never re-run. Also holds small durable settings (the paused flag).
 */
export class CommandJournal {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    // A command's "started" mark must be on disk before the command runs.
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS commands (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, boot_id TEXT NOT NULL,
        result_json TEXT, received_at INTEGER NOT NULL, finished_at INTEGER
      );
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
  }

  get(id: string): JournalEntry | undefined {
    const row = this.#db.prepare('SELECT id, kind, state, boot_id, result_json FROM commands WHERE id = ?').get(id) as
      | { id: string; kind: string; state: JournalState; boot_id: string; result_json: string | null }
      | undefined;
    if (!row) return undefined;
    return { id: row.id, kind: row.kind, state: row.state, bootId: row.boot_id, result: row.result_json ? (JSON.parse(row.result_json) as JournalEntry['result']) : null };
  }

  /** Records that a command is starting. Returns false if the id was already known. */
  begin(id: string, kind: string, bootId: string, now = Date.now()): boolean {
    return this.#db.prepare(`INSERT INTO commands (id, kind, state, boot_id, received_at) VALUES (?, ?, 'started', ?, ?) ON CONFLICT (id) DO NOTHING`).run(id, kind, bootId, now).changes === 1;
  }

  finish(id: string, result: NonNullable<JournalEntry['result']>, now = Date.now()): void {
    this.#db.prepare(`UPDATE commands SET state = 'done', result_json = ?, finished_at = ? WHERE id = ?`).run(JSON.stringify(result), now, id);
  }

  /** Drops entries older than `maxAgeMs` (the hub's command TTL is far shorter). */
  prune(maxAgeMs: number, now = Date.now()): number {
    return this.#db.prepare('DELETE FROM commands WHERE received_at < ?').run(now - maxAgeMs).changes;
  }

  getSetting(key: string): string | undefined {
    return (this.#db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setSetting(key: string, value: string): void {
    this.#db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
