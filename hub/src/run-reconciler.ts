import { PlaneError } from '../../common/src/errors.ts';
import type { HubContext } from './hub-context.ts';
import type { CommandRecord } from './model.ts';
import { TERMINAL_COMMAND_STATES } from './model.ts';
import { type RunRecord, type RunTarget, summarize, targetOutcome } from './run-model.ts';
import type { RunStore } from './store/run-store.ts';

/**
 * Runs whose engine is gone: the hub stopped (or was killed) during them. Which
 * commands each target sent is in the commands table (a command names its run
 * and is stored before it can leave the hub), so nothing depends on how recently
 * the run's own record was written. A target whose command may have reached its
 * agent is `unknown` until the agent says what happened: its next Hello carries
 * the ledger of commands it applied, the hub records those results, and the
 * target shows succeeded, failed or not-delivered. A target with no command
 * never started (`skipped`).
 */
export class RunReconciler {
  readonly #ctx: HubContext;
  readonly #store: RunStore;
  /** Finished runs with targets waiting for their agents' reports. */
  readonly #waiting = new Map<string, RunRecord>();
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(ctx: HubContext, store: RunStore) {
    this.#ctx = ctx;
    this.#store = store;
    ctx.events.on('command', (c) => this.#onCommand(c));
  }

  /**
   * At hub start: every run a previous process left `running` is closed as
   * `interrupted`, each target settled from its stored commands; runs already
   * closed with targets still `unknown` are checked again (their agents may have
   * answered just before that process stopped).
   */
  recover(): void {
    for (const run of this.#store.unfinished()) {
      const wasRunning = run.state === 'running';
      const byAgent = this.#commandsByAgent(run);
      for (const t of run.targets) {
        if (wasRunning || t.state === 'unknown') this.#settleTarget(run, t, byAgent.get(t.agent));
      }
      if (wasRunning) {
        run.state = 'interrupted';
        run.stopReason = 'the hub stopped during the run';
        run.finishedAt = Date.now();
      }
      run.summary = summarize(run.targets);
      this.#store.save(run);
      if (wasRunning) this.#audit(run, 'finished');
      if (run.summary.unknown > 0) this.#waiting.set(run.id, run);
      else if (!wasRunning) this.#audit(run, 'reconciled');
      this.#ctx.log.info('run recovered after a hub stop', { runId: run.id, plane: run.plane, kind: run.kind, ...run.summary });
    }
  }

  /** A stopped run still waiting for reports (fresher than the stored copy). */
  get(id: string): RunRecord | undefined {
    return this.#waiting.get(id);
  }

  /** Stored commands of a run's targets, by agent name; undefined for an agent that no longer exists. */
  #commandsByAgent(run: RunRecord): Map<string, CommandRecord[] | undefined> {
    const byId = new Map<string, CommandRecord[]>();
    for (const c of this.#ctx.commands.forRun(run.id)) byId.set(c.agentId, [...(byId.get(c.agentId) ?? []), c]);
    const out = new Map<string, CommandRecord[] | undefined>();
    for (const t of run.targets) {
      const agent = this.#ctx.agents.find(run.plane, t.agent);
      out.set(t.agent, agent ? (byId.get(agent.id) ?? []) : undefined);
    }
    return out;
  }

  #settleTarget(run: RunRecord, t: RunTarget, cmds: CommandRecord[] | undefined): void {
    if (cmds === undefined) {
      // The agent was removed (its commands with it): it can never report.
      if (t.commands.length === 0) Object.assign(t, { state: 'skipped', error: 'not started: the hub stopped before this agent was started', finishedAt: t.finishedAt ?? Date.now() });
      else Object.assign(t, { state: 'failed', error: 'the agent was removed before it reported what its command did', finishedAt: Date.now() });
      return;
    }
    const o = targetOutcome(run, t, cmds);
    t.commands = cmds.map((c) => ({ kind: c.kind, id: c.id }));
    t.startedAt ??= cmds[0]?.createdAt ?? null;
    t.state = o.state;
    t.error = o.error;
    t.output = o.output;
    t.finishedAt = o.state === 'unknown' ? null : (cmds.at(-1)?.completedAt ?? Date.now());
  }

  /** A result (from the stream or an agent's ledger) for a command of a stopped run. */
  #onCommand(c: CommandRecord): void {
    if (!c.runId || !TERMINAL_COMMAND_STATES.has(c.state)) return;
    const run = this.#waiting.get(c.runId);
    const t = run?.targets.find((x) => x.state === 'unknown' && x.commands.some((y) => y.id === c.id));
    if (!run || !t) return;
    const cmds = t.commands.map((x) => this.#ctx.commands.find(x.id)).filter((x): x is CommandRecord => x !== undefined);
    this.#settleTarget(run, t, cmds);
    run.summary = summarize(run.targets);
    if (run.summary.unknown > 0) return this.#saveSoon(run.id);
    this.#waiting.delete(run.id);
    if (this.#save(run)) this.#audit(run, 'reconciled');
  }

  /** Agents return together after a hub restart: their targets are written at most every 200 ms. */
  #saveSoon(id: string): void {
    this.#dirty.add(id);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      for (const d of this.#dirty) {
        const run = this.#waiting.get(d);
        if (run) this.#save(run);
      }
      this.#dirty.clear();
    }, 200);
    this.#timer.unref();
  }

  #save(run: RunRecord): boolean {
    try {
      this.#store.save(run);
      return true;
    } catch (err) {
      // A closed database: the next start settles the run again from the commands table.
      this.#ctx.log.warn('could not store a settled run target', { runId: run.id, reason: PlaneError.from(err).message });
      return false;
    }
  }

  #audit(run: RunRecord, phase: 'finished' | 'reconciled'): void {
    this.#ctx.audit.record({
      actor: run.actor,
      action: `run.${run.kind}`,
      plane: run.plane,
      agent: null,
      outcome: run.summary.succeeded === run.summary.total ? 'ok' : 'failed',
      detail: { runId: run.id, phase, state: run.state, ...run.summary, ...(run.stopReason ? { reason: run.stopReason } : {}) },
    });
  }
}
