import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { newId } from '../../../common/src/ids.ts';
import { type Db, statementCache } from '../db/database.ts';
import { type CommandRecord, type CommandState, TERMINAL_COMMAND_STATES } from '../model.ts';

interface Row {
  id: string;
  agent_id: string;
  kind: string;
  args_json: string;
  actor: string;
  state: CommandState;
  attempts: number;
  created_at: number;
  deadline_at: number;
  delivered_at: number | null;
  completed_at: number | null;
  output_json: string | null;
  error_code: string | null;
  error_message: string | null;
}

const toRecord = (r: Row): CommandRecord => ({
  id: r.id,
  agentId: r.agent_id,
  kind: r.kind,
  args: JSON.parse(r.args_json) as Record<string, unknown>,
  actor: r.actor,
  state: r.state,
  attempts: r.attempts,
  createdAt: r.created_at,
  deadlineAt: r.deadline_at,
  deliveredAt: r.delivered_at,
  completedAt: r.completed_at,
  output: r.output_json === null ? null : (JSON.parse(r.output_json) as unknown),
  errorCode: r.error_code,
  errorMessage: r.error_message,
});

/**
 * Commands are written here before anything is sent, so a hub restart or an
 * offline agent loses none: every non-terminal command is (re)delivered when
 * its agent connects, and agentd answers redeliveries from its journal.
 */
export class CommandStore {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
  }

  create(input: { agentId: string; kind: string; args: Record<string, unknown>; actor: string; ttlMs: number }, now = Date.now()): CommandRecord {
    const id = newId('cmd');
    const record: CommandRecord = {
      id,
      agentId: input.agentId,
      kind: input.kind,
      args: input.args,
      actor: input.actor,
      state: 'pending',
      attempts: 0,
      createdAt: now,
      deadlineAt: now + input.ttlMs,
      deliveredAt: null,
      completedAt: null,
      output: null,
      errorCode: null,
      errorMessage: null,
    };
    this.#q(
        `INSERT INTO commands (id, agent_id, kind, args_json, actor, state, created_at, deadline_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(id, input.agentId, input.kind, JSON.stringify(input.args), input.actor, now, record.deadlineAt);
    return record;
  }

  find(id: string): CommandRecord | undefined {
    const row = this.#q('SELECT * FROM commands WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  get(id: string): CommandRecord {
    const cmd = this.find(id);
    if (!cmd) throw new PlaneError(ErrorCode.NotFound, `command '${id}' not found`, { where: 'commandId' });
    return cmd;
  }

  /**
   * Non-terminal commands for an agent, oldest first. Pending ones past their
   * deadline are expired here: they were never sent, so nothing ran.
   */
  openFor(agentId: string, now = Date.now()): CommandRecord[] {
    this.#q(
        `UPDATE commands SET state = 'expired', completed_at = ?, error_code = 'deadline_exceeded',
         error_message = 'deadline passed before the agent was reachable'
         WHERE agent_id = ? AND state = 'pending' AND deadline_at <= ?`,
      )
      .run(now, agentId, now);
    return (
      this.#q(`SELECT * FROM commands WHERE agent_id = ? AND state IN ('pending', 'delivered', 'accepted') ORDER BY seq`).all(agentId) as Row[]
    ).map(toRecord);
  }

  markDelivered(id: string, now = Date.now()): void {
    this.#q(`UPDATE commands SET state = CASE WHEN state = 'pending' THEN 'delivered' ELSE state END, attempts = attempts + 1, delivered_at = ? WHERE id = ?`)
      .run(now, id);
  }

  /** markDelivered for many commands in one transaction (fan-out). */
  markDeliveredMany(ids: readonly string[], now = Date.now()): void {
    this.#db.transaction(() => {
      for (const id of ids) this.markDelivered(id, now);
    })();
  }

  /**
   * Records what an agent reported. The agent id comes from the authenticated
   * stream: a result for another agent's command changes nothing.
   */
  recordResult(
    agentId: string,
    result: { commandId: string; state: CommandState; output?: unknown; errorCode?: string; errorMessage?: string },
    now = Date.now(),
  ): CommandRecord | undefined {
    const current = this.find(result.commandId);
    if (!current || current.agentId !== agentId) return undefined;
    if (TERMINAL_COMMAND_STATES.has(current.state)) return current;
    if (result.state === 'accepted') {
      this.#q(`UPDATE commands SET state = 'accepted' WHERE id = ?`).run(current.id);
    } else {
      this.#q('UPDATE commands SET state = ?, completed_at = ?, output_json = ?, error_code = ?, error_message = ? WHERE id = ?')
        .run(
          result.state,
          now,
          result.output === undefined ? null : JSON.stringify(result.output),
          result.errorCode ?? null,
          result.errorMessage ?? null,
          current.id,
        );
    }
    return this.get(current.id);
  }

  /**
   * Expires a command that was never sent (still pending): nothing ran, and it
   * will not run when the agent comes back. Returns the record if it was expired.
   */
  expirePending(id: string, reason: string, now = Date.now()): CommandRecord | undefined {
    const r = this.#q(`UPDATE commands SET state = 'expired', completed_at = ?, error_code = 'deadline_exceeded', error_message = ? WHERE id = ? AND state = 'pending'`).run(now, reason, id);
    return r.changes > 0 ? this.get(id) : undefined;
  }

  listFor(agentId: string, limit = 20): CommandRecord[] {
    return (this.#q('SELECT * FROM commands WHERE agent_id = ? ORDER BY seq DESC LIMIT ?').all(agentId, limit) as Row[]).map(toRecord);
  }
}
