import Database from 'better-sqlite3';

export type JournalState = 'started' | 'done';

export interface JournalEntry {
  id: string;
  kind: string;
  state: JournalState;
  bootId: string;
  receivedAt: number;
  /** The CommandResult (without id) recorded when the command finished. */
  result: { status: string; outputJson: string; errorCode: string; errorMessage: string; startedAtMs: number; finishedAtMs: number } | null;
}

/**
 * Which command ids this agent has applied, kept on disk so that "exactly once"
 * holds across reconnects and agentd restarts: a redelivered id is answered from
 * here, never re-run, and its newest entries go to the hub in every Hello (the
 * ledger), so the hub learns what happened to commands whose results it missed.
 * Also holds small durable settings (the paused flag).
 */
/** How much of its command history agentd keeps (and so can answer redeliveries from). */
export const JOURNAL_MAX_ENTRIES = 1000;
export const JOURNAL_MAX_AGE_MS = 7 * 24 * 3600_000;

interface Row {
  id: string;
  kind: string;
  state: JournalState;
  boot_id: string;
  received_at: number;
  result_json: string | null;
}

const toEntry = (row: Row): JournalEntry => ({
  id: row.id,
  kind: row.kind,
  state: row.state,
  bootId: row.boot_id,
  receivedAt: row.received_at,
  result: row.result_json ? (JSON.parse(row.result_json) as JournalEntry['result']) : null,
});

export class CommandJournal {
  readonly #db: Database.Database;
  #added = 0;

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
    const row = this.#db.prepare('SELECT id, kind, state, boot_id, received_at, result_json FROM commands WHERE id = ?').get(id) as Row | undefined;
    return row && toEntry(row);
  }

  /** The newest entries, newest first, leaving out the given kinds. */
  recent(limit: number, excludeKinds: readonly string[] = []): JournalEntry[] {
    const rows = this.#db
      .prepare(`SELECT id, kind, state, boot_id, received_at, result_json FROM commands WHERE kind NOT IN (SELECT value FROM json_each(?)) ORDER BY received_at DESC, rowid DESC LIMIT ?`)
      .all(JSON.stringify(excludeKinds), limit) as Row[];
    return rows.map(toEntry);
  }

  /** Records that a command is starting. Returns false if the id was already known. */
  begin(id: string, kind: string, bootId: string, now = Date.now()): boolean {
    const added = this.#db.prepare(`INSERT INTO commands (id, kind, state, boot_id, received_at) VALUES (?, ?, 'started', ?, ?) ON CONFLICT (id) DO NOTHING`).run(id, kind, bootId, now).changes === 1;
    if (added && ++this.#added % 100 === 0) this.prune(JOURNAL_MAX_AGE_MS, now);
    return added;
  }

  finish(id: string, result: NonNullable<JournalEntry['result']>, now = Date.now()): void {
    this.#db.prepare(`UPDATE commands SET state = 'done', result_json = ?, finished_at = ? WHERE id = ?`).run(JSON.stringify(result), now, id);
  }

  /**
   * Keeps the journal bounded: drops entries older than `maxAgeMs` (the hub's
   * command TTL is far shorter) and finished ones beyond the newest
   * JOURNAL_MAX_ENTRIES. A command still marked started is kept: it is answered
   * INTERRUPTED if it comes again.
   */
  prune(maxAgeMs = JOURNAL_MAX_AGE_MS, now = Date.now()): number {
    const old = this.#db.prepare('DELETE FROM commands WHERE received_at < ?').run(now - maxAgeMs).changes;
    const over = this.#db
      .prepare(`DELETE FROM commands WHERE state = 'done' AND rowid NOT IN (SELECT rowid FROM commands ORDER BY received_at DESC, rowid DESC LIMIT ?)`)
      .run(JOURNAL_MAX_ENTRIES).changes;
    return old + over;
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
