import { type Db, statementCache } from '../db/database.ts';

export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  plane: string | null;
  agent: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  detail: Record<string, unknown>;
}

/**
 * Append-only record of who did what. Details must never hold secret values:
 * callers pass names, ids and outcomes only.
 */
export class AuditLog {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
  }

  record(event: Omit<AuditEvent, 'id' | 'at' | 'detail'> & { detail?: Record<string, unknown> }, now = Date.now()): void {
    this.#q('INSERT INTO audit_events (at, actor, action, plane, agent, outcome, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(now, event.actor, event.action, event.plane, event.agent, event.outcome, JSON.stringify(event.detail ?? {}));
  }

  list(filter: { plane?: string; agent?: string; sinceMs?: number; limit?: number } = {}): AuditEvent[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown): void => {
      where.push(clause);
      args.push(value);
    };
    if (filter.plane !== undefined) add('plane = ?', filter.plane);
    if (filter.agent !== undefined) add('agent = ?', filter.agent);
    if (filter.sinceMs !== undefined) add('at >= ?', filter.sinceMs);
    const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    args.push(filter.limit ?? 200);
    return (this.#q(sql).all(...args) as Array<Omit<AuditEvent, 'detail'> & { detail_json: string }>).map(({ detail_json, ...rest }) => ({
      ...rest,
      detail: JSON.parse(detail_json) as Record<string, unknown>,
    }));
  }
}
