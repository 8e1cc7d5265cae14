import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { newId } from '../../common/src/ids.ts';
import type { Fleet } from './fleet.ts';
import type { HubContext } from './hub-context.ts';
import type { CommandRecord } from './model.ts';
import { TERMINAL_COMMAND_STATES } from './model.ts';
import { RunReconciler } from './run-reconciler.ts';
import type { SecretRotation } from './secrets/secret-rotation.ts';
import type { RunStore } from './store/run-store.ts';

import { ERROR_STATES, failedStep, RUN_KINDS, type RunKind, type RunRecord, type RunState, type RunTarget, runSteps, summarize, type TargetState } from './run-model.ts';

export { RUN_KINDS, type RunKind, type RunRecord };

/** What the plane-wide fan-out route sends, and the run kind it is recorded as. */
export const FAN_OUT_KINDS = { restart: 'restart', pause: 'pause', resume: 'resume', ping: 'ping', 'sync-now': 'sync' } as const satisfies Record<string, RunKind>;
export type FanOutKind = keyof typeof FAN_OUT_KINDS;

export interface StartRunInput {
  kind: RunKind;
  args?: Record<string, unknown>;
  /** Agent names; default every agent of the plane. */
  agents?: string[];
  maxConcurrency?: number | string;
  maxErrors?: number | string;
  timeoutSeconds?: number;
  waves?: number[];
  targetArgs?: Record<string, Record<string, unknown>>;
}

/** Per-agent timeouts: an upgrade installs a release; a secret rotation re-encrypts the brain's history first. */
export const RUN_DEFAULTS = { maxConcurrency: '50', maxErrors: '0', timeoutSeconds: 120, upgradeTimeoutSeconds: 1200, rotateSecretsTimeoutSeconds: 900 } as const;

/**
 * A rate limit given as a count or a share of the targets, as SSM's
 * MaxConcurrency/MaxErrors: "N" or "N%". A share of the concurrency rounds up
 * (at least 1); a share of the errors rounds down.
 */
export function resolveLimit(value: number | string, total: number, what: 'maxConcurrency' | 'maxErrors'): number {
  const min = what === 'maxConcurrency' ? 1 : 0;
  const text = String(value).trim();
  const pct = /^(\d{1,3})%$/.exec(text);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 100 || (what === 'maxConcurrency' && p === 0)) throw new PlaneError(ErrorCode.InvalidArgument, `${what} ${text}: a share must be ${min === 1 ? '1' : '0'}% to 100%`, { where: what });
    return what === 'maxConcurrency' ? Math.max(1, Math.ceil((total * p) / 100)) : Math.floor((total * p) / 100);
  }
  if (!/^\d{1,6}$/.test(text) || Number(text) < min) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${what} ${JSON.stringify(value)}: must be a whole number${min ? ' of at least 1' : ''} or a share like 25%`, { where: what });
  }
  return Number(text);
}

/**
 * Fan-out runs: one kind of command over one agent, a list, or a whole plane,
 * at most `maxConcurrency` agents at a time, stopping once more than
 * `maxErrors` agents failed or timed out (agents not yet started are reported
 * `skipped`). Upgrades run in waves instead of a sliding window. The REST API
 * and the CLI share this; the run and its results are kept in SQLite.
 */
export class CommandRuns {
  readonly #ctx: HubContext;
  readonly #fleet: Fleet;
  readonly #store: RunStore;
  readonly #rotation: SecretRotation;
  /** Runs executing in this process, and an AbortController each (cancel). */
  readonly #live = new Map<string, { run: RunRecord; cancel: AbortController; done: Promise<void> }>();
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #dirty = new Set<string>();
  readonly #stopped: RunReconciler;

  constructor(ctx: HubContext, fleet: Fleet, store: RunStore, rotation: SecretRotation) {
    this.#ctx = ctx;
    this.#fleet = fleet;
    this.#store = store;
    this.#rotation = rotation;
    this.#stopped = new RunReconciler(ctx, store);
  }

  /**
   * After a hub start: runs the previous process left running end `interrupted`,
   * each target settled from the commands it stored (see RunReconciler); targets
   * whose command may have reached the agent wait, `unknown`, for its report.
   */
  recover(): void {
    this.#stopped.recover();
  }

  start(planeName: string, input: StartRunInput, actor: string): RunRecord {
    this.#ctx.planes.get(planeName);
    const all = this.#ctx.agents.list(planeName).map((a) => a.name);
    let names = all;
    if (input.agents) {
      const unknown = input.agents.filter((n) => !all.includes(n));
      if (unknown.length > 0) throw new PlaneError(ErrorCode.NotFound, `agent(s) not in plane '${planeName}': ${unknown.join(', ')}`, { where: 'agents' });
      names = [...new Set(input.agents)];
    }
    if (names.length === 0) throw new PlaneError(ErrorCode.FailedPrecondition, `plane '${planeName}' has no agents to run ${input.kind} on`, { where: 'agents' });
    const requested = { maxConcurrency: String(input.maxConcurrency ?? RUN_DEFAULTS.maxConcurrency), maxErrors: String(input.maxErrors ?? RUN_DEFAULTS.maxErrors) };
    const maxConcurrency = resolveLimit(requested.maxConcurrency, names.length, 'maxConcurrency');
    const maxErrors = resolveLimit(requested.maxErrors, names.length, 'maxErrors');
    const waves = input.waves ?? null;
    if (waves && (waves.length === 0 || waves.some((w) => !Number.isInteger(w) || w < 1))) throw new PlaneError(ErrorCode.InvalidArgument, 'waves must be whole numbers of at least 1', { where: 'waves' });
    const timeoutSeconds =
      input.timeoutSeconds ??
      (input.kind === 'upgrade' ? RUN_DEFAULTS.upgradeTimeoutSeconds : input.kind === 'rotate-secrets' ? RUN_DEFAULTS.rotateSecretsTimeoutSeconds : RUN_DEFAULTS.timeoutSeconds);
    const waveOf = (i: number): number | null => {
      if (!waves) return null;
      let start = 0;
      for (let w = 0; ; w++) {
        start += waves[Math.min(w, waves.length - 1)] ?? 1;
        if (i < start) return w;
      }
    };
    const run: RunRecord = {
      id: newId('run'),
      plane: planeName,
      kind: input.kind,
      args: input.args ?? {},
      actor,
      state: 'running',
      requested,
      maxConcurrency: waves ? Math.max(...waves) : maxConcurrency,
      maxErrors,
      timeoutMs: timeoutSeconds * 1000,
      waves,
      createdAt: Date.now(),
      finishedAt: null,
      stopReason: null,
      summary: summarize([]),
      targets: names.map((agent, i) => ({
        agent,
        state: 'queued',
        wave: waveOf(i),
        ...(input.targetArgs?.[agent] ? { args: input.targetArgs[agent] } : {}),
        commands: [],
        startedAt: null,
        finishedAt: null,
        error: null,
        output: null,
      })),
    };
    run.summary = summarize(run.targets);
    this.#store.save(run);
    this.#ctx.audit.record({
      actor,
      action: `run.${run.kind}`,
      plane: planeName,
      agent: names.length === 1 ? (names[0] ?? null) : null,
      outcome: 'ok',
      detail: { runId: run.id, phase: 'started', agents: names.length, maxConcurrency: run.maxConcurrency, maxErrors, ...(waves ? { waves } : {}), ...(run.kind === 'upgrade' ? { args: run.args } : {}) },
    });
    this.#launch(run, (cancelled) => this.#execute(run, cancelled));
    return structuredClone(run);
  }

  #launch(run: RunRecord, engine: (cancelled: AbortSignal) => Promise<void>): void {
    const cancel = new AbortController();
    const done = engine(cancel.signal).catch((err: unknown) => {
      this.#ctx.log.error('run failed unexpectedly', { runId: run.id, reason: PlaneError.from(err).message });
      for (const t of run.targets) if (t.state === 'queued') this.#settle(run, t, 'skipped', `the run failed: ${PlaneError.from(err).message}`);
      this.#finish(run, 'failed', PlaneError.from(err).message);
    });
    this.#live.set(run.id, { run, cancel, done });
    void done.finally(() => this.#live.delete(run.id));
  }

  /**
   * Waits for a fan-out's results: each target settles with its command; what has
   * no result by the command deadline is withdrawn if it was never sent
   * (not-delivered) or timed out if it was. A closing hub leaves targets whose
   * command is out `unknown` for the next start to settle.
   */
  async #trackFanOut(run: RunRecord, commands: CommandRecord[], cancelled: AbortSignal): Promise<void> {
    const closing = this.#ctx.closing;
    const open = new Map(commands.map((c, i) => [c.id, run.targets[i] as RunTarget]));
    const settleWith = (c: CommandRecord): void => {
      const t = open.get(c.id);
      if (!t || !TERMINAL_COMMAND_STATES.has(c.state)) return;
      open.delete(c.id);
      t.output = c.output;
      if (c.state === 'succeeded') this.#settle(run, t, 'succeeded', null);
      else this.#settle(run, t, failedStep(c).state, failedStep(c).error);
    };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), run.timeoutMs);
      timer.unref();
      const onCommand = (c: CommandRecord): void => {
        if (c.runId !== run.id) return;
        settleWith(c);
        if (open.size === 0) finish();
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.#ctx.events.off('command', onCommand);
        closing.removeEventListener('abort', finish);
        resolve();
      };
      this.#ctx.events.on('command', onCommand);
      closing.addEventListener('abort', finish, { once: true });
      if (open.size === 0 || closing.aborted) finish();
    });
    for (const [id, t] of open) {
      if (closing.aborted) {
        this.#settle(run, t, 'unknown', `${t.commands[0]?.kind ?? run.kind}: the hub stopped before the agent answered; its report settles it`);
        continue;
      }
      const expired = this.#ctx.commands.expirePending(id, 'withdrawn: the agent was not reachable before the command deadline');
      if (expired) this.#ctx.events.emit('command', expired);
      else this.#settle(run, t, 'timed-out', `${t.commands[0]?.kind ?? run.kind}: no result within ${Math.round(run.timeoutMs / 1000)} s (command ${id}; the agent may still complete it)`);
    }
    const s = summarize(run.targets);
    const state: RunState = cancelled.aborted ? 'cancelled' : closing.aborted ? 'interrupted' : s.succeeded === s.total ? 'succeeded' : 'failed';
    this.#finish(run, state, cancelled.aborted ? 'cancelled' : closing.aborted ? 'the hub is shutting down' : null);
  }

  /**
   * The plane-wide fan-out (`POST /v1/planes/P/commands`): one command to every
   * agent at once, not rate-controlled; an offline agent gets it when it
   * reconnects, until the command's deadline. Its run record is stored in the
   * same transaction as the commands, before any is sent, so a hub crash right
   * after cannot lose what was sent. No agents: no run.
   */
  fanOut(planeName: string, kind: FanOutKind, args: Record<string, unknown>, actor: string): { run: RunRecord | null; commands: CommandRecord[] } {
    this.#ctx.planes.get(planeName);
    const names = new Map(this.#ctx.agents.list(planeName).map((a) => [a.id, a.name]));
    if (names.size === 0) return { run: null, commands: this.#fleet.fanOut(planeName, kind, args, actor) };
    const now = Date.now();
    const run: RunRecord = {
      id: newId('run'),
      plane: planeName,
      kind: FAN_OUT_KINDS[kind],
      args,
      actor,
      state: 'running',
      requested: { maxConcurrency: '100%', maxErrors: '100%' },
      maxConcurrency: names.size,
      maxErrors: names.size,
      timeoutMs: this.#ctx.commandTtlMs,
      waves: null,
      createdAt: now,
      finishedAt: null,
      stopReason: null,
      summary: summarize([]),
      targets: [],
    };
    const commands = this.#fleet.fanOut(planeName, kind, args, actor, {
      runId: run.id,
      record: (created) => {
        run.targets = created.map((c) => ({ agent: names.get(c.agentId) ?? c.agentId, state: 'running', wave: null, commands: [{ kind, id: c.id }], startedAt: now, finishedAt: null, error: null, output: null }));
        run.summary = summarize(run.targets);
        this.#store.save(run);
      },
    });
    this.#ctx.audit.record({ actor, action: `run.${run.kind}`, plane: planeName, agent: null, outcome: 'ok', detail: { runId: run.id, phase: 'started', fanOut: true, agents: run.targets.length } });
    this.#launch(run, (cancelled) => this.#trackFanOut(run, commands, cancelled));
    return { run: structuredClone(run), commands };
  }

  get(planeName: string, id: string): RunRecord {
    const live = this.#live.get(id)?.run ?? this.#stopped.get(id);
    if (live && live.plane === planeName) return structuredClone(live);
    return this.#store.get(planeName, id);
  }

  list(planeName: string, limit?: number, kind?: string): RunRecord[] {
    this.#ctx.planes.get(planeName);
    return this.#store.list(planeName, limit, kind).map((r) => (this.#live.has(r.id) || this.#stopped.get(r.id) ? this.get(planeName, r.id) : r));
  }

  /** Resolves when the run has finished or `timeoutMs` passed. */
  async wait(planeName: string, id: string, timeoutMs: number): Promise<RunRecord> {
    this.get(planeName, id);
    const live = this.#live.get(id);
    if (live && timeoutMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([live.done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    return this.get(planeName, id);
  }

  /**
   * Stops a run: no agent is started after this; queued agents are reported
   * skipped. A command not yet delivered to its agent is withdrawn (nothing ran
   * there); one already delivered cannot be recalled: the run waits for its
   * result (up to the run's per-agent timeout) and reports it.
   */
  cancel(planeName: string, id: string, actor: string): RunRecord {
    const run = this.get(planeName, id);
    const live = this.#live.get(id);
    if (!live || run.state !== 'running') return run;
    if (!live.cancel.signal.aborted) {
      live.cancel.abort();
      this.#ctx.audit.record({ actor, action: `run.${run.kind}`, plane: planeName, agent: null, outcome: 'ok', detail: { runId: id, phase: 'cancel-requested' } });
      for (const t of live.run.targets) {
        const last = t.commands.at(-1);
        if (t.state !== 'running' || !last) continue;
        const expired = this.#ctx.commands.expirePending(last.id, 'withdrawn: the run was cancelled before the agent was reachable');
        if (expired) this.#ctx.events.emit('command', expired);
      }
    }
    return this.get(planeName, id);
  }

  /** The engine: a sliding window of maxConcurrency agents, or waves; stops on cancel, on hub close, or past maxErrors. */
  async #execute(run: RunRecord, cancelled: AbortSignal): Promise<void> {
    const closing = this.#ctx.closing;
    const errors = (): number => run.targets.filter((t) => ERROR_STATES.has(t.state)).length;
    const stopWhy = (): string | null => {
      if (cancelled.aborted) return 'cancelled';
      if (closing.aborted) return 'the hub is shutting down';
      if (errors() > run.maxErrors) return `more than ${run.maxErrors} agent(s) failed or timed out (maxErrors ${run.requested.maxErrors})`;
      return null;
    };
    const queue = [...run.targets];
    if (run.waves) {
      for (let w = 0; queue.length > 0 && !stopWhy(); w++) {
        const size = run.waves[Math.min(w, run.waves.length - 1)] ?? 1;
        const wave = queue.splice(0, size);
        this.#auditWave(run, w, wave, 'started');
        await Promise.all(wave.map((t) => this.#runTarget(run, t)));
        this.#auditWave(run, w, wave, wave.every((t) => t.state === 'succeeded') ? 'ok' : 'failed');
      }
    } else {
      const inFlight = new Set<Promise<void>>();
      while (queue.length > 0 && !stopWhy()) {
        while (inFlight.size < run.maxConcurrency && queue.length > 0 && !stopWhy()) {
          const t = queue.shift() as RunTarget;
          const p: Promise<void> = this.#runTarget(run, t).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        if (inFlight.size > 0) await Promise.race([...inFlight, new Promise<void>((r) => cancelled.addEventListener('abort', () => r(), { once: true }))]);
      }
      await Promise.all(inFlight);
    }
    const why = stopWhy();
    for (const t of queue) this.#settle(run, t, 'skipped', why ? `not started: ${why}` : 'not started');
    const s = summarize(run.targets);
    const state: RunState = cancelled.aborted ? 'cancelled' : closing.aborted ? 'interrupted' : s.skipped > 0 ? 'stopped' : s.failed + s.timedOut + s.notDelivered > 0 ? 'failed' : 'succeeded';
    this.#finish(run, state, why);
  }

  /** One agent: each step is a stored command, sent, then awaited within what is left of the agent's timeout. */
  async #runTarget(run: RunRecord, t: RunTarget): Promise<void> {
    t.state = 'running';
    t.startedAt = Date.now();
    this.#touch(run);
    const deadline = t.startedAt + run.timeoutMs;
    const outputs: Record<string, unknown> = {};
    try {
      // Each command names this run and when the run gives up on it, before it is sent.
      const link = { runId: run.id, giveUpAt: deadline };
      for (const step of runSteps(run, t)) {
        const cmd = step.kind === 'rotate-secrets' ? this.#rotation.rotate(run.plane, t.agent, run.actor, 'manual', link)[0] : this.#fleet.sendCommand(run.plane, t.agent, step.kind, step.args, run.actor, link);
        if (!cmd) throw new PlaneError(ErrorCode.Internal, `no command was created for ${t.agent}`);
        t.commands.push({ kind: step.kind, id: cmd.id });
        this.#touch(run);
        const seconds = Math.round(run.timeoutMs / 1000);
        let done: CommandRecord = await this.#fleet.waitForCommand(cmd.id, Math.max(0, deadline - Date.now()));
        if (!TERMINAL_COMMAND_STATES.has(done.state)) {
          if (this.#ctx.closing.aborted) {
            this.#settle(run, t, 'unknown', `${step.kind}: the hub stopped before the agent answered (command ${cmd.id} was ${done.state}); its report settles it`);
            return;
          }
          const expired = this.#ctx.commands.expirePending(cmd.id, `withdrawn: the agent was not reachable within ${seconds} s`);
          if (expired) {
            done = expired;
            this.#ctx.events.emit('command', expired);
            this.#settle(run, t, 'not-delivered', `${step.kind}: the agent was not reachable within ${seconds} s; the command was withdrawn, nothing ran`);
          } else {
            this.#settle(run, t, 'timed-out', `${step.kind}: no result within ${seconds} s (command ${cmd.id} is ${done.state}; the agent may still complete it)`);
          }
          return;
        }
        outputs[step.kind] = done.output;
        if (done.state !== 'succeeded') {
          t.output = run.kind === 'upgrade' ? outputs : done.output;
          const f = failedStep(done);
          this.#settle(run, t, f.state, f.error);
          return;
        }
      }
      t.output = run.kind === 'upgrade' ? outputs : (Object.values(outputs).at(-1) ?? null);
      this.#settle(run, t, 'succeeded', null);
    } catch (err) {
      this.#settle(run, t, 'failed', PlaneError.from(err).message);
    } finally {
      if (run.kind === 'upgrade') {
        const up = (outputs['upgrade'] ?? {}) as Record<string, unknown>;
        this.#ctx.audit.record({
          actor: run.actor,
          action: 'upgrade.agent',
          plane: run.plane,
          agent: t.agent,
          outcome: (t.state as TargetState) === 'succeeded' ? 'ok' : 'failed',
          detail: { runId: run.id, wave: t.wave, to: t.args?.['version'] ?? run.args['version'], from: (up['from']) ?? null, state: t.state, error: t.error },
        });
      }
    }
  }

  #auditWave(run: RunRecord, wave: number, targets: RunTarget[], outcome: 'started' | 'ok' | 'failed'): void {
    this.#ctx.audit.record({
      actor: run.actor,
      action: 'upgrade.wave',
      plane: run.plane,
      agent: null,
      outcome: outcome === 'failed' ? 'failed' : 'ok',
      detail: { runId: run.id, wave, phase: outcome === 'started' ? 'started' : 'finished', canary: wave === 0, agents: targets.map((t) => t.agent), ...(outcome !== 'started' ? { results: Object.fromEntries(targets.map((t) => [t.agent, t.state])) } : {}) },
    });
  }

  #settle(run: RunRecord, t: RunTarget, state: TargetState, error: string | null): void {
    t.state = state;
    t.error = error;
    t.finishedAt = Date.now();
    this.#touch(run);
  }

  #finish(run: RunRecord, state: RunState, why: string | null): void {
    run.state = state;
    run.stopReason = why;
    run.finishedAt = Date.now();
    run.summary = summarize(run.targets);
    this.#dirty.delete(run.id);
    try {
      this.#store.save(run);
    } catch (err) {
      // The database is closed when the hub stopped mid-run; recover() marks the run on the next start.
      this.#ctx.log.warn('could not store the end of a run', { runId: run.id, reason: PlaneError.from(err).message });
      return;
    }
    this.#ctx.audit.record({
      actor: run.actor,
      action: `run.${run.kind}`,
      plane: run.plane,
      agent: null,
      outcome: state === 'succeeded' ? 'ok' : 'failed',
      detail: { runId: run.id, phase: 'finished', state, ...run.summary, ...(why ? { reason: why } : {}) },
    });
  }

  /** Results are written at most every 200 ms while a run is busy, and at once when it ends. */
  #touch(run: RunRecord): void {
    run.summary = summarize(run.targets);
    this.#dirty.add(run.id);
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      for (const id of this.#dirty) {
        const live = this.#live.get(id);
        if (live && live.run.state === 'running') {
          try {
            this.#store.save(live.run);
          } catch {
            // closed database: the final save or recover() covers it
          }
        }
      }
      this.#dirty.clear();
    }, 200);
    this.#flushTimer.unref();
  }
}
