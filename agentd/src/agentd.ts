import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AgentRuntimeSpec } from '../../common/src/agent-spec.ts';
import { Backoff, sleep } from '../../common/src/backoff.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { ensureDir } from '../../common/src/files.ts';
import type { Logger } from '../../common/src/logger.ts';
import { validate } from '../../common/src/validate.ts';
import { VERSION } from '../../common/src/version.ts';
import type { BrainGrant__Output, Event, GatewayState, GatewayStatus, Heartbeat, TokenUsage } from '../../proto/index.ts';
import type { SyncView } from '../../common/src/brain/sync-view.ts';
import { CommandJournal } from './command-journal.ts';
import { type CommandHandler, CommandRunner, type CommandSpec } from './commands/command-runner.ts';
import { logsCommands } from './commands/logs-command.ts';
import { preflightScratch, upgradeOpenClaw } from './commands/upgrade-command.ts';
import { LogRing } from '../../common/src/log-ring.ts';
import type { AgentdConfig } from './config.ts';
import type { StoredCredential } from './credential-store.ts';
import { ensureEnrolled } from './enrollment.ts';
import { HubConnection } from './hub-connection.ts';
import type { GatewayRuntime } from './runtime/gateway-runtime.ts';
import { GatewayProbe, type GatewaySnapshot } from './runtime/gateway-probe.ts';
import { OpenClawRuntime } from './runtime/openclaw-runtime.ts';
import { unmappedTools } from './runtime/openclaw-config.ts';
import { PINNED_RUNTIME } from '../../common/src/runtime/pins.ts';
import { PlaceholderRuntime } from './runtime/placeholder-runtime.ts';
import { RuntimeManager } from '../../common/src/runtime/runtime-manager.ts';
import { ChildSupervisor, type SupervisorState } from './supervisor/child-supervisor.ts';
import { SdNotifier } from './systemd/sd-notify.ts';
import { type DoctorReport, modeCheck, runDoctor } from './operator/doctor.ts';
import { OperatorServer } from './operator/operator-server.ts';
import { SystemMetrics } from './system-metrics.ts';
import { BrainSync } from './sync/brain-sync.ts';
import { findDatabases } from './sync/db-snapshot.ts';
import { scanTree } from './sync/workspace-scan.ts';
import { BRAIN_KEY_SECRET, BrainKey } from '../../common/src/brain/brain-crypto.ts';
import { SecretFiles } from './secrets/secret-files.ts';
import { pendingChannels } from './runtime/channels.ts';
import { isMemoryFile } from '../../common/src/brain/brain-paths.ts';
import { BrainStore, StaleWriterError } from '../../common/src/brain/brain-store.ts';
import { openBucket } from '../../common/src/brain/open-bucket.ts';
import { countSessions } from '../../common/src/brain/sqlite-checks.ts';
import { existsSync } from 'node:fs';
import { hashSecret, newSecret } from '../../common/src/ids.ts';
import { CredentialStore } from './credential-store.ts';
import { AgentSecrets } from './secrets/agent-secrets.ts';
import { SecretResolverServer } from './secrets/secret-resolver-server.ts';

/**
 * How a stop deadline is spent: up to 10 % (at most 2 s) letting running commands
 * finish, 3 s kept for the final report and stream close, the rest for the
 * gateway's drain before SIGKILL.
 */
export function commandDrainBudgetMs(totalMs: number): number {
  return Math.min(2000, Math.floor(totalMs / 10));
}
const REPORT_RESERVE_MS = 3000;
/** Out of that reserve: how long a stop waits for a dropped hub stream to come back before its last report. */
const STOP_REPORT_WAIT_MS = 1000;
/** Kept for the final brain sync after the gateway stopped: 30 % of the deadline, at most 8 s. */
export function finalSyncBudgetMs(totalMs: number): number {
  return Math.min(8000, Math.floor(totalMs * 0.3));
}
export function gatewayDrainBudgetMs(totalMs: number): number {
  return Math.max(500, totalMs - commandDrainBudgetMs(totalMs) - finalSyncBudgetMs(totalMs) - REPORT_RESERVE_MS);
}

export interface AgentdStatus {
  plane: string;
  agent: string;
  agentId: string | null;
  agentd: { state: AgentdState; version: string; bootId: string; uptimeS: number; pid: number };
  hub: { address: string | null; connection: string };
  paused: boolean;
  model: string | null;
  /** Tools in the spec with no OpenClaw counterpart yet (not enforced), and channels awaiting credentials. */
  toolsNotEnforced: string[];
  channelsPending: string[];
  runtime: { kind: string; openclaw?: string; node?: string; port?: number; configPath?: string; installed?: boolean };
  gateway: GatewayStatus;
  usage: TokenUsage | null;
  /** Names and versions only: values never leave agentd's memory except to the gateway. */
  secrets: { revision: string; loaded: { name: string; version: number }[]; missing: string[]; resolverRequests: number; lastError: string };
  /** Brain sync as in the heartbeat, plus the workspace files left out now, with why (the first 50). */
  brain: (SyncView & { skippedList: { path: string; kind: string; reason: string }[] }) | null;
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
 * The daemon on every agent VM: enrols, keeps one stream to the hub, installs
 * and supervises the pinned gateway, probes it, applies commands exactly once,
 * and stops within its deadline.
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
  #probe: GatewayProbe | undefined;
  #conn: HubConnection | undefined;
  #runner: CommandRunner | undefined;
  #metrics: SystemMetrics | undefined;
  #installing = '';
  readonly #notify: SdNotifier;
  readonly #stopping = new AbortController();
  readonly #ring: LogRing;
  readonly #startedAt = Date.now();
  #operator: OperatorServer | undefined;
  #brain: BrainSync | undefined;
  #pendingBrainEvents: Event[] = [];
  #grant: BrainGrant__Output | undefined;
  #grantWaiter: (() => void) | undefined;
  #fence = 0;
  readonly #secrets: AgentSecrets;
  /** Channel tokens OpenClaw reads from files: tmpfs under systemd, removed at stop. */
  readonly #secretFiles: SecretFiles;
  #resolver: SecretResolverServer | undefined;
  /** Secret loads run one at a time; a manifest that arrives during one queues another. */
  #secretsChain: Promise<unknown> = Promise.resolve();
  #credentialSwapAt = 0;
  /** 'late' when the gateway started on the local brain before the hub's grant arrived. */
  #brainBoot: 'pending' | 'late' | 'done' = 'pending';

  constructor(cfg: AgentdConfig, log: Logger, ring: LogRing = new LogRing()) {
    this.#cfg = cfg;
    this.#ring = ring;
    this.#log = log.child('agentd', { plane: cfg.plane, agent: cfg.agent });
    this.#notify = new SdNotifier({ log: this.#log });
    this.#secrets = new AgentSecrets(this.#log);
    this.#secretFiles = new SecretFiles(SecretFiles.dirFor(cfg.stateDir));
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

  /** The last spec the hub sent, validated; undefined before the first one. */
  spec(): AgentRuntimeSpec | undefined {
    const raw = this.#journal?.getSetting('agentSpec');
    return raw ? (JSON.parse(raw) as AgentRuntimeSpec) : undefined;
  }

  /** Validates and keeps a spec from the hub; returns whether it changed. Throws (keeping the old one) if invalid. */
  #acceptSpec(value: unknown): boolean {
    const spec = validate(AgentRuntimeSpec, typeof value === 'string' ? (JSON.parse(value) as unknown) : value, 'agent spec from the hub');
    const text = JSON.stringify(spec);
    if (this.#journal?.getSetting('agentSpec') === text) return false;
    this.#journal?.setSetting('agentSpec', text);
    this.#log.info('agent spec updated', { model: spec.model, tools: spec.tools.length });
    return true;
  }

  /** The same, for specs that arrive unasked (enrolment, HelloAck): a bad one is reported, not thrown. */
  #offerSpec(json: string): void {
    try {
      this.#acceptSpec(json);
    } catch (err) {
      const reason = PlaneError.from(err).message;
      this.#log.error('refused an invalid agent spec from the hub', { reason });
      this.#conn?.send({ event: { kind: 'agentd.spec_invalid', severity: 'error', message: reason, attributes: {}, atMs: Date.now() } });
    }
  }

  async start(): Promise<void> {
    if (this.#state !== 'created') throw new PlaneError(ErrorCode.FailedPrecondition, `agentd cannot start from state ${this.#state}`);
    const cfg = this.#cfg;
    ensureDir(cfg.stateDir, 0o700);
    this.#journal = new CommandJournal(join(cfg.stateDir, 'agentd.db'));
    this.#journal.prune();
    this.#operator = new OperatorServer(join(cfg.stateDir, 'agentd.sock'), { status: () => this.status(), doctor: () => this.doctor(), ring: this.#ring }, this.#log);
    await this.#operator.start();
    ensureDir(join(cfg.stateDir, 'run'), 0o700);
    const stale = this.#secretFiles.clear();
    if (stale > 0) this.#log.warn('removed secret files left by an agentd that did not stop cleanly', { files: stale, dir: this.#secretFiles.dir });
    this.#resolver = new SecretResolverServer(join(cfg.stateDir, 'run', 'secrets.sock'), (name) => this.#secrets.value(name), this.#log);
    await this.#resolver.start();

    this.#transition('enrolling');
    void this.#notify.status('enrolling with the hub');
    const enrolled = await this.#enrolWithRetry();
    this.#credential = enrolled.credential;
    if (enrolled.agentSpecJson) this.#offerSpec(enrolled.agentSpecJson);
    if (this.#stopping.signal.aborted) return;

    this.#transition('starting');
    this.#metrics = new SystemMetrics(cfg.stateDir);
    const runtime = this.#makeRuntime();
    this.#runtime = runtime;
    this.#supervisor = new ChildSupervisor({
      name: runtime.kind,
      prepare: () => runtime.prepare(),
      waitReady: (pid, signal) => runtime.waitReady(pid, signal),
      fatalExitCodes: runtime.fatalExitCodes,
      ...(runtime.startupFatalExitCodes ? { startupFatalExitCodes: runtime.startupFatalExitCodes } : {}),
      stopTimeoutMs: gatewayDrainBudgetMs(cfg.shutdownTimeoutMs),
      startTimeoutMs: 120_000,
      pidFile: join(cfg.stateDir, 'run', 'gateway.pid'),
      onOutput: (line, stream) => this.#log.info('gateway output', { stream, line: line.slice(0, 2000) }),
      log: this.#log,
    });
    const conn = new HubConnection({
      credential: this.#credential,
      credentialValue: () => this.#credential?.credential ?? '',
      onUnauthenticated: () => this.#swapCredential(),
      hello: () => ({
        bootId: this.bootId,
        agentdVersion: VERSION,
        runtimeVersions: {
          agentdNode: process.versions.node,
          ...(runtime.kind === 'openclaw' ? { node: this.#cfg.runtime.nodeVersion ?? PINNED_RUNTIME.node } : { node: process.versions.node }),
          [runtime.kind]: runtime.version,
        },
        capabilities: this.#runner?.kinds ?? [],
        ...(this.#runner ? { ledger: this.#runner.ledger() } : {}),
      }),
      heartbeat: () => this.#heartbeat(),
      log: this.#log,
    });
    this.#conn = conn;
    conn.on('spec', (json) => this.#offerSpec(json));
    conn.on('brain', (grant) => this.#onGrant(grant));
    conn.on('secrets', (manifest) => {
      if (this.#secrets.offerManifest(manifest)) void this.#loadSecrets('hub manifest');
    });
    this.#runner = new CommandRunner({
      journal: this.#journal,
      bootId: this.bootId,
      handlers: this.#handlers(),
      send: (m) => conn.send(m),
      timeoutMs: cfg.commandTimeoutMs,
      log: this.#log,
    });
    conn.on('command', (cmd) => this.#runner?.handle(cmd));
    this.#supervisor.on('state', (s) => this.#onGatewayState(s));
    conn.start();
    this.#notify.startWatchdog(() => this.#state === 'starting' || this.#state === 'running');

    if (runtime instanceof OpenClawRuntime) await this.#install(runtime);
    if (this.#stopping.signal.aborted) return;
    await this.#prepareBrain();
    if (this.#stopping.signal.aborted) return;
    if (runtime instanceof OpenClawRuntime && !this.#secrets.loaded) {
      this.#installing = 'waiting for the agent secrets from the hub';
      const got = await this.#secrets.waitLoaded(cfg.secretsWaitMs, this.#stopping.signal);
      this.#installing = '';
      // Starting degraded is better than not starting: the missing names show in health, and the
      // gateway reloads when the values arrive. Nothing is started with a blank value.
      if (!got && !this.#stopping.signal.aborted) this.#log.warn('no secrets from the hub in time; starting the gateway without them', { waitedMs: cfg.secretsWaitMs });
    }
    if (this.#stopping.signal.aborted) return;
    if (this.paused) {
      this.#log.info('agent is paused; not starting the gateway');
      void this.#notify.ready('paused');
    } else {
      await this.#supervisor.start();
    }
    if ((this.#state as AgentdState) === 'starting') this.#transition('running');
  }

  #makeRuntime(): GatewayRuntime {
    const rt = this.#cfg.runtime;
    if (rt.kind === 'placeholder') return new PlaceholderRuntime(this.#cfg.stateDir);
    const manager = new RuntimeManager({
      root: rt.root as string,
      log: this.#log,
      onProgress: (message) => {
        this.#installing = message;
        this.#log.info('runtime install', { message });
        this.#conn?.heartbeatNow();
      },
    });
    const runtime = new OpenClawRuntime({
      stateDir: join(this.#cfg.stateDir, 'openclaw'),
      workspaceDir: rt.workspaceDir as string,
      port: rt.gatewayPort,
      // The release an upgrade chose outlives agentd restarts (journal); the config's pin is the default.
      set: { node: rt.nodeVersion ?? PINNED_RUNTIME.node, openclaw: this.#journal?.getSetting('openclawVersion') ?? rt.openclawVersion ?? PINNED_RUNTIME.openclaw },
      manager,
      spec: () => this.spec(),
      log: this.#log,
      secrets: this.#secrets,
      secretsSocket: join(this.#cfg.stateDir, 'run', 'secrets.sock'),
      secretFiles: this.#secretFiles,
    });
    this.#probe = new GatewayProbe({
      port: rt.gatewayPort,
      token: () => runtime.gatewayToken,
      log: this.#log,
      httpIntervalMs: rt.probeIntervalMs,
      rpcIntervalMs: rt.rpcIntervalMs,
      onChange: () => this.#conn?.heartbeatNow(),
    });
    return runtime;
  }

  /** Installs the pinned runtime before the first start, retrying while the registry is unreachable. */
  async #install(runtime: OpenClawRuntime): Promise<void> {
    const backoff = new Backoff({ initialDelayMs: 2000, maxDelayMs: 60_000 });
    for (;;) {
      this.#installing = `installing openclaw@${runtime.version}`;
      void this.#notify.status(this.#installing);
      try {
        await runtime.ensureInstalled(this.#stopping.signal);
        this.#installing = '';
        return;
      } catch (err) {
        const e = PlaneError.from(err);
        if (this.#stopping.signal.aborted) return;
        this.#installing = `runtime install failed: ${e.message}`;
        this.#log.error('runtime install failed', { reason: e.message, code: e.code });
        this.#conn?.send({ event: { kind: 'runtime.install_failed', severity: 'error', message: e.message, attributes: {}, atMs: Date.now() } });
        // A version below the safe minimum or a failed integrity check will not fix itself.
        if (e.code === ErrorCode.FailedPrecondition || e.code === ErrorCode.InvalidArgument || e.code === ErrorCode.NotFound) throw e;
        if (!(await sleep(backoff.next(), this.#stopping.signal))) return;
      }
    }
  }

  get #syncEnabled(): boolean {
    return this.#cfg.sync.enabled && this.#cfg.runtime.workspaceDir !== undefined;
  }

  #onGrant(grant: BrainGrant__Output): void {
    for (const event of this.#pendingBrainEvents.splice(0)) this.#conn?.send({ event });
    const first = this.#grant === undefined;
    this.#grant = grant;
    this.#grantWaiter?.();
    if (!this.#syncEnabled || first) {
      if (first && this.#brainBoot === 'late') void this.#attachBrain(grant, false);
      return;
    }
    const fence = Number(grant.writerFence);
    if (this.#brain && fence !== this.#fence) {
      this.#fence = fence;
      this.#brain.leaseGranted(fence).catch((err: unknown) => this.#log.error('brain lease claim failed', { reason: PlaneError.from(err).message }));
    }
  }

  /**
   * Before the gateway starts: wait for the hub's grant (bucket, data key, lease)
   * and restore the brain. A machine with a brain of its own on disk waits at
   * most sync.bootWaitMs for the hub, then starts on what it has; a blank machine
   * waits, since starting blank would fork the agent's memory.
   */
  async #prepareBrain(): Promise<void> {
    if (!this.#syncEnabled) return;
    const hasLocal = existsSync(join(this.#cfg.stateDir, 'sync', 'state.json'));
    if (!this.#grant) {
      this.#installing = 'waiting for the hub to grant the brain';
      const got = await new Promise<boolean>((resolve) => {
        const timer = hasLocal ? setTimeout(() => resolve(false), this.#cfg.sync.bootWaitMs) : undefined;
        const done = (): void => {
          clearTimeout(timer);
          resolve(this.#grant !== undefined);
        };
        this.#grantWaiter = done;
        this.#stopping.signal.addEventListener('abort', done, { once: true });
      });
      this.#grantWaiter = undefined;
      this.#installing = '';
      if (!got) {
        if (!this.#stopping.signal.aborted) {
          this.#log.warn('no brain grant from the hub in time; starting on the local brain, sync starts when the hub answers', { waitedMs: this.#cfg.sync.bootWaitMs });
          this.#brainBoot = 'late';
        }
        return;
      }
    }
    if (this.#grant) await this.#attachBrain(this.#grant, true);
  }

  /** Opens the bucket, restores (or adopts) the brain, retrying with backoff, then starts syncing. */
  async #attachBrain(grant: BrainGrant__Output, restore: boolean): Promise<void> {
    if (!grant.bucketUrl) {
      this.#log.info('the hub has no bucket for this agent; brain sync off');
      this.#brainBoot = 'done';
      return;
    }
    const rt = this.#cfg.runtime;
    this.#fence = Number(grant.writerFence);
    const backoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 30_000 });
    ensureDir(rt.workspaceDir as string, 0o700);
    for (;;) {
      try {
        const bucket = await openBucket(grant.bucketUrl, grant.gcsApiEndpoint ? { gcsApiEndpoint: grant.gcsApiEndpoint } : {});
        const store = new BrainStore({ bucket, plane: this.#cfg.plane, agent: this.#cfg.agent, key: new BrainKey(Buffer.from(grant.dataKey)) });
        const sync = new BrainSync({
          store,
          workspaceDir: rt.workspaceDir as string,
          databaseDir: join(this.#cfg.stateDir, 'openclaw'),
          stateDir: this.#cfg.stateDir,
          fence: () => this.#fence || undefined,
          log: this.#log,
          settings: this.#cfg.sync,
          onChange: () => this.#conn?.heartbeatNow(),
          onRepair: (r) => this.#brainEvent('brain.repair', 'warning', `the bucket no longer held what this agent had uploaded (${r.reason}); every chunk of snapshot ${r.snapshot} was uploaded again`, {
            snapshot: r.snapshot,
            reason: r.reason,
            files: String(r.files),
            lost: r.lost.join('\n'),
          }),
        });
        const r = await sync.restoreOnBoot({
          restore,
          onProgress: (message) => {
            if (restore) this.#installing = message;
            this.#conn?.heartbeatNow();
          },
        });
        if (restore) this.#installing = '';
        this.#log.info('brain ready', { ...r, bucket: bucket.url, fence: this.#fence });
        this.#brainEvent('brain.boot', 'info', `brain ${r.action}${r.snapshot ? ` (${r.snapshot})` : ''}`, { action: r.action, files: String(r.files), ms: String(r.ms) });
        const f = r.fallback;
        if (f) {
          this.#brainEvent('brain.restore_fallback', 'error', `restored snapshot ${f.used}${f.newest ? ` instead of ${f.newest}` : ''}: ${f.reason}; ${f.unrestoredCount ?? 0} path(s) not restored as of the newest snapshot`, {
            newest: f.newest ?? '',
            used: f.used ?? '',
            reason: f.reason ?? '',
            unrestored: (f.unrestored ?? []).join('\n'),
            unrestoredCount: String(f.unrestoredCount ?? 0),
          });
        }
        this.#brain = sync;
        this.#brainBoot = 'done';
        if (!this.#stopping.signal.aborted) await sync.start();
        return;
      } catch (err) {
        const e = PlaneError.from(err);
        if (e instanceof StaleWriterError) {
          this.#installing = '';
          this.#log.error('brain: this boot is not the writer; not syncing', { reason: e.message });
          return;
        }
        if (restore) this.#installing = `restoring brain: ${e.message}`;
        this.#log.error('brain restore failed; retrying', { reason: e.message, code: e.code });
        this.#conn?.heartbeatNow();
        if (e.code === ErrorCode.InvalidArgument || !(await sleep(backoff.next(), this.#stopping.signal))) return;
      }
    }
  }

  /**
   * An event for the hub (brain.repair and brain.restore_fallback go to its
   * audit log). Sent again after the next HelloAck when the stream is down.
   */
  #brainEvent(kind: string, severity: string, message: string, attributes: Record<string, string>): void {
    const event = { kind, severity, message, attributes, atMs: Date.now() };
    if (!this.#conn?.send({ event }) && kind !== 'brain.boot') this.#pendingBrainEvents = [...this.#pendingBrainEvents, event].slice(-20);
  }

  #onGatewayState(s: SupervisorState): void {
    if (s.kind === 'running') {
      this.#probe?.start();
      void this.#notify.ready(`gateway ready (${this.#runtime?.kind ?? ''} ${this.#runtime?.version ?? ''})`);
    } else if (s.kind === 'failed') {
      // agentd itself is up and reporting; restarting it would not fix the gateway, so systemd
      // must not time the start out into a restart loop.
      this.#probe?.stop();
      void this.#notify.ready(`gateway failed: ${s.reason}`);
    } else {
      if (s.kind !== 'starting') this.#probe?.stop();
      void this.#notify.status(`gateway ${s.kind}`);
    }
    this.#conn?.heartbeatNow();
    if (s.kind === 'failed') this.#conn?.send({ event: { kind: 'gateway.failed', severity: 'error', message: s.reason, attributes: {}, atMs: Date.now() } });
  }

  #handlers(): Map<string, CommandHandler | CommandSpec> {
    const sup = (): ChildSupervisor => {
      if (!this.#supervisor) throw new PlaneError(ErrorCode.Unavailable, 'agentd is not running');
      return this.#supervisor;
    };
    const brain = (): BrainSync => {
      if (!this.#brain) throw new PlaneError(ErrorCode.FailedPrecondition, this.#syncEnabled ? 'brain sync has not started yet (no grant from the hub, or the bucket is unreachable)' : 'brain sync is off on this agent');
      return this.#brain;
    };
    const summary = (): { gateway: string; restartCount: number; paused: boolean } => ({ gateway: sup().state.kind, restartCount: sup().restartCount, paused: this.paused });
    return new Map<string, CommandHandler | CommandSpec>([
      ...logsCommands(this.#ring, (m) => this.#conn?.send(m) ?? false),
      ['ping', async () => ({ pong: Date.now(), bootId: this.bootId })],
      [
        'upgrade',
        {
          // Installing a release (~650 MB), two gateway starts and possibly a restore.
          timeoutMs: 20 * 60_000,
          run: async (args) => {
            const rt = this.#runtime;
            if (!(rt instanceof OpenClawRuntime)) throw new PlaneError(ErrorCode.FailedPrecondition, `upgrade needs the openclaw runtime; this agent runs ${rt?.kind ?? 'none'}`);
            return upgradeOpenClaw(
              {
                runtime: rt,
                supervisor: sup(),
                brain,
                counts: () => this.#brainCounts(),
                persistVersion: (version, previous) => {
                  this.#journal?.setSetting('openclawVersion', version);
                  this.#journal?.setSetting('openclawPrevious', previous);
                },
                paused: () => this.paused,
                openclawStateDir: join(this.#cfg.stateDir, 'openclaw'),
                scratchDir: preflightScratch(this.#cfg.stateDir),
                log: this.#log,
                onChange: () => this.#conn?.heartbeatNow(),
              },
              args,
            );
          },
        },
      ],
      ['refresh-secrets', async () => this.#loadSecrets('refresh-secrets command')],
      [
        'rotate-secrets',
        {
          // Re-encrypting a big brain's history is bounded by the bucket, not by this machine.
          timeoutMs: 20 * 60_000,
          run: async (args) => {
            const regenerate = args['regenerate'] !== false;
            // The data key first: if re-encryption fails, nothing else has changed yet and a retry resumes it.
            const dataKey = regenerate && args['dataKey'] !== false && this.#brain ? await this.#rotateDataKey(this.#brain) : undefined;
            let credentialHash: string | undefined;
            if (regenerate) {
              credentialHash = this.#rotateCredential();
              if (this.#runtime instanceof OpenClawRuntime) this.#runtime.rotateToken();
            }
            // External secrets are re-read; a new gateway token needs a restart to take effect.
            const r = await this.#loadSecrets('rotate-secrets command', regenerate);
            const regenerated = regenerate ? ['agent-credential', 'gateway-token', ...(dataKey ? ['brain-data-key'] : [])] : [];
            return { ...r, regenerated, ...(credentialHash ? { credentialHash } : {}), ...(dataKey ? { dataKey } : {}) };
          },
        },
      ],
      [
        'sync-now',
        async (args) => {
          const r = await brain().push({
            reason: args['manual'] === true ? 'manual' : 'push',
            databases: args['databases'] !== false,
            full: true,
            allowDeletes: args['allowDeletes'] === true,
          });
          return { ...r, sync: brain().status() };
        },
      ],
      [
        'restore',
        async (args) => {
          const id = args['snapshot'];
          if (typeof id !== 'string' || !id) throw new PlaneError(ErrorCode.InvalidArgument, 'restore needs args.snapshot');
          // Stop the gateway, restore, start it, and check that what it starts on is the snapshot.
          await sup().stop();
          const r = await brain().restoreSnapshot(id);
          const found = await this.#brainCounts();
          let gateway = 'stopped (paused)';
          if (!this.paused) {
            const s = await sup().start();
            gateway = s.kind === 'failed' ? `failed: ${s.reason}` : s.kind;
          }
          const continuity = { sessions: { expected: r.sessions, found: found.sessions }, memoryFiles: { expected: r.memoryFiles, found: found.memoryFiles }, gateway };
          if (found.sessions !== r.sessions || found.memoryFiles !== r.memoryFiles || gateway.startsWith('failed')) {
            throw new PlaneError(ErrorCode.FailedPrecondition, `restored ${id} but continuity check failed: ${JSON.stringify(continuity)}`);
          }
          return { ...r, continuity };
        },
      ],
      [
        'reconfigure',
        async (args) => {
          if (!this.#acceptSpec(args['spec'])) return { changed: false, ...summary() };
          // Re-render and validate through a restart; a paused agent picks it up on resume.
          if (!this.paused && sup().state.kind !== 'stopped') {
            const s = await sup().restart();
            if (s.kind === 'failed') throw new PlaneError(ErrorCode.FailedPrecondition, `gateway did not start with the new spec: ${s.reason}`);
          }
          return { changed: true, ...summary() };
        },
      ],
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

  /**
   * Loads the agent's secrets from the hub and applies them to a running gateway:
   * `secrets reload` when only resolver-served values changed, a restart when a
   * value the gateway holds in its environment changed (or restart is forced).
   */
  #loadSecrets(reason: string, forceRestart = false): Promise<{ revision: string; changed: string[]; missing: string[]; gateway: string }> {
    const run = async (): Promise<{ revision: string; changed: string[]; missing: string[]; gateway: string }> => {
      const conn = this.#conn;
      if (!conn) throw new PlaneError(ErrorCode.Unavailable, 'not connected to the hub');
      const rt = this.#runtime;
      const need = rt instanceof OpenClawRuntime ? rt.requiredSecrets() : { exec: [], env: [], file: [] };
      const r = await this.#secrets.load(conn, [...need.exec, ...need.env, ...need.file]);
      const sup = this.#supervisor;
      let gateway = 'unchanged';
      const live = sup !== undefined && (sup.state.kind === 'running' || sup.state.kind === 'starting');
      if (rt instanceof OpenClawRuntime && sup && live && !this.paused) {
        // Environment values and channel token files are read at start: those need a restart.
        const envChanged = r.changed.some((n) => need.env.includes(n) || need.file.includes(n));
        const execChanged = r.changed.some((n) => need.exec.includes(n));
        if (forceRestart || envChanged) {
          const s = await sup.restart();
          gateway = s.kind === 'failed' ? `failed: ${s.reason}` : 'restarted';
        } else if (execChanged) {
          try {
            await rt.reloadSecrets();
            gateway = 'reloaded';
          } catch (err) {
            this.#log.warn('secrets reload failed; restarting the gateway', { reason: PlaneError.from(err).message });
            const s = await sup.restart();
            gateway = s.kind === 'failed' ? `failed: ${s.reason}` : 'restarted';
          }
        }
      }
      this.#log.info('secrets applied', { reason, revision: r.revision, changed: r.changed, missing: r.missing, gateway });
      this.#conn?.heartbeatNow();
      if (gateway.startsWith('failed')) throw new PlaneError(ErrorCode.FailedPrecondition, `gateway did not come back after new secrets: ${gateway}`);
      return { revision: r.revision, changed: r.changed, missing: r.missing, gateway };
    };
    const next = this.#secretsChain.then(run, run);
    this.#secretsChain = next.catch((err: unknown) => this.#log.error('loading secrets failed', { reason: PlaneError.from(err).message }));
    return next;
  }

  /**
   * Asks the hub to stage a new brain data key (it answers with the ring: new
   * key first), re-encrypts every snapshot with it, then keeps only the new key.
   * The hub drops the old one when this command's result names the new key's id.
   */
  async #rotateDataKey(brain: BrainSync): Promise<{ keyId: string; snapshots: number; rewritten: number; chunks: number; deleted: number; ms: number }> {
    const conn = this.#conn;
    if (!conn) throw new PlaneError(ErrorCode.Unavailable, 'not connected to the hub');
    const res = await conn.requestSecrets([BRAIN_KEY_SECRET], 30_000, { rotateDataKey: true });
    const raw = res.values[BRAIN_KEY_SECRET];
    if (!raw) throw new PlaneError(ErrorCode.FailedPrecondition, 'the hub sent no brain data key ring for the rotation');
    const ring = new BrainKey(Buffer.from(raw));
    raw.fill(0);
    const r = await brain.rekey(ring, (m) => this.#log.info('data key rotation', { progress: m }));
    brain.useKey(ring.currentOnly());
    this.#log.info('brain data key rotated', { ...r });
    return r;
  }

  /**
   * Agent credential rotation, made on this machine: the hub learns only the
   * new secret's hash (in this command's result) and switches to it. Until a
   * connection proves which one the hub holds, the other is kept as the alternate.
   */
  #rotateCredential(): string {
    const cur = this.#credential;
    if (!cur) throw new PlaneError(ErrorCode.FailedPrecondition, 'not enrolled');
    const secret = newSecret();
    const next = { ...cur, credential: `apc1.${cur.agentId}.${secret}`, alternate: cur.credential };
    new CredentialStore(this.#cfg.stateDir).save(next);
    this.#credential = next;
    this.#log.info('agent credential rotated; the hub switches on this command result');
    return hashSecret(secret);
  }

  /** The hub refused our credential: try the alternate once (a rotation cut off half-way). */
  #swapCredential(): boolean {
    const cur = this.#credential;
    if (!cur?.alternate || Date.now() - this.#credentialSwapAt < 30_000) return false;
    this.#credentialSwapAt = Date.now();
    const next = { ...cur, credential: cur.alternate, alternate: cur.credential };
    new CredentialStore(this.#cfg.stateDir).save(next);
    this.#credential = next;
    return true;
  }

  /** Sessions in the live databases and memory files in the workspace, as a restore should have left them. */
  async #brainCounts(): Promise<{ sessions: number; memoryFiles: number }> {
    const dbDir = join(this.#cfg.stateDir, 'openclaw');
    let sessions = -1;
    for (const rel of await findDatabases(dbDir)) {
      const n = countSessions(join(dbDir, rel));
      if (n >= 0) sessions = Math.max(0, sessions) + n;
    }
    const ws = this.#cfg.runtime.workspaceDir as string;
    const { files } = await scanTree(ws, '', { maxFileBytes: this.#cfg.sync.maxFileBytes });
    return { sessions, memoryFiles: [...files.keys()].filter(isMemoryFile).length };
  }

  #gatewayStatus(): GatewayStatus {
    const sup = this.#supervisor;
    const s = sup?.state ?? { kind: 'stopped' as const };
    const paused = this.paused && (s.kind === 'stopped' || s.kind === 'stopping');
    const installing = this.#installing !== '' && s.kind === 'stopped';
    const snap: GatewaySnapshot | undefined = s.kind === 'running' ? this.#probe?.snapshot : undefined;
    // Running means the supervisor saw it ready; the probes may later say otherwise. Ready is
    // claimed only after the first RPC probe, which is what reveals a missing model key.
    const probing = snap !== undefined && snap.rpcAtMs === 0;
    const ready = s.kind === 'running' && (snap ? !probing && (snap.ready || snap.failing[0] === 'not probed yet') : true);
    const pid = 'pid' in s ? s.pid : 0;
    let state: GatewayState = gatewayStateOf[s.kind];
    if (paused) state = 'GATEWAY_STATE_PAUSED';
    else if (installing) state = 'GATEWAY_STATE_INSTALLING';
    return {
      state,
      ready,
      failing: s.kind === 'running' ? (probing ? ['first probe pending'] : snap && !ready ? snap.failing : (snap?.pluginErrors ?? [])) : [installing ? this.#installing : s.kind],
      runtime: this.#runtime?.kind ?? 'none',
      version: snap?.version || (this.#runtime?.version ?? ''),
      restartCount: sup?.restartCount ?? 0,
      lastError: s.kind === 'failed' ? s.reason : installing ? this.#installing : (sup?.lastError ?? ''),
      eventLoopDelayMs: snap?.eventLoopDelayMs ?? 0,
      rssBytes: snap?.rssBytes ?? 0,
      degradedSecretOwners: s.kind === 'running' ? [...new Set([...(this.#runtime instanceof OpenClawRuntime ? this.#runtime.missingSecrets : []), ...(snap?.degradedSecretOwners ?? [])])] : [],
      pid,
      startedAtMs: 'sinceMs' in s ? s.sinceMs : 0,
    };
  }

  #usage(): TokenUsage | null {
    const u = this.#probe?.snapshot.usage;
    if (!u) return null;
    const conv = (t: { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; totalTokens: number; totalCostUsd: number }) => ({
      inputTokens: t.inputTokens,
      outputTokens: t.outputTokens,
      cacheReadTokens: t.cacheReadTokens,
      cacheWriteTokens: t.cacheWriteTokens,
      totalTokens: t.totalTokens,
      totalCostUsd: t.totalCostUsd,
    });
    return { ...conv(u), byModel: u.byModel.map((m) => ({ model: m.model, ...conv(m) })), observedAtMs: u.observedAtMs };
  }

  #heartbeat(): Omit<Heartbeat, 'seq' | 'sentAtMs'> {
    const gateway = this.#gatewayStatus();
    return {
      gateway,
      resources: this.#metrics?.sample(gateway.pid ? Number(gateway.pid) : undefined) ?? null,
      sync: this.#brain?.status() ?? { state: this.#syncEnabled ? (this.#grant ? 'restoring' : 'waiting-lease') : 'disabled', lastError: this.#syncEnabled ? this.#installing : '' },
      secretsVersion: this.#secrets.revision,
      usage: this.#usage(),
      paused: this.paused,
    };
  }

  /** What `agentd status` shows: everything an operator on the VM needs, no secret values. */
  status(): AgentdStatus {
    const rt = this.#runtime;
    const spec = this.spec();
    return {
      plane: this.#cfg.plane,
      agent: this.#cfg.agent,
      agentId: this.#credential?.agentId ?? null,
      agentd: { state: this.#state, version: VERSION, bootId: this.bootId, uptimeS: Math.round((Date.now() - this.#startedAt) / 1000), pid: process.pid },
      hub: { address: this.#credential?.hub ?? null, connection: this.#conn?.state ?? 'idle' },
      paused: this.paused,
      model: spec?.model ?? null,
      toolsNotEnforced: unmappedTools(spec?.tools ?? []),
      channelsPending: spec ? pendingChannels(spec, (n) => this.#secrets.has(n)).map((p) => `${p.channel} (${p.reason})`) : [],
      runtime:
        rt instanceof OpenClawRuntime
          ? { kind: rt.kind, openclaw: rt.version, node: rt.nodeVersion, port: rt.port, configPath: rt.configPath, installed: Boolean(rt.paths) }
          : { kind: rt?.kind ?? 'none' },
      gateway: this.#gatewayStatus(),
      usage: this.#usage(),
      secrets: {
        revision: this.#secrets.revision,
        loaded: this.#secrets.describe(),
        missing: rt instanceof OpenClawRuntime ? rt.missingSecrets : [],
        resolverRequests: this.#resolver?.served ?? 0,
        lastError: this.#secrets.lastError,
      },
      // Heartbeat numbers are plain numbers here (never Long): the view's type says so.
      brain: this.#brain ? { ...(this.#brain.status() as SyncView), skippedList: this.#brain.skippedFiles(50) } : null,
    };
  }

  /** `agentd doctor`: OpenClaw's own validators and audits plus our checks, each with a fix hint. */
  async doctor(): Promise<DoctorReport> {
    const rt = this.#runtime;
    const gw = this.#gatewayStatus();
    if (rt instanceof OpenClawRuntime) {
      return runDoctor(rt, { stateDir: this.#cfg.stateDir, hubState: this.#conn?.state ?? 'idle', gatewayReady: gw.ready ?? false });
    }
    const checks = [modeCheck('agentd state dir mode', this.#cfg.stateDir, 0o700), modeCheck('credential file mode', join(this.#cfg.stateDir, 'credential.json'), 0o600)];
    checks.push({ name: 'runtime', status: 'warn', detail: 'placeholder child: no OpenClaw gateway to check', hint: 'set runtime.kind: openclaw in the agentd config' });
    return { status: checks.some((c) => c.status === 'fail') ? 'fail' : 'warn', checks };
  }

  /** Tells the hub, if connected, that something happened to this machine (e.g. a Spot preemption). */
  report(kind: string, message: string): void {
    this.#conn?.send({ event: { kind, severity: 'warning', message, attributes: { bootId: this.bootId }, atMs: Date.now() } });
  }

  /**
   * Graceful stop: no new commands, let running ones finish, drain the gateway,
   * tell the hub, close the stream. Bounded by the caller's deadline.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#transition('stopping');
    this.#stopping.abort();
    // Not awaited: systemd-notify may wait seconds for the manager, and the drain budget is ours.
    void this.#notify.stopping('draining the gateway');
    await this.#runner?.drain(commandDrainBudgetMs(this.#cfg.shutdownTimeoutMs));
    this.#probe?.stop();
    await this.#supervisor?.stop();
    let finalSync: Awaited<ReturnType<BrainSync['finalSync']>> | undefined;
    if (this.#brain) {
      // The gateway is down, so its databases are quiet: the last push loses nothing.
      finalSync = await this.#brain.finalSync(finalSyncBudgetMs(this.#cfg.shutdownTimeoutMs));
      this.#log.info('final brain sync', { ...finalSync });
    }
    // A stream dropped a moment ago (a stalled hub, a network blip) gets a short chance to come back,
    // so the hub hears why this agent goes away instead of only seeing it disconnect.
    if (this.#conn && !(await this.#conn.whenConnected(STOP_REPORT_WAIT_MS))) this.#log.warn('not connected to the hub at stop; it will only see the stream end', { waitedMs: STOP_REPORT_WAIT_MS });
    if (finalSync) this.#conn?.send({ event: { kind: 'brain.final_sync', severity: 'committed' in finalSync ? 'info' : 'error', message: JSON.stringify(finalSync), attributes: {}, atMs: Date.now() } });
    this.#conn?.send({ event: { kind: 'agentd.stopping', severity: 'info', message: 'agentd is shutting down', attributes: { bootId: this.bootId }, atMs: Date.now() } });
    this.#conn?.heartbeatNow();
    await this.#conn?.close();
    await this.#operator?.close();
    await this.#resolver?.close();
    this.#secretFiles.clear();
    this.#secrets.wipe();
    this.#notify.close();
    this.#journal?.close();
    this.#transition('stopped');
  }

  async #enrolWithRetry(): Promise<Awaited<ReturnType<typeof ensureEnrolled>>> {
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
}
