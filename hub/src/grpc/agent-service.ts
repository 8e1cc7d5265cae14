import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type {
  AgentMessage__Output,
  AgentPlaneHandlers,
  CommandResult__Output,
  EnrollRequest__Output,
  EnrollResponse,
  HubMessage,
} from '../../../proto/index.ts';
import type { HubContext } from '../hub-context.ts';
import type { AgentRecord, CommandRecord } from '../model.ts';
import { ENROLL_CLAIM_LIMIT } from '../store/agents-store.ts';
import { parseResult, settleFromLedger } from './command-ledger.ts';
import { resolveAgentRuntimeSpec } from '../agent-runtime-spec.ts';
import type { AgentSession } from './session-registry.ts';
import { brainGrant } from '../brain/brain-ops.ts';
import { gceInstanceName } from '../../../common/src/instance-identity.ts';
import { verifyInstanceIdentityToken } from './instance-identity.ts';

/** How long a new stream may stay silent before its Hello. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Results for commands never sent to the stream's agent are refused and audited;
 * past this many on one stream the stream is ended (an agent doing this is broken
 * or compromised, and each one costs an audit row).
 */
export const FORGED_RESULTS_PER_STREAM = 10;

/** An enrolment claim refused and already audited. */
class ClaimRefused extends Error {
  readonly status: grpc.status;
  constructor(status: grpc.status, message: string) {
    super(message);
    this.status = status;
  }
}

function grpcError(err: PlaneError): Partial<grpc.StatusObject> {
  return { code: err.grpcStatus, details: err.message };
}

export function toWireCommand(cmd: CommandRecord): HubMessage {
  return {
    command: { id: cmd.id, kind: cmd.kind, argsJson: JSON.stringify(cmd.args), issuedAtMs: cmd.createdAt, deadlineMs: cmd.deadlineAt },
  };
}

export function createAgentService(ctx: HubContext): AgentPlaneHandlers {
  const log = ctx.log.child('grpc');

  /** Which agent an identity token may enrol as: the one it claims, if its instance is that agent's. */
  async function identityEnrol(req: EnrollRequest__Output): Promise<{ agent: AgentRecord; credential: string; detail: Record<string, unknown> }> {
    if (!ctx.instanceIdentity.enabled) throw new PlaneError(ErrorCode.Unauthenticated, 'instance identity enrolment is not enabled on this hub');
    if (!req.plane || !req.agentName) throw new PlaneError(ErrorCode.InvalidArgument, 'instance identity enrolment needs plane and agent_name');
    const id = await verifyInstanceIdentityToken(req.instanceIdentityToken ?? '', { audience: ctx.instanceIdentity.audience(), keys: ctx.instanceIdentity.keys });
    const detail = { method: 'instance-identity', bootId: req.bootId, project: id.projectId, zone: id.zone, instance: id.instanceName, instanceId: id.instanceId };
    const plane = ctx.planes.find(req.plane);
    const agent = plane && ctx.agents.find(req.plane, req.agentName);
    // One answer for "no such agent" and "not your agent": a probe learns nothing.
    const denied = (why: string): PlaneError =>
      new PlaneError(ErrorCode.PermissionDenied, `instance ${id.projectId}/${id.zone}/${id.instanceName} may not enrol as ${req.plane}/${req.agentName}`, { where: why });
    if (!plane || !agent) throw denied('no such agent');
    if (!plane.spec.project || plane.spec.project !== id.projectId) throw denied(`project ${id.projectId} is not the plane's (${plane.spec.project ?? 'none'})`);
    if (id.instanceName !== gceInstanceName(agent.plane, agent.name)) throw denied(`instance name ${id.instanceName} is not ${gceInstanceName(agent.plane, agent.name)}`);
    if (plane.spec.region !== 'local' && !id.zone.startsWith(`${plane.spec.region}-`)) throw denied(`zone ${id.zone} is not in the plane's region ${plane.spec.region}`);
    // A second machine must not take over a live agent; reprovisioning ends the stream first.
    if (ctx.sessions.isConnected(agent.id)) throw new PlaneError(ErrorCode.FailedPrecondition, `${agent.plane}/${agent.name} is connected from another machine`);
    const { credential } = ctx.agents.redeemInstanceIdentity(agent.id, req.instanceIdentityToken ?? '', id.expiresAt);
    return { agent, credential, detail };
  }

  /**
   * A claim with a one-time token. A claim naming another plane or agent is
   * refused without spending the token, and a token with too many such claims is
   * refused for a while (ENROLL_CLAIM_LIMIT); either is audited under the token's
   * own agent, whose name the claimant is never told.
   */
  function tokenEnrol(req: EnrollRequest__Output, token: string): { agent: AgentRecord; credential: string } {
    const claim = ctx.agents.claimEnrollmentToken(token, { plane: req.plane, agent: req.agentName });
    if (claim.ok) return claim;
    if (claim.reason === 'invalid') throw new PlaneError(ErrorCode.Unauthenticated, 'enrollment token is invalid, expired or already used');
    const claimed = `${req.plane || '?'}/${req.agentName || '?'}`;
    const locked = claim.reason === 'locked' ? new Date(claim.lockedUntil).toISOString() : null;
    ctx.audit.record({
      actor: 'anonymous',
      action: 'agent.enroll',
      plane: claim.agent.plane,
      agent: claim.agent.name,
      outcome: 'denied',
      detail: { reason: locked ? 'rate-limited' : 'the claim names another agent', claimed, failedClaims: claim.failures, limit: ENROLL_CLAIM_LIMIT.failures, ...(locked ? { lockedUntil: locked } : {}), bootId: req.bootId },
    });
    log.warn('enrolment claim refused', { issuedFor: `${claim.agent.plane}/${claim.agent.name}`, claimed, failedClaims: claim.failures, locked: locked !== null });
    if (locked) {
      throw new ClaimRefused(grpc.status.RESOURCE_EXHAUSTED, `too many failed claims with this enrollment token (${claim.failures} in ${ENROLL_CLAIM_LIMIT.windowMs / 60_000} min); it is refused until ${locked}`);
    }
    throw new ClaimRefused(grpc.status.PERMISSION_DENIED, `this enrollment token was not issued for ${claimed}; it stays valid for the agent it was issued to`);
  }

  async function enroll(call: grpc.ServerUnaryCall<EnrollRequest__Output, EnrollResponse>, callback: grpc.sendUnaryData<EnrollResponse>): Promise<void> {
    const req = call.request;
    try {
      let agent: AgentRecord;
      let credential: string;
      let detail: Record<string, unknown>;
      if (req.proof === 'instanceIdentityToken' && req.instanceIdentityToken) {
        ({ agent, credential, detail } = await identityEnrol(req));
      } else {
        if (req.proof !== 'enrollmentToken' || !req.enrollmentToken) throw new PlaneError(ErrorCode.Unauthenticated, 'enrollment token is required');
        ({ agent, credential } = tokenEnrol(req, req.enrollmentToken));
        detail = { bootId: req.bootId };
      }
      ctx.audit.record({ actor: `agent:${agent.id}`, action: 'agent.enroll', plane: agent.plane, agent: agent.name, outcome: 'ok', detail });
      log.info('agent enrolled', { plane: agent.plane, agent: agent.name, agentId: agent.id, method: detail['method'] ?? 'enrollment-token' });
      const specJson = JSON.stringify(resolveAgentRuntimeSpec(ctx.planes.get(agent.plane), agent));
      callback(null, { agentId: agent.id, plane: agent.plane, agentName: agent.name, credential, issuedAtMs: Date.now(), agentSpecJson: specJson });
    } catch (err) {
      if (err instanceof ClaimRefused) {
        callback({ code: err.status, details: err.message });
        return;
      }
      const e = PlaneError.from(err);
      const reason = e.where && e.code === ErrorCode.PermissionDenied ? `${e.message}: ${e.where}` : e.message;
      ctx.audit.record({ actor: 'anonymous', action: 'agent.enroll', plane: req.plane || null, agent: req.agentName || null, outcome: 'denied', detail: { reason, method: req.proof ?? 'none' } });
      log.warn('enrolment refused', { plane: req.plane, agent: req.agentName, reason });
      callback(grpcError(e));
    }
  }

  function authenticate(call: grpc.ServerDuplexStream<AgentMessage__Output, HubMessage>): AgentRecord {
    const header = call.metadata.get('authorization')[0];
    const value = typeof header === 'string' ? header : '';
    const credential = value.startsWith('Bearer ') ? value.slice(7) : '';
    const agent = credential ? ctx.agents.authenticate(credential) : undefined;
    if (!agent) throw new PlaneError(ErrorCode.Unauthenticated, 'missing or invalid agent credential');
    return agent;
  }

  function connect(call: grpc.ServerDuplexStream<AgentMessage__Output, HubMessage>): void {
    let agent: AgentRecord;
    try {
      agent = authenticate(call);
    } catch (err) {
      const e = PlaneError.from(err);
      log.warn('stream refused', { reason: e.message, peer: call.getPeer() });
      call.emit('error', grpcError(e));
      return;
    }
    const agentId = agent.id;
    const sessionLog = log.child('session', { agentId, plane: agent.plane, agent: agent.name });
    let session: AgentSession | undefined;
    let ended = false;

    const end = (code: grpc.status, details: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(helloTimer);
      if (code === grpc.status.OK) call.end();
      else call.emit('error', { code, details });
    };

    const helloTimer = setTimeout(() => end(grpc.status.DEADLINE_EXCEEDED, 'no Hello within 10 s'), HELLO_TIMEOUT_MS);
    helloTimer.unref();

    // Messages that arrive while the Hello is being answered (it reads the secret store) wait here.
    let helloPending: AgentMessage__Output[] | undefined;

    const onHello = async (msg: NonNullable<AgentMessage__Output['hello']>): Promise<void> => {
      if (session || helloPending) return end(grpc.status.INVALID_ARGUMENT, 'Hello sent twice on one stream');
      if (msg.agentId !== agentId) {
        ctx.audit.record({ actor: `agent:${agentId}`, action: 'agent.impersonation', plane: agent.plane, agent: agent.name, outcome: 'denied', detail: { claimed: msg.agentId } });
        return end(grpc.status.PERMISSION_DENIED, `stream is authenticated as ${agentId}; Hello claims ${msg.agentId}`);
      }
      clearTimeout(helloTimer);
      // A boot that lost the brain's writer lease to a newer one is refused before it can
      // replace the live session of its successor.
      const lease = ctx.leases.acquire(agentId, msg.bootId);
      if (!lease.granted) {
        ctx.audit.record({ actor: `agent:${agentId}`, action: 'brain.lease_denied', plane: agent.plane, agent: agent.name, outcome: 'denied', detail: { bootId: msg.bootId } });
        return end(grpc.status.FAILED_PRECONDITION, lease.reason);
      }
      helloPending = [];
      let brain: Awaited<ReturnType<typeof brainGrant>>;
      let secrets: ReturnType<HubContext['secrets']['manifest']>;
      try {
        brain = await brainGrant(ctx, agent.plane, agent.name, lease.fence);
        secrets = ctx.secrets.manifest(agent.plane, agent.name);
      } catch (err) {
        const e = PlaneError.from(err);
        sessionLog.error('cannot answer Hello', { reason: e.message });
        return end(e.grpcStatus, `hub cannot answer Hello: ${e.message}`);
      }
      if (ended) return;
      const sessionId = randomUUID();
      const s: AgentSession = {
        sessionId,
        agentId,
        bootId: msg.bootId,
        connectedAt: Date.now(),
        call,
        // write() returning false is backpressure (the message is queued), not a failure.
        send: (m) => {
          if (ended) return false;
          call.write(m);
          return true;
        },
        close: (code, details) => end(code, details),
      };
      session = s;
      const previous = ctx.sessions.add(s);
      previous?.close(grpc.status.ABORTED, 'superseded by a newer stream for the same agent');
      ctx.agents.recordHello(agentId, {
        bootId: msg.bootId,
        agentdVersion: msg.agentdVersion,
        runtimeVersions: msg.runtimeVersions,
        capabilities: msg.capabilities,
      });
      const agentSpecJson = JSON.stringify(resolveAgentRuntimeSpec(ctx.planes.get(agent.plane), ctx.agents.getById(agentId)));
      s.send({ helloAck: { heartbeatIntervalMs: ctx.heartbeatIntervalMs, hubVersion: ctx.version, serverTimeMs: Date.now(), sessionId, agentSpecJson, brain, secrets } });
      sessionLog.info('agent connected', { bootId: msg.bootId, agentdVersion: msg.agentdVersion, writerFence: lease.fence });
      ctx.events.emit('connected', agentId);
      // What the agent did with commands whose results the hub missed, then what is still to send.
      const { send, settled } = settleFromLedger(ctx, agentId, msg.ledger);
      if (settled > 0) sessionLog.info('command results settled from the agent ledger', { settled });
      for (const cmd of send) {
        if (s.send(toWireCommand(cmd))) ctx.commands.markDelivered(cmd.id);
      }
      const queued = helloPending;
      helloPending = undefined;
      for (const m of queued) onMessage(m);
    };

    let forged = 0;
    /**
     * A result for a command the hub never sent this agent (unknown, another
     * agent's, or never delivered) is refused: recorded nowhere, audited as a
     * possible compromise. The stream stays up (an honest agent talking to a hub
     * restored from an older backup can send a few), until FORGED_RESULTS_PER_STREAM.
     */
    const refuseForged = (r: CommandResult__Output, why: string): void => {
      forged++;
      const commandId = r.commandId.slice(0, 128);
      ctx.audit.record({ actor: `agent:${agentId}`, action: 'agent.forged_result', plane: agent.plane, agent: agent.name, outcome: 'denied', detail: { commandId, status: String(r.status).slice(0, 64), why, onThisStream: forged } });
      sessionLog.warn('refused a result for a command never sent to this agent', { commandId, why });
      if (forged >= FORGED_RESULTS_PER_STREAM) end(grpc.status.PERMISSION_DENIED, `${forged} results for commands never sent to this agent; stream ended`);
    };

    const onResult = (r: CommandResult__Output): void => {
      const cmd = ctx.commands.find(r.commandId);
      const why = !cmd ? 'no such command' : cmd.agentId !== agentId ? "another agent's command" : cmd.deliveredAt === null ? 'never sent to this agent' : null;
      if (why) return refuseForged(r, why);
      const result = parseResult(r);
      if (!result) return sessionLog.warn('command result with unknown status', { commandId: r.commandId, status: r.status });
      const updated = ctx.commands.recordResult(agentId, result);
      if (!updated) return undefined;
      sessionLog.debug('command result', { commandId: r.commandId, state: result.state });
      ctx.events.emit('command', updated);
    };

    const onSecretRequest = async (req: NonNullable<AgentMessage__Output['secretRequest']>): Promise<void> => {
      const current = ctx.agents.findById(agentId);
      if (!current) return end(grpc.status.UNAUTHENTICATED, 'agent removed');
      const res = await ctx.secrets.deliver(current, req);
      session?.send({ secretResponse: res });
    };

    const onMessage = (msg: AgentMessage__Output): void => {
      if (ended) return;
      if (helloPending && msg.body !== 'hello') {
        helloPending.push(msg);
        return;
      }
      if (msg.body !== 'hello' && !session) return end(grpc.status.FAILED_PRECONDITION, 'first message must be Hello');
      switch (msg.body) {
        case 'hello':
          if (msg.hello) {
            onHello(msg.hello).catch((err: unknown) => end(grpc.status.INTERNAL, PlaneError.from(err).message));
          }
          return undefined;
        case 'secretRequest':
          if (msg.secretRequest) {
            onSecretRequest(msg.secretRequest).catch((err: unknown) => sessionLog.error('secret request failed', { reason: PlaneError.from(err).message }));
          }
          return undefined;
        case 'heartbeat':
          if (msg.heartbeat) {
            ctx.heartbeats.put(agentId, msg.heartbeat);
            session?.send({ heartbeatAck: { seq: msg.heartbeat.seq, serverTimeMs: Date.now() } });
          }
          return undefined;
        case 'commandResult':
          return msg.commandResult ? onResult(msg.commandResult) : undefined;
        case 'logChunk':
          if (msg.logChunk) ctx.events.emit('logChunk', agentId, msg.logChunk);
          return undefined;
        case 'event':
          if (msg.event) {
            sessionLog.info('agent event', { kind: msg.event.kind, severity: msg.event.severity, message: msg.event.message });
            ctx.events.emit('agentEvent', agentId, msg.event);
          }
          return undefined;
        default:
          return end(grpc.status.INVALID_ARGUMENT, 'empty message');
      }
    };
    call.on('data', onMessage);

    const onGone = (): void => {
      clearTimeout(helloTimer);
      ended = true;
      if (session && ctx.sessions.remove(session)) {
        // The agent row may already be gone (remove-agent ends the stream).
        if (ctx.agents.findById(agentId)) ctx.agents.recordDisconnect(agentId);
        sessionLog.info('agent disconnected');
        ctx.events.emit('disconnected', agentId);
      }
    };
    call.on('end', () => {
      onGone();
      call.end();
    });
    call.on('error', onGone);
    call.on('cancelled', onGone);
    call.on('close', onGone);
  }

  return { Enroll: (call, callback) => void enroll(call, callback), Connect: connect };
}

