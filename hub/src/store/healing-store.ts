import { type Db, statementCache } from '../db/database.ts';

/** Where self-healing stands for one agent (REQ-INFRA-05). */
export interface HealingState {
  /** Restarts since the agent was last green. */
  attempts: number;
  lastAttemptAt: number | null;
  /** Why the last restart call failed, if it did. */
  lastError: string | null;
  /** Set when the circuit breaker stopped healing; cleared by a human or by the agent turning green. */
  breakerOpenAt: number | null;
  breakerReason: string | null;
}

interface Row {
  agent_id: string;
  attempts: number;
  last_attempt_at: number | null;
  last_error: string | null;
  breaker_open_at: number | null;
  breaker_reason: string | null;
}

/** Self-healing state per agent, in SQLite so a hub restart keeps an open breaker open; read from memory. */
export class HealingStore {
  readonly #q: ReturnType<typeof statementCache>;
  readonly #byAgent = new Map<string, HealingState>();

  constructor(db: Db) {
    this.#q = statementCache(db);
    for (const r of db.prepare('SELECT * FROM agent_healing').all() as Row[]) {
      this.#byAgent.set(r.agent_id, { attempts: r.attempts, lastAttemptAt: r.last_attempt_at, lastError: r.last_error, breakerOpenAt: r.breaker_open_at, breakerReason: r.breaker_reason });
    }
  }

  get(agentId: string): HealingState | undefined {
    return this.#byAgent.get(agentId);
  }

  #put(agentId: string, s: HealingState): HealingState {
    this.#q(
      `INSERT INTO agent_healing (agent_id, attempts, last_attempt_at, last_error, breaker_open_at, breaker_reason) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET attempts = excluded.attempts, last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error,
         breaker_open_at = excluded.breaker_open_at, breaker_reason = excluded.breaker_reason`,
    ).run(agentId, s.attempts, s.lastAttemptAt, s.lastError, s.breakerOpenAt, s.breakerReason);
    this.#byAgent.set(agentId, s);
    return s;
  }

  #current(agentId: string): HealingState {
    return this.#byAgent.get(agentId) ?? { attempts: 0, lastAttemptAt: null, lastError: null, breakerOpenAt: null, breakerReason: null };
  }

  recordAttempt(agentId: string, now: number): HealingState {
    const s = this.#current(agentId);
    return this.#put(agentId, { ...s, attempts: s.attempts + 1, lastAttemptAt: now, lastError: null });
  }

  /** The restart call returned (or failed): the wait for the next one starts now. */
  recordAttemptDone(agentId: string, now: number, error: string | null): HealingState {
    return this.#put(agentId, { ...this.#current(agentId), lastAttemptAt: now, lastError: error });
  }

  openBreaker(agentId: string, reason: string, now: number): HealingState {
    return this.#put(agentId, { ...this.#current(agentId), breakerOpenAt: now, breakerReason: reason });
  }

  /**
   * Back to no attempts and a closed breaker. `restartedAt`: a human just
   * restarted the agent, so the wait before any automatic restart starts then;
   * null lets the hub try again at once. True if a breaker or attempts were cleared.
   */
  reset(agentId: string, restartedAt: number | null = null): boolean {
    const had = this.#byAgent.get(agentId);
    const cleared = Boolean(had && (had.attempts > 0 || had.breakerOpenAt !== null));
    if (cleared || restartedAt !== null) this.#put(agentId, { attempts: 0, lastAttemptAt: restartedAt, lastError: null, breakerOpenAt: null, breakerReason: null });
    return cleared;
  }

  forget(agentId: string): void {
    this.#byAgent.delete(agentId);
  }
}
