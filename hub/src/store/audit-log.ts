import { createHash } from 'node:crypto';
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
  hash: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  rows: number;
  /** Hash of the newest row: keep it elsewhere to detect a cut-off tail later. */
  headHash: string | null;
  headId: number | null;
  problems: { id: number; problem: string }[];
}

interface Row {
  id: number;
  at: number;
  actor: string;
  action: string;
  plane: string | null;
  agent: string | null;
  outcome: string;
  detail_json: string;
  prev_hash: string | null;
  hash: string | null;
}

const GENESIS = '0'.repeat(64);

function rowHash(prev: string, r: Omit<Row, 'prev_hash' | 'hash'>): string {
  return createHash('sha256')
    .update(prev)
    .update('\n')
    .update(JSON.stringify([r.id, r.at, r.actor, r.action, r.plane, r.agent, r.outcome, r.detail_json]))
    .digest('hex');
}

/**
 * Append-only record of who did what, as a hash chain: each row stores the
 * hash of the previous row and its own (SHA-256 over the previous hash and its
 * fields). SQLite triggers refuse UPDATE and DELETE; `verify()` finds a row that
 * was changed or removed anyway (by someone who dropped the triggers). Details
 * never hold secret values: callers pass names, ids and outcomes only.
 */
export class AuditLog {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
    this.#chainUnhashed();
  }

  /** Rows written before the chain existed get hashed once, in order. */
  #chainUnhashed(): void {
    const rows = this.#q('SELECT * FROM audit_events WHERE hash IS NULL ORDER BY id').all() as Row[];
    if (rows.length === 0) return;
    this.#db.transaction(() => {
      let prev = (this.#q('SELECT hash FROM audit_events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1').get() as { hash: string } | undefined)?.hash ?? GENESIS;
      for (const r of rows) {
        const hash = rowHash(prev, r);
        this.#q('UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?').run(prev, hash, r.id);
        prev = hash;
      }
    })();
  }

  record(event: Omit<AuditEvent, 'id' | 'at' | 'detail' | 'hash'> & { detail?: Record<string, unknown> }, now = Date.now()): void {
    this.#db.transaction(() => {
      const last = this.#q('SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1').get() as { id: number; hash: string } | undefined;
      const row = { id: (last?.id ?? 0) + 1, at: now, actor: event.actor, action: event.action, plane: event.plane, agent: event.agent, outcome: event.outcome, detail_json: JSON.stringify(event.detail ?? {}) };
      const prev = last?.hash ?? GENESIS;
      this.#q('INSERT INTO audit_events (id, at, actor, action, plane, agent, outcome, detail_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        row.id,
        row.at,
        row.actor,
        row.action,
        row.plane,
        row.agent,
        row.outcome,
        row.detail_json,
        prev,
        rowHash(prev, row),
      );
    })();
  }

  /** Newest first. `actor` matches the actor exactly, or a token's name ("alice" finds "token:alice"). */
  list(filter: { plane?: string; agent?: string; actor?: string; sinceMs?: number; limit?: number } = {}): AuditEvent[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown): void => {
      where.push(clause);
      args.push(value);
    };
    if (filter.plane !== undefined) add('plane = ?', filter.plane);
    if (filter.agent !== undefined) add('agent = ?', filter.agent);
    if (filter.actor !== undefined) {
      where.push('(actor = ? OR actor = ?)');
      args.push(filter.actor, `token:${filter.actor}`);
    }
    if (filter.sinceMs !== undefined) add('at >= ?', filter.sinceMs);
    const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    args.push(filter.limit ?? 200);
    return (this.#q(sql).all(...args) as Row[]).map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      plane: r.plane,
      agent: r.agent,
      outcome: r.outcome as AuditEvent['outcome'],
      detail: JSON.parse(r.detail_json) as Record<string, unknown>,
      hash: r.hash ?? '',
    }));
  }

  /** Walks the whole chain: a changed row breaks its own hash, a removed one leaves a gap and a broken link. */
  verify(): AuditVerifyReport {
    const problems: { id: number; problem: string }[] = [];
    let prev = GENESIS;
    let expectedId = 1;
    let rows = 0;
    let head: { id: number; hash: string } | null = null;
    for (const r of this.#q('SELECT * FROM audit_events ORDER BY id').iterate() as IterableIterator<Row>) {
      rows++;
      if (r.id !== expectedId) problems.push({ id: r.id, problem: `rows ${expectedId}..${r.id - 1} are missing` });
      if (r.prev_hash !== prev) problems.push({ id: r.id, problem: 'does not link to the row before it (a row was removed or changed)' });
      if (r.hash !== rowHash(r.prev_hash ?? '', r)) problems.push({ id: r.id, problem: 'its content does not match its hash (the row was changed)' });
      prev = r.hash ?? '';
      expectedId = r.id + 1;
      head = { id: r.id, hash: r.hash ?? '' };
    }
    return { ok: problems.length === 0, rows, headHash: head?.hash ?? null, headId: head?.id ?? null, problems: problems.slice(0, 100) };
  }
}
