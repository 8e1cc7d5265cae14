import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { CommandRuns } from '../command-runs.ts';
import { parsePeriod } from '../cost/cost-report.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import { RunStore } from '../store/run-store.ts';
import { AgentParams, CommandBody, CostReportQuery, ErrorResponses, PlaneParams } from '../api/schemas.ts';
import { Name } from '../model.ts';
import { agentConfig } from './agent-config.ts';
import { registerConsoleAssets } from './console-assets.ts';
import { registerSessionRoutes, sessionAuth } from './console-auth.ts';
import { ConsoleFeed } from './console-feed.ts';
import { AgentConfigBody, CostDailyBody, FleetSnapshot, HealthHistoryBody, HubHealthBody } from './console-schemas.ts';
import { ConsoleSessions, DEFAULT_SESSION_LIMITS } from './console-sessions.ts';
import { FleetRows } from './fleet-rows.ts';
import { hubHealth, type HubRuntimeInfo } from './hub-health.ts';
import { SseStream } from './sse-stream.ts';
import type { SessionAuth } from '../api/auth.ts';

export interface ConsoleOptions {
  /** console/dist, or undefined when the console is not built (the page then says so). */
  assetsDir: string | undefined;
  runtime: HubRuntimeInfo;
}

const EventsQuery = Type.Object(
  {
    topic: Type.Optional(Type.Union([Type.Literal('fleet'), Type.Literal('agent'), Type.Literal('run')], { default: 'fleet' })),
    plane: Type.Optional(Name),
    agent: Type.Optional(Name),
    run: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const CommandsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) }, { additionalProperties: false });
const CostDailyQuery = Type.Object(
  {
    period: CostReportQuery.properties.period,
    agents: Type.Optional(Type.String({ maxLength: 20_000, pattern: '^[a-z0-9,-]*$', description: 'comma-separated agent names; default every agent' })),
  },
  { additionalProperties: false },
);

/**
 * The admin console: its pages under /console/, sign-in, and the few reads the
 * REST API lacked for it (a compact fleet table and its live feed, hub health,
 * an agent's configuration, health history and commands, spend per day).
 * Every action the console takes is an existing REST route.
 */
export function registerConsole(app: FastifyInstance, ctx: HubContext, fleet: Fleet, runs: CommandRuns, sessions: ConsoleSessions, o: ConsoleOptions): { close: () => void } {
  const errors = ErrorResponses;
  const runStore = new RunStore(ctx.db);
  // Runs still going, and finished ones with targets waiting for their agents' reports (`unknown`).
  const rows = new FleetRows(ctx, fleet, () => runStore.unfinished());
  const tickMs = Math.min(1000, Math.max(100, Math.floor(ctx.heartbeatIntervalMs / 2)));
  const feed = new ConsoleFeed(rows, fleet, runs, (id) => runStore.find(id), {
    tickMs,
    beatsEveryMs: Math.max(2000, ctx.heartbeatIntervalMs),
    heartbeatIntervalMs: ctx.heartbeatIntervalMs,
    log: ctx.log.child('console'),
  });
  ctx.closing.addEventListener('abort', () => feed.closeAll(), { once: true });

  registerConsoleAssets(app, o.assetsDir);
  registerSessionRoutes(app, ctx, sessions, DEFAULT_SESSION_LIMITS.maxAgeMs);

  app.get('/v1/console/fleet', {
    config: { role: 'viewer' },
    schema: { summary: 'Every agent of every plane as one compact table row, and the runs in progress', tags: ['console'], response: { 200: FleetSnapshot, ...errors } },
    handler: async () => {
      const now = Date.now();
      return { at: now, heartbeatIntervalMs: ctx.heartbeatIntervalMs, ...rows.build(now) };
    },
  });

  app.get('/v1/console/events', {
    config: { role: 'viewer' },
    schema: {
      summary:
        'Server-Sent Events. topic=fleet: a snapshot (as GET /v1/console/fleet), then rows that changed, heartbeat times and run progress; topic=agent (plane, agent): the agent whenever it changes; topic=run (plane, run): the run whenever it moves',
      tags: ['console'],
      querystring: EventsQuery,
      response: { 200: { description: 'text/event-stream', type: 'string' }, ...errors },
    },
    handler: async (req, reply) => {
      const q = req.query as Static<typeof EventsQuery>;
      const topic = q.topic ?? 'fleet';
      const open = (): SseStream => new SseStream(req, reply);
      if (topic === 'agent') {
        if (!q.plane || !q.agent) throw new PlaneError(ErrorCode.InvalidArgument, 'topic=agent needs plane and agent', { where: 'querystring.agent' });
        fleet.getAgent(q.plane, q.agent);
        feed.subscribe({ kind: 'agent', plane: q.plane, name: q.agent }, open);
      } else if (topic === 'run') {
        if (!q.plane || !q.run) throw new PlaneError(ErrorCode.InvalidArgument, 'topic=run needs plane and run', { where: 'querystring.run' });
        runs.get(q.plane, q.run);
        feed.subscribe({ kind: 'run', plane: q.plane, id: q.run }, open);
      } else feed.subscribe({ kind: 'fleet' }, open);
    },
  });

  app.get('/v1/console/hub-health', {
    config: { role: 'viewer' },
    schema: { summary: "The hub's own health: database, gRPC listener, providers, bucket, scheduled jobs, version and uptime", tags: ['console'], response: { 200: HubHealthBody, ...errors } },
    handler: async () => hubHealth(ctx, o.runtime, { streams: feed.streams, sessions: sessions.size, runs: (p) => runStore.list(p, 20, 'rotate-secrets') }),
  });

  app.get('/v1/console/planes/:planeId/agents/:agentId/config', {
    config: { role: 'viewer' },
    schema: { summary: "An agent's settings: desired (and where each comes from) against what it last confirmed", tags: ['console'], params: AgentParams, response: { 200: AgentConfigBody, ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return agentConfig(ctx, planeId, agentId);
    },
  });

  app.get('/v1/console/planes/:planeId/agents/:agentId/health-history', {
    config: { role: 'viewer' },
    schema: { summary: "An agent's health changes, newest first (from the audit log's agent.health events)", tags: ['console'], params: AgentParams, response: { 200: HealthHistoryBody, ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      ctx.agents.get(planeId, agentId);
      const events = ctx.audit.list({ plane: planeId, agent: agentId, limit: 2000 }).filter((e) => e.action === 'agent.health');
      const text = (v: unknown): string => (typeof v === 'string' ? v : '');
      return { transitions: events.slice(0, 100).map((e) => ({ at: e.at, from: text(e.detail['from']), to: text(e.detail['to']), reason: text(e.detail['reason']) })) };
    },
  });

  app.get('/v1/console/planes/:planeId/agents/:agentId/commands', {
    config: { role: 'viewer' },
    schema: { summary: "An agent's latest commands with their results, newest first", tags: ['console'], params: AgentParams, querystring: CommandsQuery, response: { 200: Type.Object({ commands: Type.Array(CommandBody) }), ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const { limit } = req.query as Static<typeof CommandsQuery>;
      return { commands: ctx.commands.listFor(ctx.agents.get(planeId, agentId).id, limit ?? 50) };
    },
  });

  app.get('/v1/console/planes/:planeId/cost-daily', {
    config: { role: 'viewer' },
    schema: { summary: 'Spend per UTC day over a period, of the plane or some agents, with their monthly budgets summed', tags: ['console'], params: PlaneParams, querystring: CostDailyQuery, response: { 200: CostDailyBody, ...errors } },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const q = req.query as Static<typeof CostDailyQuery>;
      ctx.planes.get(planeId);
      const spec = q.period ?? '30d';
      const period = parsePeriod(spec, Date.now());
      const names = q.agents ? q.agents.split(',').filter(Boolean) : undefined;
      const agents = ctx.agents.list(planeId).filter((a) => !names || names.includes(a.name));
      const caps = agents.flatMap((a) => (a.spec.budgetCap === undefined ? [] : [a.spec.budgetCap]));
      const round = (n: number): number => Math.round(n * 1e6) / 1e6;
      return {
        plane: planeId,
        period: { spec, ...period },
        days: ctx.ledger.daily(planeId, period.from, period.to, names).map((d) => ({ day: d.day, infraUsd: round(d.infraUsd), modelUsd: round(d.modelUsd), totalUsd: round(d.infraUsd + d.modelUsd) })),
        budgetUsd: caps.length > 0 ? caps.reduce((s, c) => s + c, 0) : null,
        agents: names ?? agents.map((a) => a.name),
      };
    },
  });

  return { close: () => feed.closeAll() };
}

/** The session store and the auth hook's cookie fallback, made before the routes (the hook needs it first). */
export function consoleSessions(ctx: HubContext): { sessions: ConsoleSessions; auth: SessionAuth } {
  const sessions = new ConsoleSessions((s) => ctx.apiTokens.byId(s.principal.tokenId));
  return { sessions, auth: sessionAuth(sessions) };
}
