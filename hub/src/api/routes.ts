import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { CommandRuns } from '../command-runs.ts';
import type { Fleet } from '../fleet.ts';
import type { HubContext } from '../hub-context.ts';
import type { CommandRecord, PlaneRecord, PlaneSpec } from '../model.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { actorOf } from './auth.ts';
import { type LogTarget, streamLogs } from './log-stream.ts';
import { BODY_LIMITS } from './request-input.ts';
import { buildCostReport } from '../cost/cost-report.ts';
import {
  AgentBody,
  AgentParams,
  CommandBody,
  CostReportBody,
  CostReportQuery,
  HealBody,
  CommandParams,
  CreatePlaneBody,
  DeletePlaneQuery,
  FanOutBody,
  LogsQuery,
  PlaneBody,
  PlaneParams,
  ProvisionAgentBody,
  RestartBody,
  UpdateAgentBody,
  WaitBody,
  WaitQuery,
  AuditEventBody,
  AuditQuery,
  AuditVerifyBody,
  BackupBody,
  CloneAgentBody,
  RestoreBody,
  SnapshotBody,
  SyncBody,
  VerifyBackupReport,
  ErrorResponses,
} from './schemas.ts';

const errors = ErrorResponses;

/**
 * The /v1 routes of the requirements doc's API contract. Each declares the least
 * role it needs in `config.role`; the auth hook enforces it, and the test suite
 * enumerates every route to check that viewers cannot mutate.
 */
export function registerRoutes(app: FastifyInstance, ctx: HubContext, fleet: Fleet, runs: CommandRuns): void {
  const planeBody = (p: PlaneRecord): Static<typeof PlaneBody> => ({ ...p, agentCount: ctx.agents.count(p.name) });

  app.post('/v1/planes', {
    config: { role: 'admin' },
    schema: { summary: 'Create an agents plane', tags: ['planes'], body: CreatePlaneBody, response: { 201: PlaneBody, ...errors } },
    handler: async (req, reply) => {
      const b = req.body as Static<typeof CreatePlaneBody>;
      const spec: PlaneSpec = {
        infraProvider: b.infraProvider ?? 'local',
        identityProvider: b.identityProvider ?? 'none',
        secretsProvider: b.secretsProvider ?? 'local',
        networkProvider: b.networkProvider ?? 'none',
        region: b.region ?? 'local',
        ...(b.project ? { project: b.project } : {}),
        defaults: { machineType: b.defaults?.machineType ?? 'e2-small', diskSizeGb: b.defaults?.diskSizeGb ?? 20, ...(b.defaults?.image ? { image: b.defaults.image } : {}) },
        ...(b.models ? { models: b.models } : {}),
        ...(b.costs ? { costs: b.costs } : {}),
      };
      return reply.code(201).send(planeBody(fleet.createPlane(b.name, spec, actorOf(req))));
    },
  });

  app.get('/v1/planes', {
    config: { role: 'viewer' },
    schema: { summary: 'List planes', tags: ['planes'], response: { 200: Type.Object({ planes: Type.Array(PlaneBody) }), ...errors } },
    handler: async () => ({ planes: ctx.planes.list().map(planeBody) }),
  });

  app.get('/v1/planes/:planeId', {
    config: { role: 'viewer' },
    schema: { summary: 'Get a plane', tags: ['planes'], params: PlaneParams, response: { 200: PlaneBody, ...errors } },
    handler: async (req) => planeBody(ctx.planes.get((req.params as Static<typeof PlaneParams>).planeId)),
  });

  app.delete('/v1/planes/:planeId', {
    config: { role: 'admin' },
    schema: {
      summary: 'Delete a plane (force removes its agents first)',
      tags: ['planes'],
      params: PlaneParams,
      querystring: DeletePlaneQuery,
      response: { 200: Type.Object({ deleted: Type.String(), removedAgents: Type.Array(Type.String()) }), ...errors },
    },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const { force } = req.query as Static<typeof DeletePlaneQuery>;
      const r = await fleet.deletePlane(planeId, force ?? false, actorOf(req));
      return { deleted: planeId, ...r };
    },
  });

  app.post('/v1/planes/:planeId/agents', {
    config: { role: 'admin' },
    schema: { summary: 'Provision a new agent', tags: ['agents'], params: PlaneParams, body: ProvisionAgentBody, response: { 201: AgentBody, ...errors } },
    handler: async (req, reply) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const agent = await fleet.addAgent(planeId, req.body as Static<typeof ProvisionAgentBody>, actorOf(req));
      return reply.code(201).send(agent);
    },
  });

  app.get('/v1/planes/:planeId/agents', {
    config: { role: 'viewer' },
    schema: { summary: 'List agents in plane, with health', tags: ['agents'], params: PlaneParams, response: { 200: Type.Object({ agents: Type.Array(AgentBody) }), ...errors } },
    handler: async (req) => ({ agents: fleet.listAgents((req.params as Static<typeof PlaneParams>).planeId) }),
  });

  app.get('/v1/planes/:planeId/agents/:agentId', {
    config: { role: 'viewer' },
    schema: { summary: 'Agent status + health', tags: ['agents'], params: AgentParams, response: { 200: AgentBody, ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return fleet.getAgent(planeId, agentId);
    },
  });

  app.patch('/v1/planes/:planeId/agents/:agentId', {
    config: { role: 'admin' },
    schema: {
      summary: 'Update agent config (the agent re-renders and restarts its gateway)',
      tags: ['agents'],
      params: AgentParams,
      body: UpdateAgentBody,
      response: { 200: Type.Object({ agent: AgentBody, command: Type.Union([CommandBody, Type.Null()]) }), ...errors },
    },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const { waitSeconds, ...patch } = req.body as Static<typeof UpdateAgentBody>;
      const r = await fleet.updateAgent(planeId, agentId, patch, actorOf(req));
      const command = r.command && waitSeconds ? await fleet.waitForCommand(r.command.id, waitSeconds * 1000) : r.command;
      return { agent: command === r.command ? r.agent : fleet.getAgent(planeId, agentId), command };
    },
  });

  app.delete('/v1/planes/:planeId/agents/:agentId', {
    config: { role: 'admin' },
    schema: { summary: 'Teardown agent', tags: ['agents'], params: AgentParams, response: { 200: Type.Object({ removed: Type.String() }), ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      await fleet.removeAgent(planeId, agentId, actorOf(req));
      return { removed: agentId };
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/restart', {
    config: { role: 'admin' },
    schema: {
      summary: 'Restart agent (its gateway when connected, else its instance)',
      tags: ['agents'],
      params: AgentParams,
      body: RestartBody,
      response: { 202: Type.Object({ mode: Type.String(), command: Type.Union([CommandBody, Type.Null()]) }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const b = req.body as Static<typeof RestartBody>;
      const r = await fleet.restartAgent(planeId, agentId, b.mode ?? 'auto', actorOf(req));
      const command = r.command && b.waitSeconds ? await fleet.waitForCommand(r.command.id, b.waitSeconds * 1000) : r.command;
      return reply.code(202).send({ mode: r.mode, command });
    },
  });

  for (const kind of ['pause', 'resume'] as const) {
    app.post(`/v1/planes/:planeId/agents/:agentId/${kind}`, {
      config: { role: 'admin' },
      schema: {
        summary: kind === 'pause' ? 'Pause agent: stop its gateway, keep agentd reporting' : 'Resume a paused agent',
        tags: ['agents'],
        params: AgentParams,
        body: WaitBody,
        response: { 202: Type.Object({ command: CommandBody }), ...errors },
      },
      handler: async (req, reply) => {
        const { planeId, agentId } = req.params as Static<typeof AgentParams>;
        const b = req.body as Static<typeof WaitBody>;
        const cmd = fleet.sendCommand(planeId, agentId, kind, {}, actorOf(req));
        return reply.code(202).send({ command: b.waitSeconds ? await fleet.waitForCommand(cmd.id, b.waitSeconds * 1000) : cmd });
      },
    });
  }

  app.post('/v1/planes/:planeId/commands', {
    config: { role: 'admin' },
    schema: {
      summary: 'Send one command to every agent of a plane',
      tags: ['planes'],
      params: PlaneParams,
      body: FanOutBody,
      response: { 202: Type.Object({ runId: Type.Union([Type.String(), Type.Null()]), commands: Type.Array(Type.Object({ id: Type.String(), agentId: Type.String(), state: Type.String() })) }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const b = req.body as Static<typeof FanOutBody>;
      // Recorded as a run, so its per-agent outcome can be read (and survives a hub crash).
      const { run, commands } = runs.fanOut(planeId, b.kind, b.args ?? {}, actorOf(req));
      return reply.code(202).send({ runId: run?.id ?? null, commands: commands.map((c) => ({ id: c.id, agentId: c.agentId, state: c.state })) });
    },
  });

  app.get('/v1/planes/:planeId/agents/:agentId/logs', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Recent log lines of a connected agent (agentd and its gateway) as NDJSON; follow streams new ones',
      tags: ['agents'],
      params: AgentParams,
      querystring: LogsQuery,
      response: { 200: { description: 'application/x-ndjson: one {atMs, source, text} per line', type: 'string' }, ...errors, 503: { $ref: 'Error#' } },
    },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const q = req.query as Static<typeof LogsQuery>;
      const agent = ctx.agents.get(planeId, agentId);
      if (!ctx.sessions.isConnected(agent.id)) {
        throw new PlaneError(ErrorCode.Unavailable, `agent '${agentId}' is not connected; logs come from the live agent`);
      }
      const follow = q.follow ?? false;
      const cmd = fleet.sendCommand(planeId, agentId, 'logs', logsArgs(q), actorOf(req));
      streamLogs(ctx, fleet, reply, { planeId, follow, tagged: false, targets: [{ agentName: agentId, agentId: agent.id, commandId: cmd.id }] });
    },
  });

  app.get('/v1/planes/:planeId/logs', {
    config: { role: 'viewer' },
    schema: {
      summary:
        "Every connected agent's recent log lines as NDJSON, each tagged with its agent and merged by time; follow streams new ones from all of them. An agent that is not connected, or fails, gives one {agent, error} line and the others go on",
      tags: ['planes'],
      params: PlaneParams,
      querystring: LogsQuery,
      response: { 200: { description: 'application/x-ndjson: one {agent, atMs, source, text} or {agent, error} per line', type: 'string' }, ...errors },
    },
    handler: async (req, reply) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const q = req.query as Static<typeof LogsQuery>;
      ctx.planes.get(planeId);
      const follow = q.follow ?? false;
      const targets: LogTarget[] = [];
      const failed: Array<{ agent: string; error: string }> = [];
      for (const a of ctx.agents.list(planeId)) {
        if (!ctx.sessions.isConnected(a.id)) failed.push({ agent: a.name, error: 'not connected; logs come from the live agent' });
        else targets.push({ agentName: a.name, agentId: a.id, commandId: fleet.sendCommand(planeId, a.name, 'logs', logsArgs(q), actorOf(req)).id });
      }
      streamLogs(ctx, fleet, reply, { planeId, follow, tagged: true, targets, failed });
    },
  });

  app.get('/v1/planes/:planeId/agents/:agentId/commands/:commandId', {
    config: { role: 'viewer' },
    schema: { summary: 'A command and its result', tags: ['agents'], params: CommandParams, querystring: WaitQuery, response: { 200: CommandBody, ...errors } },
    handler: async (req) => {
      const { planeId, agentId, commandId } = req.params as Static<typeof CommandParams>;
      const { waitSeconds } = req.query as Static<typeof WaitQuery>;
      const cmd = fleet.getCommand(planeId, agentId, commandId);
      return waitSeconds ? fleet.waitForCommand(cmd.id, waitSeconds * 1000) : cmd;
    },
  });

  // The agent's brain: snapshots in the bucket, backup, restore, the restore drill, clones.
  const waitFor = async (cmd: CommandRecord, seconds: number | undefined): Promise<CommandRecord> => (seconds ? fleet.waitForCommand(cmd.id, seconds * 1000) : cmd);

  app.post('/v1/planes/:planeId/agents/:agentId/reprovision', {
    config: { role: 'admin' },
    schema: { summary: 'Reprovision: a fresh machine for the agent, its brain restored from the bucket', tags: ['agents'], params: AgentParams, response: { 202: Type.Object({ agent: AgentBody }), ...errors } },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return reply.code(202).send({ agent: await fleet.reprovisionAgent(planeId, agentId, actorOf(req)) });
    },
  });

  app.get('/v1/planes/:planeId/agents/:agentId/snapshots', {
    config: { role: 'viewer' },
    schema: { summary: "Snapshots of the agent's brain, oldest first", tags: ['brain'], params: AgentParams, response: { 200: Type.Object({ snapshots: Type.Array(SnapshotBody) }), ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return { snapshots: await fleet.snapshots(planeId, agentId) };
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/sync', {
    config: { role: 'admin' },
    schema: { summary: 'Push the brain now (files, and database snapshots by default)', tags: ['brain'], params: AgentParams, body: SyncBody, response: { 202: Type.Object({ command: CommandBody }), ...errors } },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const b = req.body as Static<typeof SyncBody>;
      const cmd = fleet.sendCommand(planeId, agentId, 'sync-now', { databases: b.databases ?? true, allowDeletes: b.allowDeletes ?? false }, actorOf(req));
      return reply.code(202).send({ command: await waitFor(cmd, b.waitSeconds) });
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/backup', {
    config: { role: 'admin' },
    schema: { summary: 'Take a point-in-time backup (kept by the retention policy for manual backups)', tags: ['brain'], params: AgentParams, body: BackupBody, response: { 202: Type.Object({ command: CommandBody }), ...errors } },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const b = req.body as Static<typeof BackupBody>;
      const cmd = fleet.sendCommand(planeId, agentId, 'sync-now', { databases: true, manual: true }, actorOf(req));
      return reply.code(202).send({ command: await waitFor(cmd, b.waitSeconds) });
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/restore', {
    config: { role: 'admin' },
    schema: {
      summary: 'Restore a snapshot: agentd stops the gateway, restores, starts it and checks continuity',
      tags: ['brain'],
      params: AgentParams,
      body: RestoreBody,
      response: { 202: Type.Object({ command: CommandBody }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const b = req.body as Static<typeof RestoreBody>;
      const cmd = await fleet.restoreBrain(planeId, agentId, { ...(b.at ? { at: Date.parse(b.at) } : {}), ...(b.snapshot ? { snapshot: b.snapshot } : {}) }, actorOf(req));
      return reply.code(202).send({ command: await waitFor(cmd, b.waitSeconds) });
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/verify-backup', {
    config: { role: 'admin' },
    schema: { summary: 'Restore drill: restore the latest snapshot into scratch space and check it', tags: ['brain'], params: AgentParams, response: { 200: VerifyBackupReport, ...errors } },
    handler: async (req) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      return fleet.verifyBackup(planeId, agentId, actorOf(req));
    },
  });

  app.post('/v1/planes/:planeId/agents/:agentId/clone', {
    config: { role: 'admin' },
    bodyLimit: BODY_LIMITS.clone,
    schema: {
      summary: "New agent with a copy of this agent's brain (its own SOUL, secrets and key)",
      tags: ['brain'],
      params: AgentParams,
      body: CloneAgentBody,
      response: { 201: Type.Object({ agent: AgentBody, snapshot: Type.String(), files: Type.Integer(), databases: Type.Array(Type.String()) }), ...errors },
    },
    handler: async (req, reply) => {
      const { planeId, agentId } = req.params as Static<typeof AgentParams>;
      const r = await fleet.cloneAgent(planeId, agentId, req.body as Static<typeof CloneAgentBody>, actorOf(req));
      return reply.code(201).send({ agent: r.agent, snapshot: r.brain.snapshot, files: r.brain.files, databases: r.brain.databases });
    },
  });

  // Cost and self-healing (REQ-INFRA-07, REQ-INFRA-05).
  app.get('/v1/planes/:planeId/cost-report', {
    config: { role: 'viewer' },
    schema: { summary: 'Cost report for plane: machine time and model spend per agent, owner or group', tags: ['planes'], params: PlaneParams, querystring: CostReportQuery, response: { 200: CostReportBody, ...errors } },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const q = req.query as Static<typeof CostReportQuery>;
      return buildCostReport(ctx, planeId, q.period ?? '30d', q.by ?? 'agent');
    },
  });

  app.post('/v1/planes/:planeId/heal', {
    config: { role: 'admin' },
    schema: {
      summary: 'Reset self-healing: clear restart attempts and open circuit breakers so the hub tries again',
      tags: ['agents'],
      params: PlaneParams,
      body: HealBody,
      response: { 200: Type.Object({ reset: Type.Array(Type.String()) }), ...errors },
    },
    handler: async (req) => {
      const { planeId } = req.params as Static<typeof PlaneParams>;
      const b = req.body as Static<typeof HealBody>;
      return { reset: fleet.resetHealing(planeId, b.name, actorOf(req)) };
    },
  });

  // The audit log: who did what, never a value; a hash chain that verify walks.
  app.get('/v1/audit', {
    config: { role: 'admin' },
    schema: { summary: 'Audit events, newest first', tags: ['audit'], querystring: AuditQuery, response: { 200: Type.Object({ events: Type.Array(AuditEventBody) }), ...errors } },
    handler: async (req) => {
      const q = req.query as Static<typeof AuditQuery>;
      return { events: ctx.audit.list({ ...(q.plane ? { plane: q.plane } : {}), ...(q.agent ? { agent: q.agent } : {}), ...(q.actor ? { actor: q.actor } : {}), ...(q.since ? { sinceMs: Date.parse(q.since) } : {}), limit: q.limit ?? 200 }) };
    },
  });

  app.post('/v1/audit/verify', {
    config: { role: 'admin' },
    schema: { summary: 'Walk the audit hash chain; reports changed or removed rows', tags: ['audit'], response: { 200: AuditVerifyBody, ...errors } },
    handler: async () => ctx.audit.verify(),
  });
}

/** The "logs" command's arguments from the REST query. */
function logsArgs(q: Static<typeof LogsQuery>): Record<string, unknown> {
  return { lines: q.lines ?? 200, follow: q.follow ?? false, ...(q.maxSeconds ? { maxSeconds: q.maxSeconds } : {}) };
}
