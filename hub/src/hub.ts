import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../common/src/files.ts';
import { Logger, type LogSink } from '../../common/src/logger.ts';
import { VERSION } from '../../common/src/version.ts';
import { loadContract } from '../../proto/index.ts';
import { type ApiRoute, buildApi } from './api/api-server.ts';
import { BudgetGuard } from './cost/budget-guard.ts';
import { CostLedger } from './cost/cost-ledger.ts';
import { resolvePriceTable } from './cost/price-table.ts';
import { type Db, openDatabase } from './db/database.ts';
import { Fleet } from './fleet.ts';
import { createAgentService } from './grpc/agent-service.ts';
import { RemoteJwks } from './grpc/instance-identity.ts';
import { defaultAudience } from '../../common/src/instance-identity.ts';
import { SessionRegistry } from './grpc/session-registry.ts';
import type { HubContext, HubEvents } from './hub-context.ts';
import { type CompiledHubOptions, compileHubOptions, type HubOptions } from './hub-options.ts';
import { InfraRegistry } from './infra/infra-registry.ts';
import { LocalProvider } from './infra/local-provider.ts';
import { ManualProvider } from './infra/manual-provider.ts';
import { InstanceWatch } from './infra/instance-watch.ts';
import { registerGcp } from './infra/gcp/gcp-register.ts';
import type { HealthColor } from './model.ts';
import { AgentsStore } from './store/agents-store.ts';
import { ApiTokens } from './store/api-tokens.ts';
import { AuditLog } from './store/audit-log.ts';
import { CommandStore } from './store/command-store.ts';
import { HeartbeatStore } from './store/heartbeat-store.ts';
import { PlanesStore } from './store/planes-store.ts';
import { WriterLeases } from './store/writer-leases.ts';
import { HealingStore } from './store/healing-store.ts';
import { SelfHealer } from './self-healer.ts';
import { LocalSecretStore } from './secrets/local-secret-store.ts';
import { SecretsService } from './secrets/secrets-service.ts';
import { SecretRotation } from './secrets/secret-rotation.ts';
import { CommandRuns } from './command-runs.ts';
import { RunStore } from './store/run-store.ts';
import { GcpSecretManagerProvider } from '../../common/src/secrets/gcp-secret-manager-provider.ts';
import type { SecretsProvider } from '../../common/src/secrets/secrets-provider.ts';
import { ensureHubTls, type HubTls } from './tls/certificate-authority.ts';
import { auditBrainEvents } from './brain/brain-audit.ts';
import { setUpBucket } from './brain/bucket-setup.ts';
import { JobClock } from './job-clock.ts';
import { consoleDistDir } from './console/console-assets.ts';

export type HubState = 'created' | 'starting' | 'running' | 'closing' | 'closed';

/** What a running hub tells clients (also written to <dataDir>/hub.json). */
export interface HubEndpoints {
  apiUrl: string;
  grpcAddress: string;
  adminTokenFile: string;
  caFile: string;
  pid: number;
}

/**
 * The control hub: gRPC for agents (TLS, per-agent credentials), REST for
 * admins, SQLite for fleet state. Lifecycle: created -> starting -> running ->
 * closing -> closed; every transition is logged and illegal calls throw.
 */
export class Hub {
  readonly options: CompiledHubOptions;
  readonly log: Logger;
  #state: HubState = 'created';
  #db: Db | undefined;
  #grpc: grpc.Server | undefined;
  #api: FastifyInstance | undefined;
  #ctx: HubContext | undefined;
  #fleet: Fleet | undefined;
  #local: LocalProvider | undefined;
  #endpoints: HubEndpoints | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #rotation: SecretRotation | undefined;
  readonly #closers: (() => Promise<void>)[] = [];
  #routes: ApiRoute[] = [];
  readonly #lastColor = new Map<string, HealthColor>();
  #healer: SelfHealer | undefined;
  #budgets: BudgetGuard | undefined;
  readonly #closing = new AbortController();

  constructor(options: HubOptions, logSink?: LogSink) {
    this.options = compileHubOptions(options);
    this.log = new Logger('hub', logSink ? { sink: logSink } : {});
  }

  get state(): HubState {
    return this.#state;
  }

  #transition(to: HubState): void {
    this.log.info('hub state', { from: this.#state, to });
    this.#state = to;
  }

  get endpoints(): HubEndpoints {
    if (!this.#endpoints) throw new PlaneError(ErrorCode.FailedPrecondition, 'hub is not running');
    return this.#endpoints;
  }

  get context(): HubContext {
    if (!this.#ctx) throw new PlaneError(ErrorCode.FailedPrecondition, 'hub is not running');
    return this.#ctx;
  }

  get secretRotation(): SecretRotation {
    if (!this.#rotation) throw new PlaneError(ErrorCode.FailedPrecondition, 'hub is not running');
    return this.#rotation;
  }

  get fleet(): Fleet {
    if (!this.#fleet) throw new PlaneError(ErrorCode.FailedPrecondition, 'hub is not running');
    return this.#fleet;
  }

  /** Every REST route with the role it requires (tests enumerate these). */
  get apiRoutes(): readonly ApiRoute[] {
    return this.#routes;
  }

  get localProvider(): LocalProvider {
    if (!this.#local) throw new PlaneError(ErrorCode.FailedPrecondition, 'hub is not running');
    return this.#local;
  }

  async start(): Promise<HubEndpoints> {
    if (this.#state !== 'created') throw new PlaneError(ErrorCode.FailedPrecondition, `hub cannot start from state ${this.#state}`);
    this.#transition('starting');
    try {
      return await this.#start();
    } catch (err) {
      await this.destroy();
      throw err;
    }
  }

  /** The embedded store, or Google Secret Manager through the real client (a stand-in in tests). */
  #secretsProvider(db: Db): SecretsProvider {
    const o = this.options;
    if (o.secretsProvider === 'local') return new LocalSecretStore(db, o.dataDir);
    const project = o.secretsProvider.slice('gcp-secret-manager:'.length);
    const [host, port] = (o.secretsApiEndpoint ?? '').split(':');
    const provider = new GcpSecretManagerProvider({
      project,
      ...(o.secretsApiEndpoint ? { client: { apiEndpoint: host, port: Number(port), sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' } } : {}),
    });
    this.#closers.push(() => provider.close());
    return provider;
  }

  async #start(): Promise<HubEndpoints> {
    const o = this.options;
    ensureDir(o.dataDir, 0o700);
    const firstStart = !existsSync(join(o.dataDir, 'hub.db'));
    const db = openDatabase(join(o.dataDir, 'hub.db'));
    this.#db = db;
    const tls: HubTls = await ensureHubTls(o.dataDir, o.tlsNames.concat(o.grpcHost === '0.0.0.0' ? [] : [o.grpcHost]), this.log.child('tls'));
    const apiTokens = new ApiTokens(db);
    const adminTokenFile = join(o.dataDir, 'admin.token');
    if (apiTokens.count() === 0 || !existsSync(adminTokenFile)) {
      // A lost admin.token file means a new bootstrap token; the old one must stop working.
      const revoked = apiTokens.revokeByName('admin');
      if (revoked > 0) this.log.warn('admin.token was missing: revoked the previous bootstrap admin token', { revoked });
      const { token } = apiTokens.create('admin', 'admin');
      writeFileAtomic(adminTokenFile, `${token}\n`, 0o600);
      this.log.info('wrote a new admin API token', { adminTokenFile });
    }

    const startedAt = Date.now();
    const jobs = new JobClock();
    const infra = new InfraRegistry();
    this.#local = new LocalProvider({
      root: join(o.dataDir, 'local-agents'),
      log: this.log,
      env: o.localAgentEnv,
      runtime: o.localRuntime,
      runtimeRoot: o.localRuntimeRoot ?? join(o.dataDir, 'runtime'),
      ...(o.localOpenclawVersion ? { openclawVersion: o.localOpenclawVersion } : {}),
      ...(o.localProbeIntervalMs ? { probeIntervalMs: o.localProbeIntervalMs } : {}),
      ...(o.localSyncSettings ? { sync: o.localSyncSettings } : {}),
      ...(o.localRpcIntervalMs ? { rpcIntervalMs: o.localRpcIntervalMs } : {}),
    });
    infra.register(this.#local);
    infra.register(new ManualProvider(join(o.dataDir, 'enrollment'), this.log));

    const agents = new AgentsStore(db);
    const audit = new AuditLog(db);
    const secretsProvider = this.#secretsProvider(db);
    let grpcAddress = '';
    const ctx: HubContext = {
      version: VERSION,
      dataDir: o.dataDir,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      enrollmentTokenTtlMs: o.enrollmentTokenTtlMs,
      commandTtlMs: o.commandTtlMs,
      logsTailDeadlineMs: o.logsTailDeadlineMs,
      log: this.log,
      db,
      planes: new PlanesStore(db),
      agents,
      commands: new CommandStore(db),
      heartbeats: new HeartbeatStore(db),
      audit,
      apiTokens,
      sessions: new SessionRegistry(),
      infra,
      secrets: new SecretsService({ provider: secretsProvider, db, agents, audit, log: this.log.child('secrets') }),
      leases: new WriterLeases(db),
      ledger: new CostLedger(db),
      prices: (plane) => resolvePriceTable(o.prices, plane.spec.costs?.prices),
      healing: new HealingStore(db),
      brain: {
        bucketUrl: o.bucketUrl ?? pathToFileURL(join(o.dataDir, 'bucket')).href,
        ...(o.gcsApiEndpoint ? { gcsApiEndpoint: o.gcsApiEndpoint } : {}),
        syncLagYellowMs: o.syncLagYellowMs,
      },
      events: new EventEmitter<HubEvents>(),
      closing: this.#closing.signal,
      instanceIdentity: {
        enabled: o.instanceIdentityEnrollment,
        audience: () => o.instanceIdentityAudience ?? defaultAudience(grpcAddress),
        keys: new RemoteJwks(o.googleCertsUrl),
      },
      grpcAddress: () => grpcAddress,
      caPem: () => tls.caPem,
    };
    ctx.events.setMaxListeners(0);
    this.#ctx = ctx;
    await setUpBucket({ ...ctx.brain, create: firstStart || o.createBucket, log: this.log });
    auditBrainEvents(ctx);
    const instances = new InstanceWatch({ infra, planes: () => ctx.planes.list().map((p) => ({ name: p.name, infraProvider: p.spec.infraProvider })), log: this.log });
    this.#fleet = new Fleet(ctx, instances);
    const fleet = this.#fleet;
    if (o.gcp) this.#closers.push(registerGcp(o, ctx, fleet, instances));
    // A changed namespace reaches the agent as a command: stored, delivered once, answered.
    ctx.secrets.onChange = (agent, reason) => {
      fleet.sendCommand(agent.plane, agent.name, 'refresh-secrets', { reason }, 'hub');
    };
    this.#rotation = new SecretRotation(ctx, fleet, { rotationPeriodDays: o.secretRotationDays, rotationCron: o.secretRotationCron });
    this.#rotation.start();
    if (o.selfHealing) {
      this.#healer = new SelfHealer(ctx, {
        redAfterMs: o.healRedAfterMs,
        maxAttempts: o.healMaxAttempts,
        reprovision: async (agent) => void (await fleet.reprovisionAgent(agent.plane, agent.name, 'hub:self-heal', { keepHealing: true })),
      });
    }
    this.#budgets = new BudgetGuard(ctx, this.#fleet, { enforcement: o.budgetEnforcement ?? 'pause', ...(o.budgetWebhook ? { webhook: o.budgetWebhook } : {}) });
    const runs = new CommandRuns(ctx, fleet, new RunStore(ctx.db), this.#rotation);
    runs.recover();
    // Scheduled rotation restarts gateways: as a run, a tenth of a plane at a time, stopping past a tenth failing.
    this.#rotation.scheduleRun = (plane, agents) => runs.start(plane, { kind: 'rotate-secrets', agents, maxConcurrency: '10%', maxErrors: '10%' }, 'hub:schedule').id;

    const server = new grpc.Server({
      // Agents may not send HTTP/2 keepalive pings; liveness is the Heartbeat message.
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    });
    server.addService(loadContract().agentplane.v1.AgentPlane.service, createAgentService(ctx));
    const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }], false);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${o.grpcHost}:${o.grpcPort}`, creds, (err, p) => (err ? reject(new PlaneError(ErrorCode.Unavailable, `cannot listen for gRPC on ${o.grpcHost}:${o.grpcPort}: ${err.message}`, { cause: err })) : resolve(p))),
    );
    this.#grpc = server;
    grpcAddress = o.advertiseAddress ?? `${o.grpcHost === '0.0.0.0' ? '127.0.0.1' : o.grpcHost}:${port}`;

    const https = o.apiTlsCertFile && o.apiTlsKeyFile ? { cert: readFileSync(o.apiTlsCertFile), key: readFileSync(o.apiTlsKeyFile) } : undefined;
    const { app: api, routes } = await buildApi(ctx, this.#fleet, this.#rotation, runs, {
      ...(https ? { https } : {}),
      console: { assetsDir: consoleDistDir(), runtime: { startedAt, jobs, secretsProvider, secretRotationCron: o.secretRotationCron } },
    });
    this.#api = api;
    this.#routes = routes;
    try {
      await api.listen({ host: o.apiHost, port: o.apiPort });
    } catch (err) {
      throw new PlaneError(ErrorCode.Unavailable, `cannot listen for the API on ${o.apiHost}:${o.apiPort}: ${(err as Error).message}`, { cause: err });
    }
    const addr = api.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.#endpoints = { apiUrl: `${https ? 'https' : 'http'}://${host}:${addr.port}`, grpcAddress, adminTokenFile, caFile: join(o.dataDir, 'tls', 'ca.pem'), pid: process.pid };
    writeFileAtomic(join(o.dataDir, 'hub.json'), `${JSON.stringify(this.#endpoints, null, 2)}\n`, 0o600);

    // Each periodic job is timed and its last run kept for the console's hub health page.
    const watchMs = Math.max(100, Math.floor(o.heartbeatIntervalMs / 2));
    const flush = setInterval(jobs.track('heartbeat flush', `${o.heartbeatFlushIntervalMs} ms`, () => ctx.heartbeats.flush()), o.heartbeatFlushIntervalMs);
    const watch = setInterval(jobs.track('health watch and self-healing', `${watchMs} ms`, () => this.#watchHealth()), watchMs);
    const costs = setInterval(jobs.track('cost accrual and budgets', `${o.costIntervalMs} ms`, () => this.#accrueCosts()), o.costIntervalMs);
    flush.unref();
    watch.unref();
    costs.unref();
    this.#timers.push(flush, watch, costs);

    await this.#fleet.reconcileInstances();
    this.#transition('running');
    this.log.info('hub running', { ...this.#endpoints });
    return this.#endpoints;
  }

  /**
   * Books usage and machine time into the cost ledger, then checks budgets. A
   * failure is logged and retried at the next interval; it never stops the hub.
   */
  #accrueCosts(): void {
    const ctx = this.#ctx;
    if (!ctx || this.#state !== 'running') return;
    try {
      const planes = new Map(ctx.planes.list().map((p) => [p.name, p]));
      ctx.ledger.accrue(ctx.agents.list(), planes, (p) => ctx.prices(p), (id) => ctx.heartbeats.get(id));
      this.#budgets?.check();
    } catch (err) {
      this.log.error('cost accounting failed; retrying at the next interval', { error: err });
    }
  }

  /**
   * Logs and audits every health colour change, so "when did it go red" has an
   * answer, and hands each agent's health to self-healing.
   */
  #watchHealth(): void {
    const ctx = this.#ctx;
    const fleet = this.#fleet;
    if (!ctx || !fleet || this.#state !== 'running') return;
    const now = Date.now();
    for (const agent of ctx.agents.list()) {
      const { health } = fleet.view(agent, now);
      this.#healer?.observe(agent, health, now);
      const before = this.#lastColor.get(agent.id);
      if (before === health.color) continue;
      this.#lastColor.set(agent.id, health.color);
      if (before === undefined && health.color === 'green') continue;
      this.log.info('agent health changed', { plane: agent.plane, agent: agent.name, from: before ?? 'unknown', to: health.color, reason: health.reason });
      ctx.audit.record({ actor: 'hub', action: 'agent.health', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { from: before ?? 'unknown', to: health.color, reason: health.reason } });
    }
  }

  /**
   * Graceful stop: refuse new work, end agent streams (agents reconnect to the
   * next hub), flush heartbeats, close the database. Idempotent.
   */
  async close(deadlineMs = 5000): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    this.#transition('closing');
    this.#closing.abort();
    for (const t of this.#timers.splice(0)) clearInterval(t);
    await this.#rotation?.stop();
    for (const s of this.#ctx?.sessions.all() ?? []) s.close(grpc.status.UNAVAILABLE, 'hub shutting down');
    // Webhook deliveries give up on the closing signal; a self-healing restart in progress finishes.
    await Promise.race([Promise.all([this.#healer?.settle(), this.#budgets?.settle()]), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    await Promise.all([
      this.#api?.close(),
      new Promise<void>((resolve) => {
        if (!this.#grpc) return resolve();
        const server = this.#grpc;
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    ]);
    this.#finish();
  }

  /** Immediate stop: drop every connection now. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state !== 'closing') this.#transition('closing');
    this.#closing.abort();
    for (const t of this.#timers.splice(0)) clearInterval(t);
    await this.#rotation?.stop();
    this.#grpc?.forceShutdown();
    await this.#api?.close();
    this.#finish();
  }

  #finish(): void {
    for (const c of this.#closers.splice(0)) c().catch(() => undefined);
    try {
      this.#ctx?.heartbeats.flush();
    } catch (err) {
      this.log.warn('could not flush heartbeats at close', { error: err });
    }
    if (this.#db?.open) this.#db.close();
    this.#transition('closed');
  }
}
