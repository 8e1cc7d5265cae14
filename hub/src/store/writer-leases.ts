import { type Db, statementCache } from '../db/database.ts';

export type LeaseDecision = { granted: true; fence: number } | { granted: false; reason: string };

/**
 * One writer per agent brain. Each new agentd boot gets the next fence and the
 * boot it replaced is remembered as superseded: that boot is never granted a
 * lease again, so an old machine still alive during a reprovision cannot take
 * the brain back. Reconnects of the holding boot keep their fence.
 */
export class WriterLeases {
  readonly #stmt: ReturnType<typeof statementCache>;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
    this.#stmt = statementCache(db);
  }

  acquire(agentId: string, bootId: string, now = Date.now()): LeaseDecision {
    return this.#db.transaction((): LeaseDecision => {
      const superseded = this.#stmt('SELECT fence FROM superseded_boots WHERE agent_id = ? AND boot_id = ?').get(agentId, bootId) as { fence: number } | undefined;
      const current = this.#stmt('SELECT fence, boot_id AS bootId FROM writer_leases WHERE agent_id = ?').get(agentId) as { fence: number; bootId: string } | undefined;
      if (superseded) {
        return { granted: false, reason: `this agentd boot (lease ${superseded.fence}) was superseded by lease ${current?.fence ?? '?'}; stop it` };
      }
      if (current?.bootId === bootId) return { granted: true, fence: current.fence };
      const fence = (current?.fence ?? 0) + 1;
      if (current) this.#stmt('INSERT OR IGNORE INTO superseded_boots (agent_id, boot_id, fence, superseded_at) VALUES (?, ?, ?, ?)').run(agentId, current.bootId, current.fence, now);
      this.#stmt(
        'INSERT INTO writer_leases (agent_id, fence, boot_id, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET fence = excluded.fence, boot_id = excluded.boot_id, granted_at = excluded.granted_at',
      ).run(agentId, fence, bootId, now);
      return { granted: true, fence };
    })();
  }

  current(agentId: string): { fence: number; bootId: string } | undefined {
    return this.#stmt('SELECT fence, boot_id AS bootId FROM writer_leases WHERE agent_id = ?').get(agentId) as { fence: number; bootId: string } | undefined;
  }
}
