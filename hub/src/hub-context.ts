import type { EventEmitter } from 'node:events';
import type { Logger } from '../../common/src/logger.ts';
import type { CostLedger } from './cost/cost-ledger.ts';
import type { PriceTable } from './cost/price-table.ts';
import type { Db } from './db/database.ts';
import type { SessionRegistry } from './grpc/session-registry.ts';
import type { InfraRegistry } from './infra/infra-registry.ts';
import type { CommandRecord, PlaneRecord } from './model.ts';
import type { AgentsStore } from './store/agents-store.ts';
import type { ApiTokens } from './store/api-tokens.ts';
import type { AuditLog } from './store/audit-log.ts';
import type { CommandStore } from './store/command-store.ts';
import type { HealingStore } from './store/healing-store.ts';
import type { HeartbeatStore } from './store/heartbeat-store.ts';
import type { PlanesStore } from './store/planes-store.ts';
import type { WriterLeases } from './store/writer-leases.ts';
import type { SecretsService } from './secrets/secrets-service.ts';
import type { LogChunk__Output, Event__Output } from '../../proto/index.ts';
import type { KeySource } from './grpc/instance-identity.ts';

export interface HubEvents {
  /** A command changed state (delivered, accepted, finished). */
  command: [CommandRecord];
  /** A log chunk answering a "logs" command. */
  logChunk: [agentId: string, chunk: LogChunk__Output];
  agentEvent: [agentId: string, event: Event__Output];
  connected: [agentId: string];
  disconnected: [agentId: string];
}

/** Everything the hub's parts share; built once by Hub, passed down, never global. */
export interface HubContext {
  readonly version: string;
  readonly dataDir: string;
  readonly heartbeatIntervalMs: number;
  readonly enrollmentTokenTtlMs: number;
  readonly commandTtlMs: number;
  readonly logsTailDeadlineMs: number;
  readonly log: Logger;
  readonly db: Db;
  readonly planes: PlanesStore;
  readonly agents: AgentsStore;
  readonly commands: CommandStore;
  readonly heartbeats: HeartbeatStore;
  readonly audit: AuditLog;
  readonly apiTokens: ApiTokens;
  readonly sessions: SessionRegistry;
  readonly infra: InfraRegistry;
  readonly secrets: SecretsService;
  readonly leases: WriterLeases;
  /** What agents cost, per day; fed from heartbeats and machine time. */
  readonly ledger: CostLedger;
  /** The price table in force for a plane: defaults, then the hub's prices, then the plane's. */
  prices(plane: PlaneRecord): PriceTable;
  /** Self-healing attempts and circuit breakers per agent. */
  readonly healing: HealingStore;
  /** Where brains live (file:// or gs://) and, in tests, the GCS stand-in. */
  readonly brain: { bucketUrl: string; gcsApiEndpoint?: string; syncLagYellowMs: number };
  readonly events: EventEmitter<HubEvents>;
  /** Aborted when the hub starts closing: long polls return at once instead of holding shutdown. */
  readonly closing: AbortSignal;
  /** Instance-identity enrolment: off unless enabled; the audience tokens must carry; Google's keys. */
  readonly instanceIdentity: { enabled: boolean; audience: () => string; keys: KeySource };
  /** host:port agents dial, and the CA they pin. */
  grpcAddress(): string;
  caPem(): string;
}
