import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubChannelOptions } from '../common/src/hub-tls.ts';
import { loadContract } from '../proto/index.ts';
import type { AgentPlaneClient, EnrollResponse__Output, HubMessage__Output } from '../proto/index.ts';
import { TestFleet } from './helpers/fleet.ts';

function client(fleet: TestFleet): AgentPlaneClient {
  const Client = loadContract().agentplane.v1.AgentPlane;
  return new Client(fleet.endpoints.grpcAddress, grpc.credentials.createSsl(readFileSync(fleet.endpoints.caFile)), hubChannelOptions());
}

function enroll(c: AgentPlaneClient, token: string): Promise<EnrollResponse__Output> {
  return new Promise((resolve, reject) => c.Enroll({ enrollmentToken: token }, (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res))));
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
});
