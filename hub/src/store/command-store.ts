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
  run_id: string | null;
  give_up_at: number | null;
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
  runId: r.run_id,
  giveUpAt: r.give_up_at,
});

/** What a run adds to a command it sends. */
export interface RunLink {
  runId: string;
  /** When the run stops waiting for the command to reach its agent; default the command's deadline. */
  giveUpAt?: number;
}

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

  create(input: { agentId: string; kind: string; args: Record<string, unknown>; actor: string; ttlMs: number; run?: RunLink }, now = Date.now()): CommandRecord {
    const id = newId('cmd');
    const deadlineAt = now + input.ttlMs;
    const record: CommandRecord = {
      id,
      agentId: input.agentId,
      kind: input.kind,
      args: input.args,
      actor: input.actor,
      state: 'pending',
      attempts: 0,
      createdAt: now,
      deadlineAt,
      deliveredAt: null,
      completedAt: null,
      output: null,
      errorCode: null,
      errorMessage: null,
      runId: input.run?.runId ?? null,
      giveUpAt: input.run?.giveUpAt === undefined ? null : Math.min(input.run.giveUpAt, deadlineAt),
    };
    this.#q(
        `INSERT INTO commands (id, agent_id, kind, args_json, actor, state, created_at, deadline_at, run_id, give_up_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`,
      )
      .run(id, input.agentId, input.kind, JSON.stringify(input.args), input.actor, now, deadlineAt, record.runId, record.giveUpAt);
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

  /** Non-terminal commands for an agent, oldest first. */
  open(agentId: string): CommandRecord[] {
    return (this.#q(`SELECT * FROM commands WHERE agent_id = ? AND state IN ('pending', 'delivered', 'accepted') ORDER BY seq`).all(agentId) as Row[]).map(toRecord);
  }

  /**
   * Non-terminal commands for an agent, oldest first. Pending ones past their
   * deadline (a run's: past the run's per-agent timeout) are expired here: they
   * were never sent, so nothing ran. Returns the open ones and the expired ones.
   */
  openFor(agentId: string, now = Date.now()): CommandRecord[] {
    return this.expireUnsent(agentId, now).open;
  }

  expireUnsent(agentId: string, now = Date.now()): { open: CommandRecord[]; expired: CommandRecord[] } {
    const due = (this.#q(`SELECT id, run_id FROM commands WHERE agent_id = ? AND state = 'pending' AND COALESCE(give_up_at, deadline_at) <= ?`).all(agentId, now) as Array<{ id: string; run_id: string | null }>);
    const expired = due.map((d) =>
      this.#expire(d.id, d.run_id ? "withdrawn: the agent was not reachable within the run's per-agent timeout" : 'deadline passed before the agent was reachable', `state = 'pending'`, now),
    ).filter((c): c is CommandRecord => c !== undefined);
    return { open: this.open(agentId), expired };
  }

  /** Commands a run sent, in the order it sent them. */
  forRun(runId: string): CommandRecord[] {
    return (this.#q('SELECT * FROM commands WHERE run_id = ? ORDER BY seq').all(runId) as Row[]).map(toRecord);
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
   * stream: a result for another agent's command changes nothing. A command the
   * hub had not marked delivered is marked so: the agent evidently has it.
   */
  recordResult(
    agentId: string,
    result: { commandId: string; state: CommandState; output?: unknown; errorCode?: string; errorMessage?: string },
    now = Date.now(),
  ): CommandRecord | undefined {
    const current = this.find(result.commandId);
    if (!current || current.agentId !== agentId) return undefined;
    if (TERMINAL_COMMAND_STATES.has(current.state)) return current;
    if (current.deliveredAt === null) this.#q('UPDATE commands SET delivered_at = ? WHERE id = ?').run(now, current.id);
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
    return this.#expire(id, reason, `state = 'pending'`, now);
  }

  #expire(id: string, reason: string, condition: string, now: number): CommandRecord | undefined {
    const r = this.#q(`UPDATE commands SET state = 'expired', completed_at = ?, error_code = 'deadline_exceeded', error_message = ? WHERE id = ? AND ${condition}`).run(now, reason, id);
    return r.changes > 0 ? this.get(id) : undefined;
  }

  listFor(agentId: string, limit = 20): CommandRecord[] {
    return (this.#q('SELECT * FROM commands WHERE agent_id = ? ORDER BY seq DESC LIMIT ?').all(agentId, limit) as Row[]).map(toRecord);
  }
}
