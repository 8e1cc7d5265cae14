import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Backoff, sleep } from '../../common/src/backoff.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { ensureDir } from '../../common/src/files.ts';
import type { Logger } from '../../common/src/logger.ts';
import { VERSION } from '../../common/src/version.ts';
import type { GatewayState, GatewayStatus, Heartbeat } from '../../proto/index.ts';
import { CommandJournal } from './command-journal.ts';
import { type CommandHandler, CommandRunner } from './commands/command-runner.ts';
import type { AgentdConfig } from './config.ts';
import type { StoredCredential } from './credential-store.ts';
import { ensureEnrolled } from './enrollment.ts';
import { HubConnection } from './hub-connection.ts';
import type { GatewayRuntime } from './runtime/gateway-runtime.ts';
import { PlaceholderRuntime } from './runtime/placeholder-runtime.ts';
import { ChildSupervisor, type SupervisorState } from './supervisor/child-supervisor.ts';
import { SystemMetrics } from './system-metrics.ts';

/**
 * How a stop deadline is spent: up to 10 % (at most 2 s) letting running commands
 * finish, 3 s kept for the final report and stream close, the rest for the
 * gateway's drain before SIGKILL.
 */
export function commandDrainBudgetMs(totalMs: number): number {
  return Math.min(2000, Math.floor(totalMs / 10));
}
const REPORT_RESERVE_MS = 3000;
export function gatewayDrainBudgetMs(totalMs: number): number {
  return Math.max(500, totalMs - commandDrainBudgetMs(totalMs) - REPORT_RESERVE_MS);
}

export type AgentdState = 'created' | 'enrolling' | 'starting' | 'running' | 'stopping' | 'stopped';

const gatewayStateOf: Record<SupervisorState['kind'], GatewayState> = {
  stopped: 'GATEWAY_STATE_STOPPED',
  starting: 'GATEWAY_STATE_STARTING',
  running: 'GATEWAY_STATE_RUNNING',
  stopping: 'GATEWAY_STATE_STOPPING',
  backoff: 'GATEWAY_STATE_BACKOFF',
  failed: 'GATEWAY_STATE_FAILED',
};

/**
 * The daemon on every agent VM: enrols, keeps one stream to the hub, supervises
 * the gateway, applies commands exactly once, and stops within its deadline.
 * Lifecycle: created -> enrolling -> starting -> running -> stopping -> stopped.
 */
export class Agentd {
  readonly bootId = randomUUID();
  readonly #cfg: AgentdConfig;
  readonly #log: Logger;
  #state: AgentdState = 'created';
  #journal: CommandJournal | undefined;
  #credential: StoredCredential | undefined;
  #runtime: GatewayRuntime | undefined;
  #supervisor: ChildSupervisor | undefined;
  #conn: HubConnection | undefined;
  #runner: CommandRunner | undefined;
  #metrics: SystemMetrics | undefined;
  readonly #stopping = new AbortController();

  constructor(cfg: AgentdConfig, log: Logger) {
    this.#cfg = cfg;
    this.#log = log.child('agentd', { plane: cfg.plane, agent: cfg.agent });
  }

  get state(): AgentdState {
    return this.#state;
  }

  #transition(to: AgentdState): void {
    this.#log.info('agentd state', { from: this.#state, to });
    this.#state = to;
  }

  get paused(): boolean {
    return this.#journal?.getSetting('paused') === '1';
  }

  async start(): Promise<void> {
    if (this.#state !== 'created') throw new PlaneError(ErrorCode.FailedPrecondition, `agentd cannot start from state ${this.#state}`);
    const cfg = this.#cfg;
    ensureDir(cfg.stateDir, 0o700);
    this.#journal = new CommandJournal(join(cfg.stateDir, 'agentd.db'));
    this.#journal.prune(7 * 24 * 3600_000);

    this.#transition('enrolling');
    this.#credential = await this.#enrolWithRetry();
    if (this.#stopping.signal.aborted) return;

    this.#transition('starting');
    this.#metrics = new SystemMetrics(cfg.stateDir);
    this.#runtime = new PlaceholderRuntime(cfg.stateDir);
    const runtime = this.#runtime;
    this.#supervisor = new ChildSupervisor({
      name: runtime.kind,
      prepare: () => runtime.prepare(),
      waitReady: (pid, signal) => runtime.waitReady(pid, signal),
      fatalExitCodes: runtime.fatalExitCodes,
      stopTimeoutMs: gatewayDrainBudgetMs(cfg.shutdownTimeoutMs),
      pidFile: join(cfg.stateDir, 'run', 'gateway.pid'),
      onOutput: (line, stream) => this.#log.info('gateway output', { stream, line: line.slice(0, 2000) }),
      log: this.#log,
    });
    const conn = new HubConnection({
      credential: this.#credential,
      hello: () => ({
        bootId: this.bootId,
        agentdVersion: VERSION,
        runtimeVersions: { node: process.versions.node, [runtime.kind]: runtime.version },
        capabilities: this.#runner?.kinds ?? [],
      }),
      heartbeat: () => this.#heartbeat(),
      log: this.#log,
    });
    this.#conn = conn;
    this.#runner = new CommandRunner({
      journal: this.#journal,
      bootId: this.bootId,
      handlers: this.#handlers(),
      send: (m) => conn.send(m),
      timeoutMs: cfg.commandTimeoutMs,
      log: this.#log,
    });
    conn.on('command', (cmd) => this.#runner?.handle(cmd));
    this.#supervisor.on('state', (s) => {
      conn.heartbeatNow();
      if (s.kind === 'failed') conn.send({ event: { kind: 'gateway.failed', severity: 'error', message: s.reason, attributes: {}, atMs: Date.now() } });
    });
    conn.start();
    if (this.paused) this.#log.info('agent is paused; not starting the gateway');
    else await this.#supervisor.start();
    if ((this.#state as AgentdState) === 'starting') this.#transition('running');
  }

  async #enrolWithRetry(): Promise<StoredCredential> {
    const backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000 });
    for (;;) {
      try {
        return await ensureEnrolled(this.#cfg, this.bootId, VERSION, this.#log);
      } catch (err) {
        const e = PlaneError.from(err);
        if (e.code !== ErrorCode.Unavailable) throw e;
        const delay = backoff.next();
        this.#log.warn('enrolment failed; retrying', { reason: e.message, retryInMs: delay });
        if (!(await sleep(delay, this.#stopping.signal))) throw new PlaneError(ErrorCode.Aborted, 'stopped before enrolment completed');
      }
    }
  }

  #handlers(): Map<string, CommandHandler> {
    const sup = (): ChildSupervisor => {
      if (!this.#supervisor) throw new PlaneError(ErrorCode.Unavailable, 'agentd is not running');
      return this.#supervisor;
    };
    const summary = (): { gateway: string; restartCount: number; paused: boolean } => ({ gateway: sup().state.kind, restartCount: sup().restartCount, paused: this.paused });
    return new Map<string, CommandHandler>([
      ['ping', async () => ({ pong: Date.now(), bootId: this.bootId })],
      [
        'restart',
        async () => {
          if (this.paused) throw new PlaneError(ErrorCode.FailedPrecondition, 'agent is paused; resume it instead of restarting');
          const s = await sup().restart();
          if (s.kind === 'failed') throw new PlaneError(ErrorCode.FailedPrecondition, `gateway did not come back: ${s.reason}`);
          return summary();
        },
      ],
      [
        'pause',
        async () => {
          this.#journal?.setSetting('paused', '1');
          await sup().stop();
          this.#conn?.heartbeatNow();
          return summary();
        },
      ],
      [
        'resume',
        async () => {
          this.#journal?.setSetting('paused', '0');
          const s = await sup().start();
          this.#conn?.heartbeatNow();
          if (s.kind === 'failed') throw new PlaneError(ErrorCode.FailedPrecondition, `gateway did not start: ${s.reason}`);
          return summary();
        },
      ],
    ]);
  }

  #gatewayStatus(): GatewayStatus {
    const sup = this.#supervisor;
    const s = sup?.state ?? { kind: 'stopped' as const };
    const paused = this.paused && (s.kind === 'stopped' || s.kind === 'stopping');
    const pid = 'pid' in s ? s.pid : 0;
    return {
      state: paused ? 'GATEWAY_STATE_PAUSED' : gatewayStateOf[s.kind],
      ready: s.kind === 'running',
      failing: s.kind === 'running' ? [] : [s.kind],
      runtime: this.#runtime?.kind ?? 'none',
      version: this.#runtime?.version ?? '',
      restartCount: sup?.restartCount ?? 0,
      lastError: s.kind === 'failed' ? s.reason : (sup?.lastError ?? ''),
      pid,
      startedAtMs: 'sinceMs' in s ? s.sinceMs : 0,
    };
  }

  #heartbeat(): Omit<Heartbeat, 'seq' | 'sentAtMs'> {
    const gateway = this.#gatewayStatus();
    return {
      gateway,
      resources: this.#metrics?.sample(gateway.pid ? Number(gateway.pid) : undefined) ?? null,
      sync: { state: 'disabled' },
      secretsVersion: '',
      paused: this.paused,
    };
  }

  /**
   * Graceful stop: no new commands, let running ones finish, drain the gateway,
   * tell the hub, close the stream. Bounded by the caller's deadline.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#transition('stopping');
    this.#stopping.abort();
    await this.#runner?.drain(commandDrainBudgetMs(this.#cfg.shutdownTimeoutMs));
    await this.#supervisor?.stop();
    this.#conn?.send({ event: { kind: 'agentd.stopping', severity: 'info', message: 'agentd is shutting down', attributes: { bootId: this.bootId }, atMs: Date.now() } });
    this.#conn?.heartbeatNow();
    await this.#conn?.close();
    this.#journal?.close();
    this.#transition('stopped');
  }
}
