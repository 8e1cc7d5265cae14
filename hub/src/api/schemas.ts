import { Type } from '@sinclair/typebox';
import { ModelPrice } from '../cost/price-table.ts';
import { AgentSpec, Email, InfraProviderName, ModelTier, Name, Nullable, OuPath, PlaneCosts, PlaneModels, PlaneSpec } from '../model.ts';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable machine-readable code, e.g. not_found, invalid_argument' }),
      message: Type.String(),
      where: Type.Optional(Type.String({ description: 'the field, path or parameter at fault' })),
    }),
  },
  { $id: 'Error' },
);

export const PlaneParams = Type.Object({ planeId: Name });
export const AgentParams = Type.Object({ planeId: Name, agentId: Name });
export const CommandParams = Type.Object({ planeId: Name, agentId: Name, commandId: Type.String({ maxLength: 64 }) });

export const CreatePlaneBody = Type.Object(
  {
    name: Name,
    infraProvider: Type.Optional(InfraProviderName),
    identityProvider: Type.Optional(Type.String({ maxLength: 64 })),
    secretsProvider: Type.Optional(Type.String({ maxLength: 64 })),
    networkProvider: Type.Optional(Type.String({ maxLength: 64 })),
    region: Type.Optional(Type.String({ maxLength: 64 })),
    project: Type.Optional(Type.String({ maxLength: 64 })),
    zone: Type.Optional(PlaneSpec.properties.zone),
    network: Type.Optional(PlaneSpec.properties.network),
    subnetwork: Type.Optional(PlaneSpec.properties.subnetwork),
    defaults: Type.Optional(Type.Partial(Type.Omit(PlaneSpec.properties.defaults, []), { additionalProperties: false })),
    models: Type.Optional(PlaneModels),
    costs: Type.Optional(PlaneCosts),
  },
  { additionalProperties: false },
);

export const PlaneBody = Type.Object({
  name: Type.String(),
  spec: PlaneSpec,
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  agentCount: Type.Integer(),
});

/** Agent settings an admin may give at provisioning and change later. */
const AgentSettings = {
  machineType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  modelTier: Type.Optional(ModelTier),
  budgetCap: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  group: Type.Optional(AgentSpec.properties.group),
  tools: Type.Optional(AgentSpec.properties.tools),
  channels: Type.Optional(AgentSpec.properties.channels),
  configOverrides: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  groups: Type.Optional(AgentSpec.properties.groups),
  ou: Type.Optional(OuPath),
  spot: Type.Optional(AgentSpec.properties.spot),
};

export const ProvisionAgentBody = Type.Object(
  {
    name: Name,
    ownerEmail: Email,
    ...AgentSettings,
    diskSizeGb: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536 })),
  },
  { additionalProperties: false },
);

export const UpdateAgentBody = Type.Object(
  {
    ownerEmail: Type.Optional(Email),
    ...AgentSettings,
    diskSizeGb: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536, description: 'a disk can only grow' })),
    budgetCap: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'USD per month; null removes the cap' }))),
    configOverrides: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'null removes them' })),
    ou: Type.Optional(Nullable(OuPath)),
    waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RestartBody = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('gateway'), Type.Literal('instance')], { default: 'auto' })),
    waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300, description: 'wait this long for the command result' })),
  },
  { additionalProperties: false },
);

export const WaitBody = Type.Object(
  { waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) },
  { additionalProperties: false },
);

export const FanOutBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('restart'), Type.Literal('pause'), Type.Literal('resume'), Type.Literal('ping'), Type.Literal('sync-now')]),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const LogsQuery = Type.Object(
  {
    lines: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, default: 200 })),
    follow: Type.Optional(Type.Boolean({ default: false })),
    maxSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'how long a follow may last (default 600)' })),
  },
  { additionalProperties: false },
);

export const DeletePlaneQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export const WaitQuery = Type.Object({ waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }, { additionalProperties: false });

const Health = Type.Object({ color: Type.Union([Type.Literal('green'), Type.Literal('yellow'), Type.Literal('red')]), reason: Type.String() });

export const CommandBody = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  args: Type.Record(Type.String(), Type.Unknown()),
  actor: Type.String(),
  state: Type.String(),
  attempts: Type.Integer(),
  createdAt: Type.Integer(),
  deadlineAt: Type.Integer(),
  deliveredAt: Type.Union([Type.Integer(), Type.Null()]),
  completedAt: Type.Union([Type.Integer(), Type.Null()]),
  output: Type.Unknown(),
  errorCode: Type.Union([Type.String(), Type.Null()]),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
});

export const AgentBody = Type.Object({
  id: Type.String(),
  plane: Type.String(),
  name: Type.String(),
  owner: Type.String(),
  spec: AgentSpec,
  desiredState: Type.String(),
  enrolledAt: Type.Union([Type.Integer(), Type.Null()]),
  bootId: Type.Union([Type.String(), Type.Null()]),
  agentdVersion: Type.Union([Type.String(), Type.Null()]),
  runtimeVersions: Type.Record(Type.String(), Type.String()),
  capabilities: Type.Array(Type.String()),
  lastConnectedAt: Type.Union([Type.Integer(), Type.Null()]),
  lastDisconnectedAt: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  connected: Type.Boolean(),
  health: Health,
  heartbeat: Type.Union([
    Type.Object({ seq: Type.Integer(), receivedAt: Type.Integer(), ageMs: Type.Integer(), heartbeat: Type.Record(Type.String(), Type.Unknown()) }),
    Type.Null(),
  ]),
  healing: Type.Union([
    Type.Object({
      attempts: Type.Integer({ description: 'self-healing restarts since the agent was last green' }),
      lastAttemptAt: Type.Union([Type.Integer(), Type.Null()]),
      lastError: Type.Union([Type.String(), Type.Null()]),
      breakerOpenAt: Type.Union([Type.Integer(), Type.Null()], { description: 'set while self-healing has given up and waits for a human' }),
      breakerReason: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  instance: Type.Union(
    [
      Type.Object({
        state: Type.String({ description: 'provisioning, running, stopped, missing or unknown' }),
        location: Type.Union([Type.String(), Type.Null()], { description: 'e.g. the zone' }),
        status: Type.Union([Type.String(), Type.Null()], { description: "the cloud's own status, e.g. RUNNING, TERMINATED" }),
      }),
      Type.Null(),
    ],
    { description: 'the machine as last listed by a provider that reports drift (gcp); null otherwise' },
  ),
});

export const HealBody = Type.Object(
  { name: Type.Optional(Name) },
  { additionalProperties: false, description: 'one agent (name) or, without it, every agent of the plane' },
);

export const CostReportQuery = Type.Object(
  {
    period: Type.Optional(Type.String({ default: '30d', pattern: '^([1-9][0-9]{0,2}d|mtd)$', description: 'Nd: the last N UTC days including today; mtd: this UTC month' })),
    by: Type.Optional(Type.Union([Type.Literal('agent'), Type.Literal('owner'), Type.Literal('group')], { default: 'agent' })),
  },
  { additionalProperties: false },
);

const Usd = Type.Number({ description: 'USD' });
export const CostReportBody = Type.Object({
  plane: Type.String(),
  by: Type.String(),
  currency: Type.Literal('USD'),
  period: Type.Object({ spec: Type.String(), from: Type.String(), to: Type.String(), days: Type.Integer() }),
  rows: Type.Array(
    Type.Object({
      key: Type.String({ description: 'the agent, owner or group' }),
      agents: Type.Array(Type.String()),
      infraUsd: Usd,
      modelUsd: Usd,
      totalUsd: Usd,
      machineHours: Type.Number(),
      inputTokens: Type.Integer(),
      outputTokens: Type.Integer(),
      totalTokens: Type.Integer(),
      unpricedMachineTypes: Type.Array(Type.String()),
      byModel: Type.Array(Type.Object({ model: Type.String(), totalTokens: Type.Integer(), costUsd: Usd })),
      owner: Type.Optional(Type.String()),
      group: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      machineType: Type.Optional(Type.String()),
      modelTier: Type.Optional(Type.String()),
      removed: Type.Optional(Type.Boolean()),
      labels: Type.Optional(Type.Record(Type.String(), Type.String())),
      budgetCapUsd: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
      monthToDateUsd: Type.Optional(Usd),
      budgetUsedPct: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    }),
  ),
  totals: Type.Object({ infraUsd: Usd, modelUsd: Usd, totalUsd: Usd, machineHours: Type.Number(), totalTokens: Type.Integer() }),
  prices: Type.Object({ machineHourlyUsd: Type.Record(Type.String(), Type.Number()), diskGbMonthUsd: Type.Number(), modelPerMTokUsd: Type.Record(Type.String(), ModelPrice) }),
  generatedAt: Type.String(),
});

const Wait = Type.Optional(Type.Integer({ minimum: 0, maximum: 300, description: 'wait this long for the command result' }));

export const BackupBody = Type.Object({ waitSeconds: Wait }, { additionalProperties: false });

export const SyncBody = Type.Object(
  {
    databases: Type.Optional(Type.Boolean({ default: true, description: 'also take fresh database snapshots' })),
    allowDeletes: Type.Optional(Type.Boolean({ description: 'let this sync delete more files than the mass-delete guard allows' })),
    waitSeconds: Wait,
  },
  { additionalProperties: false },
);

export const RestoreBody = Type.Object(
  {
    at: Type.Optional(Type.String({ format: 'date-time', description: 'restore the newest snapshot taken at or before this instant' })),
    snapshot: Type.Optional(Type.String({ pattern: '^[0-9TZ.]+-[a-z]+-f[0-9]+-[0-9a-f]+$', description: 'a snapshot id from GET .../snapshots' })),
    waitSeconds: Wait,
  },
  { additionalProperties: false },
);

export const CloneAgentBody = Type.Object(
  {
    name: Name,
    ownerEmail: Email,
    soul: Type.Optional(Type.String({ maxLength: 256 * 1024, description: "the clone's own SOUL.md (default: the source's)" })),
    ...AgentSettings,
  },
  { additionalProperties: false },
);

export const SnapshotBody = Type.Object({ id: Type.String(), at: Type.String(), reason: Type.String(), current: Type.Boolean() });

export const VerifyBackupReport = Type.Object({
  ok: Type.Boolean(),
  snapshot: Type.String(),
  takenAt: Type.String(),
  restoreMs: Type.Integer(),
  files: Type.Object({ expected: Type.Integer(), restored: Type.Integer() }),
  bytes: Type.Integer(),
  databases: Type.Array(Type.Object({ name: Type.String(), integrity: Type.String() })),
  sessions: Type.Object({ restored: Type.Integer(), reported: Type.Union([Type.Integer(), Type.Null()]) }),
  memoryFiles: Type.Object({ restored: Type.Integer(), reported: Type.Union([Type.Integer(), Type.Null()]) }),
  comparedWith: Type.String(),
  missing: Type.Array(Type.String(), { description: 'every object the snapshot needs that is not in the bucket (HEAD, manifest, chunks)' }),
  corrupt: Type.Array(Type.String(), { description: 'every object that is there but does not open' }),
  unrestorable: Type.Array(Type.String(), { description: 'files and databases that could not be restored because of them' }),
  problems: Type.Array(Type.String()),
});

export const AuditQuery = Type.Object(
  {
    plane: Type.Optional(Name),
    agent: Type.Optional(Name),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'an actor as recorded ("token:alice", "hub"), or a token name ("alice")' })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 200 })),
  },
  { additionalProperties: false },
);

export const AuditEventBody = Type.Object({
  id: Type.Integer(),
  at: Type.Integer(),
  actor: Type.String(),
  action: Type.String(),
  plane: Type.Union([Type.String(), Type.Null()]),
  agent: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.String(),
});

export const AuditVerifyBody = Type.Object({
  ok: Type.Boolean(),
  rows: Type.Integer(),
  headHash: Type.Union([Type.String(), Type.Null()]),
  headId: Type.Union([Type.Integer(), Type.Null()]),
  problems: Type.Array(Type.Object({ id: Type.Integer(), problem: Type.String() })),
});

/** The error answers every /v1 route documents (the body is the `Error` schema). */
export const ErrorResponses = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } } as const;
