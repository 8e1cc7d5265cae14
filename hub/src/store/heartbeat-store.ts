import type { Heartbeat__Output } from '../../../proto/index.ts';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.ts';

export interface HeartbeatRecord {
  seq: number;
  receivedAt: number;
  heartbeat: Heartbeat__Output;
}

/**
 * The latest heartbeat per agent. Kept in memory and written to SQLite in one
 * batched transaction per flush: at 1,000 agents and 5 s intervals a write per
 * heartbeat would be 200 fsync-bound statements a second for data that is
 * superseded seconds later. A crash loses at most one flush interval.
 */
export class HeartbeatStore {
  readonly #db: Db;
  readonly #latest = new Map<string, HeartbeatRecord>();
  readonly #dirty = new Set<string>();
  readonly #upsert: Statement;
  readonly #exists: Statement;

  constructor(db: Db) {
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO heartbeats (agent_id, seq, received_at, payload_json) VALUES (?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET seq = excluded.seq, received_at = excluded.received_at, payload_json = excluded.payload_json`,
    );
    this.#exists = db.prepare('SELECT 1 FROM agents WHERE id = ?');
    const rows = db.prepare('SELECT agent_id, seq, received_at, payload_json FROM heartbeats').all() as Array<{
      agent_id: string;
      seq: number;
      received_at: number;
      payload_json: string;
    }>;
    for (const r of rows) {
      this.#latest.set(r.agent_id, { seq: r.seq, receivedAt: r.received_at, heartbeat: JSON.parse(r.payload_json) as Heartbeat__Output });
    }
  }

  put(agentId: string, heartbeat: Heartbeat__Output, now = Date.now()): void {
    this.#latest.set(agentId, { seq: heartbeat.seq, receivedAt: now, heartbeat });
    this.#dirty.add(agentId);
  }

  get(agentId: string): HeartbeatRecord | undefined {
    return this.#latest.get(agentId);
  }

  forget(agentId: string): void {
    this.#latest.delete(agentId);
    this.#dirty.delete(agentId);
  }

  /** Writes every heartbeat received since the last flush; returns how many. */
  flush(): number {
    if (this.#dirty.size === 0) return 0;
    const ids = [...this.#dirty];
    this.#dirty.clear();
    this.#db.transaction(() => {
      for (const id of ids) {
        const rec = this.#latest.get(id);
        // The agent may have been removed since its last heartbeat.
        if (rec && this.#exists.get(id)) this.#upsert.run(id, rec.seq, rec.receivedAt, JSON.stringify(rec.heartbeat));
      }
    })();
    return ids.length;
  }
}
