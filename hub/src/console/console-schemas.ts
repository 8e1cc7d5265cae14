import { Type } from '@sinclair/typebox';
import { AgentBody } from '../api/schemas.ts';
import { AgentSpec, Nullable, Policy } from '../model.ts';

/** One agent as the fleet table shows it: what a row needs and nothing more, so 1,000 of them stay small. */
export const FleetRow = Type.Object({
  plane: Type.String(),
  name: Type.String(),
  owner: Type.String(),
  group: Nullable(Type.String()),
  ou: Nullable(Type.String()),
  health: AgentBody.properties.health,
  connected: Type.Boolean(),
  paused: Type.Boolean({ description: 'an admin or a budget paused it' }),
  gateway: Nullable(Type.String({ description: 'running, paused, starting, failed, ... (lower case)' })),
  runtime: Nullable(Type.String({ description: 'openclaw or placeholder' })),
  version: Nullable(Type.String({ description: 'the OpenClaw release it runs' })),
  outdated: Type.Boolean({ description: 'an older OpenClaw release than the newest one in its plane' }),
  lastHeartbeatAt: Nullable(Type.Integer()),
  syncLagMs: Nullable(Type.Integer()),
  spendUsd: Type.Number({ description: 'spend this UTC month' }),
  budgetUsd: Nullable(Type.Number({ description: 'the monthly cap' })),
  budgetPct: Nullable(Type.Number()),
  breakerOpen: Type.Boolean({ description: 'self-healing gave up and waits for a human' }),
  run: Nullable(Type.Object({ id: Type.String(), kind: Type.String(), state: Type.String({ description: "queued, running, or unknown (the hub stopped while its command was out; the agent's next report settles it)" }) })),
});

/** A run in progress or just finished, without its per-agent list. */
export const RunSummaryRow = Type.Object({
  id: Type.String(),
  plane: Type.String(),
  kind: Type.String(),
  actor: Type.String(),
  state: Type.String(),
  createdAt: Type.Integer(),
  finishedAt: Nullable(Type.Integer()),
  summary: Type.Record(Type.String(), Type.Integer()),
});

export const FleetSnapshot = Type.Object({
  at: Type.Integer(),
  heartbeatIntervalMs: Type.Integer(),
  rows: Type.Array(FleetRow),
  runs: Type.Array(RunSummaryRow),
});

const Check = Type.Object({
  name: Type.String(),
  ok: Type.Boolean(),
  detail: Type.String(),
  ms: Nullable(Type.Number({ description: 'how long the check took' })),
});

export const HubHealthBody = Type.Object({
  ok: Type.Boolean({ description: 'every check passed' }),
  version: Type.String(),
  startedAt: Type.Integer(),
  uptimeMs: Type.Integer(),
  pid: Type.Integer(),
  checks: Type.Array(Check, { description: 'database, gRPC listener, infra providers, secrets provider, bucket' }),
  jobs: Type.Array(
    Type.Object({
      name: Type.String(),
      every: Type.String({ description: 'an interval (5000 ms) or a cron expression' }),
      runs: Type.Integer({ description: 'since the hub started' }),
      lastRunAt: Nullable(Type.Integer()),
      lastMs: Nullable(Type.Number()),
      lastError: Nullable(Type.String()),
    }),
  ),
  agents: Type.Object({ total: Type.Integer(), connected: Type.Integer() }),
  console: Type.Object({ sessions: Type.Integer(), streams: Type.Integer() }),
});

const FieldSource = Type.Object({
  field: Type.String(),
  desired: Type.Unknown(),
  source: Type.String({ description: "'default', 'policy N' (its index in the plane) or 'agent'" }),
});

export const AgentConfigBody = Type.Object({
  desired: AgentSpec,
  fields: Type.Array(FieldSource),
  policies: Type.Array(Type.Object({ index: Type.Integer(), policy: Policy })),
  runtime: Type.Object({
    desired: Type.Record(Type.String(), Type.Unknown(), { description: 'what the agent should run (model, tools, channels, ...)' }),
    confirmed: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'what its last successful reconfigure carried; null if none since provisioning' })),
    confirmedAt: Nullable(Type.Integer()),
    pending: Nullable(Type.Object({ commandId: Type.String(), state: Type.String() })),
    inSync: Type.Boolean(),
  }),
});

export const HealthHistoryBody = Type.Object({
  transitions: Type.Array(Type.Object({ at: Type.Integer(), from: Type.String(), to: Type.String(), reason: Type.String() })),
});

export const CostDailyBody = Type.Object({
  plane: Type.String(),
  period: Type.Object({ spec: Type.String(), from: Type.String(), to: Type.String(), days: Type.Integer() }),
  days: Type.Array(Type.Object({ day: Type.String(), infraUsd: Type.Number(), modelUsd: Type.Number(), totalUsd: Type.Number() })),
  budgetUsd: Nullable(Type.Number({ description: 'the sum of the monthly caps of the agents counted (null when none has one)' })),
  agents: Type.Array(Type.String()),
});
