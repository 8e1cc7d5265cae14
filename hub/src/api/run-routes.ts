import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { CommandRuns } from '../command-runs.ts';
import { RUN_KINDS } from '../command-runs.ts';
import type { HubContext } from '../hub-context.ts';
import { planUpgrade } from '../rolling-upgrade.ts';
import { actorOf } from './auth.ts';
import { ErrorResponses, PlaneParams } from './schemas.ts';

const errors = ErrorResponses;

const RunParams = Type.Object({ planeId: PlaneParams.properties.planeId, runId: Type.String({ maxLength: 64 }) });
/** A count, or a share of the targets as "N%". */
const Limit = Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.String({ pattern: '^\\d{1,6}%?$' })]);
const AgentNames = Type.Array(Type.String({ maxLength: 63 }), { minItems: 1, maxItems: 10_000 });

const RunTargetBody = Type.Object({
  agent: Type.String(),
  state: Type.String(),
  wave: Type.Union([Type.Integer(), Type.Null()]),
  args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  commands: Type.Array(Type.Object({ kind: Type.String(), id: Type.String() })),
  startedAt: Type.Union([Type.Integer(), Type.Null()]),
  finishedAt: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  output: Type.Unknown(),
});
const RunSummaryBody = Type.Object({
  total: Type.Integer(),
  queued: Type.Integer(),
  running: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  timedOut: Type.Integer(),
  notDelivered: Type.Integer(),
  unknown: Type.Integer(),
  skipped: Type.Integer(),
});
export const RunBody = Type.Object({
  id: Type.String(),
  plane: Type.String(),
  kind: Type.String(),
  args: Type.Record(Type.String(), Type.Unknown()),
  actor: Type.String(),
  state: Type.String(),
  requested: Type.Object({ maxConcurrency: Type.String(), maxErrors: Type.String() }),
  maxConcurrency: Type.Integer(),
  maxErrors: Type.Integer(),
  timeoutMs: Type.Integer(),
  waves: Type.Union([Type.Array(Type.Integer()), Type.Null()]),
  createdAt: Type.Integer(),
  finishedAt: Type.Union([Type.Integer(), Type.Null()]),
  stopReason: Type.Union([Type.String(), Type.Null()]),
  summary: RunSummaryBody,
  targets: Type.Array(RunTargetBody),
});

export const StartRunBody = Type.Object(
  {
    kind: Type.Union(RUN_KINDS.filter((k) => k !== 'upgrade').map((k) => Type.Literal(k))),
    /** sync: {databases?, allowDeletes?}; the others take none. */
    args: Type.Optional(Type.Object({ databases: Type.Optional(Type.Boolean()), allowDeletes: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
    agents: Type.Optional(AgentNames),
    maxConcurrency: Type.Optional(Limit),
    maxErrors: Type.Optional(Limit),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
  },
  { additionalProperties: false },
);
export const UpgradeBody = Type.Object(
  {
    version: Type.Optional(Type.String({ maxLength: 64 })),
    rollback: Type.Optional(Type.Boolean()),
    canary: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    maxUnavailable: Type.Optional(Limit),
    agents: Type.Optional(AgentNames),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 7200 })),
  },
  { additionalProperties: false },
);
const WaitQuery = Type.Object({ waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }, { additionalProperties: false });
export const ListQuery = Type.Object({ kind: Type.Optional(Type.String({ maxLength: 32 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) }, { additionalProperties: false });

/** Fan-out runs (rate-controlled commands over many agents) and rolling upgrades. */
export function registerRunRoutes(app: FastifyInstance, ctx: HubContext, runs: CommandRuns): void {
  app.post('/v1/planes/:planeId/runs', {
    config: { role: 'admin' },
    schema: {
      summary: 'Run one command kind over agents of a plane, with maxConcurrency and maxErrors',
      tags: ['runs'],
      params: PlaneParams,
      body: StartRunBody,
      response: { 202: Type.Object({ run: RunBody }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const { waitSeconds, ...b } = req.body as Static<typeof StartRunBody>;
      const run = runs.start(planeId, b, actorOf(req));
      return reply.code(202).send({ run: waitSeconds ? await runs.wait(planeId, run.id, waitSeconds * 1000) : run });
    },
  });

  app.post('/v1/planes/:planeId/upgrade', {
    config: { role: 'admin' },
    schema: {
      summary: 'Rolling upgrade of the OpenClaw release (canary, then waves), or rollback to the previous one',
      tags: ['runs'],
      params: PlaneParams,
      body: UpgradeBody,
      response: { 202: Type.Object({ run: RunBody }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      ctx.planes.get(planeId);
      const input = planUpgrade(runs, planeId, req.body as Static<typeof UpgradeBody>, ctx.agents.count(planeId));
      return reply.code(202).send({ run: runs.start(planeId, input, actorOf(req)) });
    },
  });

  app.get('/v1/planes/:planeId/runs', {
    config: { role: 'viewer' },
    schema: { summary: 'Runs of a plane, newest first', tags: ['runs'], params: PlaneParams, querystring: ListQuery, response: { 200: Type.Object({ runs: Type.Array(RunBody) }), ...errors } },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const q = req.query as Static<typeof ListQuery>;
      return { runs: runs.list(planeId, q.limit ?? 20, q.kind) };
    },
  });

  app.get('/v1/planes/:planeId/runs/:runId', {
    config: { role: 'viewer' },
    schema: { summary: 'A run with its per-agent results; waitSeconds waits for it to finish', tags: ['runs'], params: RunParams, querystring: WaitQuery, response: { 200: RunBody, ...errors } },
    handler: async (req) => {
      const { planeId, runId } = req.params as Static<typeof RunParams>;
      const { waitSeconds } = req.query as Static<typeof WaitQuery>;
      return waitSeconds ? runs.wait(planeId, runId, waitSeconds * 1000) : runs.get(planeId, runId);
    },
  });

  app.post('/v1/planes/:planeId/runs/:runId/cancel', {
    config: { role: 'admin' },
    schema: {
      summary: 'Cancel a run: no agent is started after this; undelivered commands are withdrawn, delivered ones finish',
      tags: ['runs'],
      params: RunParams,
      response: { 202: Type.Object({ run: RunBody }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId, runId } = req.params as Static<typeof RunParams>;
      return reply.code(202).send({ run: runs.cancel(planeId, runId, actorOf(req)) });
    },
  });
}
