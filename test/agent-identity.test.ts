import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubChannelOptions } from '../common/src/hub-tls.ts';
import { loadContract } from '../proto/index.ts';
import type { AgentPlaneClient, EnrollResponse__Output, HubMessage__Output } from '../proto/index.ts';
import { TestFleet, waitUntil } from './helpers/fleet.ts';

function client(fleet: TestFleet): AgentPlaneClient {
  const Client = loadContract().agentplane.v1.AgentPlane;
  return new Client(fleet.endpoints.grpcAddress, grpc.credentials.createSsl(readFileSync(fleet.endpoints.caFile)), hubChannelOptions());
}

function enroll(c: AgentPlaneClient, token: string, claim: { plane?: string; agentName?: string } = {}): Promise<EnrollResponse__Output> {
  return new Promise((resolve, reject) => c.Enroll({ enrollmentToken: token, ...claim }, (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res))));
}

/** An agent's own stream, opened by hand: what it receives, and how it ended. */
function openStream(c: AgentPlaneClient, credential: string, agentId: string) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${credential}`);
  const call = c.Connect(md);
  const received: HubMessage__Output[] = [];
  const waiters: Array<() => void> = [];
  call.on('data', (m: HubMessage__Output) => {
    received.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<{ code: number; details: string }>((resolve) => call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details })));
  call.write({ hello: { agentId, bootId: 'by-hand', agentdVersion: 'test', runtimeVersions: {}, capabilities: ['ping'] } });
  /** The first message received that matches. */
  const next = async (pred: (m: HubMessage__Output) => boolean): Promise<HubMessage__Output> => {
    for (;;) {
      const found = received.find(pred);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const result = (commandId: string, status: 'COMMAND_STATUS_SUCCEEDED' = 'COMMAND_STATUS_SUCCEEDED'): void => {
    call.write({ commandResult: { commandId, status, outputJson: '{"forged":true}', startedAtMs: Date.now(), finishedAtMs: Date.now() } });
  };
  return { call, ended, next, result };
}

/** Opens Connect with a credential and a Hello; resolves with how the stream ended or its first message. */
function connect(c: AgentPlaneClient, credential: string, helloAgentId: string): Promise<{ code?: number; details?: string; first?: HubMessage__Output }> {
  return new Promise((resolve) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${credential}`);
    const call = c.Connect(md);
    call.on('data', (m: HubMessage__Output) => {
      resolve({ first: m });
      call.cancel();
    });
    call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
    call.write({ hello: { agentId: helloAgentId, bootId: 'test', agentdVersion: 'test', runtimeVersions: {}, capabilities: [] } });
  });
}

describe('agent identity', () => {
  const fleet = new TestFleet();
  let c: AgentPlaneClient;

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane('ids');
    c = client(fleet);
  });
  afterAll(async () => {
    c.close();
    await fleet.destroy();
  });

  it('refuses a used enrollment token', async () => {
    await fleet.addAgent('ids', 'used');
    // agentd consumed the bundle's token; capture it before it is deleted is racy, so re-issue through the store.
    const agent = fleet.hub.context.agents.get('ids', 'used');
    const { token } = fleet.hub.context.agents.issueEnrollmentToken(agent.id, 60_000);
    const first = await enroll(c, token);
    expect(first.agentId).toBe(agent.id);
    await expect(enroll(c, token)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('refuses an expired enrollment token', async () => {
    const agent = fleet.hub.context.agents.get('ids', 'used');
    const { token } = fleet.hub.context.agents.issueEnrollmentToken(agent.id, 1);
    await new Promise((r) => setTimeout(r, 20));
    await expect(enroll(c, token)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    await expect(enroll(c, 'ape1.not-a-real-token')).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('takes agent identity from the credential: A cannot speak as B, and a forged credential is refused', async () => {
    await fleet.addAgent('ids', 'agent-a');
    await fleet.addAgent('ids', 'agent-b');
    const a = await fleet.waitFor('ids', 'agent-a', (x) => x.health.color === 'green');
    const b = await fleet.waitFor('ids', 'agent-b', (x) => x.health.color === 'green');
    const credA = (JSON.parse(readFileSync(join(fleet.agentDir('ids', 'agent-a'), 'state', 'credential.json'), 'utf8')) as { credential: string }).credential;

    const asB = await connect(c, credA, b.id);
    expect(asB.code).toBe(grpc.status.PERMISSION_DENIED);
    const forged = await connect(c, credA.replace(a.id, b.id), b.id);
    expect(forged.code).toBe(grpc.status.UNAUTHENTICATED);
    const none = await connect(c, '', b.id);
    expect(none.code).toBe(grpc.status.UNAUTHENTICATED);

    const audit = fleet.hub.context.audit.list({ plane: 'ids', agent: 'agent-a' });
    expect(audit.some((e) => e.action === 'agent.impersonation' && e.outcome === 'denied')).toBe(true);
  });

  it('ignores a command result sent for another agent’s command', async () => {
    const b = await fleet.waitFor('ids', 'agent-b', (x) => x.health.color === 'green');
    await fleet.hub.localProvider.stop(b.id);
    const cmd = fleet.hub.fleet.sendCommand('ids', 'agent-b', 'ping', {}, 'test');
    const a = fleet.hub.context.agents.get('ids', 'agent-a');
    expect(fleet.hub.context.commands.recordResult(a.id, { commandId: cmd.id, state: 'succeeded' })).toBeUndefined();
    expect(fleet.hub.context.commands.get(cmd.id).state).toBe('pending');
  });

  it('refuses a claim naming another agent without spending the token, and never names the agent the token is for', async () => {
    await fleet.addAgent('ids', 'claimed');
    const agent = fleet.hub.context.agents.get('ids', 'claimed');
    const { token } = fleet.hub.context.agents.issueEnrollmentToken(agent.id, 60_000);
    const wrong = await enroll(c, token, { plane: 'ids', agentName: 'typo-agent' }).catch((e: grpc.ServiceError) => e);
    expect(wrong).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect((wrong as grpc.ServiceError).details).toMatch(/not issued for ids\/typo-agent; it stays valid/);
    expect((wrong as grpc.ServiceError).details).not.toMatch(/claimed/);
    // The typo is fixed: the same token still enrols the agent it was issued for.
    const right = await enroll(c, token, { plane: 'ids', agentName: 'claimed' });
    expect(right.agentId).toBe(agent.id);
    const audit = fleet.hub.context.audit.list({ plane: 'ids', agent: 'claimed' });
    expect(audit.find((e) => e.action === 'agent.enroll' && e.outcome === 'denied')?.detail).toMatchObject({ reason: 'the claim names another agent', claimed: 'ids/typo-agent', failedClaims: 1 });
  });

  it('refuses every claim with a token after 5 failed ones for 15 minutes (audited), then takes it again', async () => {
    const agent = fleet.hub.context.agents.get('ids', 'claimed');
    const { token } = fleet.hub.context.agents.issueEnrollmentToken(agent.id, 3600_000);
    for (let i = 1; i <= 5; i++) await expect(enroll(c, token, { plane: 'ids', agentName: `guess-${i}` })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(enroll(c, token, { plane: 'ids', agentName: 'guess-6' })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    // Locked even for the right name, so guessing names gets nowhere; the token is not spent.
    const locked = await enroll(c, token, { plane: 'ids', agentName: 'claimed' }).catch((e: grpc.ServiceError) => e);
    expect(locked).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect((locked as grpc.ServiceError).details).toMatch(/too many failed claims with this enrollment token \(5 in 15 min\); it is refused until \d{4}-/);
    const audit = fleet.hub.context.audit.list({ plane: 'ids', agent: 'claimed' }).filter((e) => e.action === 'agent.enroll' && e.outcome === 'denied');
    expect(audit.filter((e) => e.detail['reason'] === 'rate-limited').map((e) => e.detail['claimed'])).toEqual(expect.arrayContaining(['ids/guess-6', 'ids/claimed']));
    expect(audit.some((e) => e.detail['claimed'] === 'ids/guess-5' && e.detail['failedClaims'] === 5)).toBe(true);
    // The window ends 15 minutes after the first failed claim; the token then works (the store takes the time).
    const later = fleet.hub.context.agents.claimEnrollmentToken(token, { plane: 'ids', agent: 'claimed' }, Date.now() + 15 * 60_000 + 1);
    expect(later).toMatchObject({ ok: true });
  });

  it('refuses and audits command results for commands never sent to the agent, and ends a stream that keeps sending them', async () => {
    const a = fleet.hub.context.agents.get('ids', 'agent-a');
    const b = fleet.hub.context.agents.get('ids', 'agent-b');
    await fleet.hub.localProvider.stop(a.id); // its own agentd would replace this stream
    await fleet.waitFor('ids', 'agent-a', (x) => !x.connected);
    const credA = (JSON.parse(readFileSync(join(fleet.agentDir('ids', 'agent-a'), 'state', 'credential.json'), 'utf8')) as { credential: string }).credential;
    const s = openStream(c, credA, a.id);
    await s.next((m) => m.body === 'helloAck');

    // A command that was sent on this stream: its result is taken.
    const ping = fleet.hub.fleet.sendCommand('ids', 'agent-a', 'ping', {}, 'test');
    await s.next((m) => m.command?.id === ping.id);
    s.result(ping.id);
    await waitUntil(() => fleet.hub.context.commands.get(ping.id).state === 'succeeded', 5000, 'the real result');

    // Never sent to agent-a: no such id, agent-b's command, and agent-a's own command that was never delivered.
    const bCmd = fleet.hub.context.commands.create({ agentId: b.id, kind: 'ping', args: {}, actor: 'test', ttlMs: 60_000 });
    const unsent = fleet.hub.context.commands.create({ agentId: a.id, kind: 'restart', args: {}, actor: 'test', ttlMs: 60_000 });
    for (const id of ['cmd_never_issued', bCmd.id, unsent.id]) s.result(id);
    const forged = (): Array<{ detail: Record<string, unknown> }> => fleet.hub.context.audit.list({ plane: 'ids', agent: 'agent-a' }).filter((e) => e.action === 'agent.forged_result');
    await waitUntil(() => forged().length === 3, 5000, 'three forged results audited');
    expect(forged().map((e) => [e.detail['commandId'], e.detail['why']]).sort()).toEqual(
      [
        ['cmd_never_issued', 'no such command'],
        [bCmd.id, "another agent's command"],
        [unsent.id, 'never sent to this agent'],
      ].sort(),
    );
    expect(fleet.hub.context.commands.get(bCmd.id)).toMatchObject({ state: 'pending', output: null });
    expect(fleet.hub.context.commands.get(unsent.id)).toMatchObject({ state: 'pending', output: null });

    // The tenth ends the stream.
    for (let i = 0; i < 7; i++) s.result(`cmd_flood_${i}`);
    const ended = await s.ended;
    expect(ended.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(ended.details).toMatch(/10 results for commands never sent to this agent/);
    expect(forged()).toHaveLength(10);
    await fleet.hub.localProvider.start(a.id);
  });
});
