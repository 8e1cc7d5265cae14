import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { newId } from '../../common/src/ids.ts';
import type { CommandKind, Fleet } from './fleet.ts';
import type { HubContext } from './hub-context.ts';
import type { CommandRecord } from './model.ts';
import { TERMINAL_COMMAND_STATES } from './model.ts';
import type { SecretRotation } from './secrets/secret-rotation.ts';
import type { RunStore } from './store/run-store.ts';

import { RUN_KINDS, type RunKind, type RunRecord, type RunState, type RunSummary, type RunTarget, type TargetState } from './run-model.ts';

export { RUN_KINDS, type RunKind, type RunRecord };

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

const ERROR_STATES: ReadonlySet<TargetState> = new Set(['failed', 'timed-out']);

function summarize(targets: RunTarget[]): RunSummary {
  const s: RunSummary = { total: targets.length, queued: 0, running: 0, succeeded: 0, failed: 0, timedOut: 0, skipped: 0 };
  for (const t of targets) {
    if (t.state === 'timed-out') s.timedOut++;
    else s[t.state]++;
  }
  return s;
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

  constructor(ctx: HubContext, fleet: Fleet, store: RunStore, rotation: SecretRotation) {
    this.#ctx = ctx;
    this.#fleet = fleet;
    this.#store = store;
    this.#rotation = rotation;
  }

  /** After a hub start: runs the previous process left running end as interrupted; commands already sent still complete. */
  recover(): void {
    for (const run of this.#store.running()) {
      for (const t of run.targets) {
        if (t.state === 'queued') Object.assign(t, { state: 'skipped', error: 'the hub restarted before this agent was started', finishedAt: Date.now() });
        else if (t.state === 'running') Object.assign(t, { state: 'timed-out', error: `the hub restarted while this agent ran; see its commands (${t.commands.map((c) => c.id).join(', ')})`, finishedAt: Date.now() });
      }
      this.#finish(run, 'interrupted', 'the hub restarted during the run');
    }
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
    const cancel = new AbortController();
    const done = this.#execute(run, cancel.signal).catch((err: unknown) => {
      this.#ctx.log.error('run failed unexpectedly', { runId: run.id, reason: PlaneError.from(err).message });
      for (const t of run.targets) if (t.state === 'queued') this.#settle(run, t, 'skipped', `the run failed: ${PlaneError.from(err).message}`);
      this.#finish(run, 'failed', PlaneError.from(err).message);
    });
    this.#live.set(run.id, { run, cancel, done });
    void done.finally(() => this.#live.delete(run.id));
    return structuredClone(run);
  }

  get(planeName: string, id: string): RunRecord {
    const live = this.#live.get(id)?.run;
    if (live && live.plane === planeName) return structuredClone(live);
    return this.#store.get(planeName, id);
  }

  list(planeName: string, limit?: number, kind?: string): RunRecord[] {
    this.#ctx.planes.get(planeName);
    return this.#store.list(planeName, limit, kind).map((r) => (this.#live.has(r.id) ? this.get(planeName, r.id) : r));
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
    const state: RunState = cancelled.aborted ? 'cancelled' : closing.aborted ? 'interrupted' : s.skipped > 0 ? 'stopped' : s.failed + s.timedOut > 0 ? 'failed' : 'succeeded';
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
      for (const step of this.#steps(run, t)) {
        const cmd = step.kind === 'rotate-secrets' ? this.#rotation.rotate(run.plane, t.agent, run.actor)[0] : this.#fleet.sendCommand(run.plane, t.agent, step.kind, step.args, run.actor);
        if (!cmd) throw new PlaneError(ErrorCode.Internal, `no command was created for ${t.agent}`);
        t.commands.push({ kind: step.kind, id: cmd.id });
        this.#touch(run);
        const seconds = Math.round(run.timeoutMs / 1000);
        let done: CommandRecord = await this.#fleet.waitForCommand(cmd.id, Math.max(0, deadline - Date.now()));
        if (!TERMINAL_COMMAND_STATES.has(done.state)) {
          const expired = this.#ctx.commands.expirePending(cmd.id, `withdrawn: the agent was not reachable within ${seconds} s`);
          if (expired) {
            done = expired;
            this.#ctx.events.emit('command', expired);
            this.#settle(run, t, 'timed-out', `${step.kind}: the agent was not reachable within ${seconds} s; the command was withdrawn, nothing ran`);
          } else {
            this.#settle(run, t, 'timed-out', `${step.kind}: no result within ${seconds} s (command ${cmd.id} is ${done.state}; the agent may still complete it)`);
          }
          return;
        }
        outputs[step.kind] = done.output;
        if (done.state !== 'succeeded') {
          const why = done.errorMessage ?? done.state;
          t.output = run.kind === 'upgrade' ? outputs : done.output;
          this.#settle(run, t, done.state === 'expired' && why.startsWith('withdrawn') ? 'skipped' : 'failed', `${step.kind}: ${done.state === 'failed' ? '' : `${done.state}: `}${why}`);
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

  #steps(run: RunRecord, t: RunTarget): Array<{ kind: CommandKind; args: Record<string, unknown> }> {
    const args = { ...run.args, ...(t.args ?? {}) };
    switch (run.kind) {
      case 'sync':
        return [{ kind: 'sync-now', args: { databases: args['databases'] !== false, allowDeletes: args['allowDeletes'] === true } }];
      case 'upgrade':
        // The brain first (files and consistent database copies): an upgrade never starts without a fresh snapshot.
        return [
          { kind: 'sync-now', args: { databases: true } },
          { kind: 'upgrade', args },
        ];
      case 'rotate-secrets':
        return [{ kind: 'rotate-secrets', args: {} }];
      default:
        return [{ kind: run.kind, args: {} }];
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
