import * as grpc from '@grpc/grpc-js';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubChannelOptions } from '../common/src/hub-tls.ts';
import { openDatabase } from '../hub/src/db/database.ts';
import { LocalSecretStore } from '../hub/src/secrets/local-secret-store.ts';
import { loadContract } from '../proto/index.ts';
import type { AgentPlaneClient, HubMessage__Output, SecretResponse__Output } from '../proto/index.ts';
import { run, TestFleet, waitUntil } from './helpers/fleet.ts';
import { secretsProviderContract } from './helpers/secrets-contract.ts';
import { type GsmStandin, startGsmStandin } from './helpers/gsm-standin.ts';

const tmp = mkdtempSync(join(tmpdir(), 'local-secrets-'));
let n = 0;
secretsProviderContract('local', () => {
  const dir = join(tmp, String(n++));
  mkdirSync(dir, { recursive: true });
  return new LocalSecretStore(openDatabase(join(dir, 'hub.db')), dir);
});

describe('local secret store', () => {
  it('refuses a master key readable by group or others, naming the file and the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'master-'));
    const db = openDatabase(join(dir, 'hub.db'));
    new LocalSecretStore(db, dir);
    chmodSync(join(dir, 'secrets', 'master.key'), 0o644);
    expect(() => new LocalSecretStore(db, dir)).toThrow(/master\.key is readable by group or others \(mode 644\); chmod 600 it/);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps no value in the database file: only sealed bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealed-'));
    const db = openDatabase(join(dir, 'hub.db'));
    const store = new LocalSecretStore(db, dir);
    await store.set({ plane: 'p', agent: 'a' }, 'K', Buffer.from('plaintext-canary-77'), 'external');
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(join(dir, 'hub.db')).includes('plaintext-canary-77')).toBe(false);
    expect((await store.get({ plane: 'p', agent: 'a' }, 'K'))?.value.toString()).toBe('plaintext-canary-77');
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

function grpcClient(fleet: TestFleet): AgentPlaneClient {
  const Client = loadContract().agentplane.v1.AgentPlane;
  return new Client(fleet.endpoints.grpcAddress, grpc.credentials.createSsl(readFileSync(fleet.endpoints.caFile)), hubChannelOptions());
}

/** Enrols as the agent (a fresh token from the store), opens its stream, and sends one SecretRequest. */
async function askAsAgent(fleet: TestFleet, c: AgentPlaneClient, plane: string, agent: string, names: string[], ns?: { plane: string; agent: string }): Promise<SecretResponse__Output> {
  const rec = fleet.hub.context.agents.get(plane, agent);
  const { token } = fleet.hub.context.agents.issueEnrollmentToken(rec.id, 60_000);
  const enrolled = await new Promise<{ credential: string }>((resolve, reject) => c.Enroll({ enrollmentToken: token }, (err, res) => (err || !res ? reject(err ?? new Error('empty')) : resolve(res))));
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${enrolled.credential}`);
  const call = c.Connect(md);
  return new Promise((resolve, reject) => {
    call.on('data', (m: HubMessage__Output) => {
      if (m.body === 'helloAck') call.write({ secretRequest: { requestId: 'r1', names, plane: ns?.plane ?? '', agent: ns?.agent ?? '' } });
      if (m.body === 'secretResponse' && m.secretResponse) {
        resolve(m.secretResponse);
        call.cancel();
      }
    });
    call.on('error', (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
    call.write({ hello: { agentId: rec.id, bootId: `test-${agent}`, agentdVersion: 'test', runtimeVersions: {}, capabilities: [] } });
  });
}

describe('secrets through the hub', () => {
  const fleet = new TestFleet();
  const plane = 'sec';
  const responses: string[] = [];
  let c: AgentPlaneClient;
  const api = async <T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
    const r = await fleet.api<T>(method, path, body, token);
    responses.push(JSON.stringify(r.body ?? null));
    return r;
  };

  beforeAll(async () => {
    await fleet.start();
    // Manual infra: no agentd processes, so this test is the only client of the agents' streams.
    const r = await fleet.api('POST', '/v1/planes', { name: plane, infraProvider: 'manual' });
    expect(r.status).toBe(201);
    for (const a of ['alice', 'bob']) expect((await fleet.api('POST', `/v1/planes/${plane}/agents`, { name: a, ownerEmail: `${a}@example.com` })).status).toBe(201);
    c = grpcClient(fleet);
  });
  afterAll(async () => {
    c.close();
    await fleet.destroy();
  });

  it('sets write-only secrets: the API returns names and versions, never the value', async () => {
    const set1 = await api<{ secret: { name: string; version: number; kind: string } }>('PUT', `/v1/planes/${plane}/agents/alice/secrets/MODEL_KEY`, { value: 'alice-value-1' });
    expect(set1.status).toBe(200);
    expect(set1.body.secret).toMatchObject({ name: 'MODEL_KEY', version: 1, kind: 'external' });
    const set2 = await api<{ secret: { version: number } }>('PUT', `/v1/planes/${plane}/agents/alice/secrets/MODEL_KEY`, { value: 'alice-value-2' });
    expect(set2.body.secret.version).toBe(2);
    await api('PUT', `/v1/planes/${plane}/agents/bob/secrets/MODEL_KEY`, { value: 'bob-value' });
    const list = await api<{ secrets: Array<Record<string, unknown>> }>('GET', `/v1/planes/${plane}/agents/alice/secrets`);
    expect(list.body.secrets.map((s) => [s['name'], s['version']])).toEqual([['MODEL_KEY', 2]]);
    expect(Object.keys(list.body.secrets[0] ?? {}).sort()).toEqual(['createdAt', 'kind', 'name', 'updatedAt', 'version']);
    // Each set queued a refresh for the agent.
    const agent = fleet.hub.context.agents.get(plane, 'alice');
    expect(fleet.hub.context.commands.openFor(agent.id).filter((x) => x.kind === 'refresh-secrets').length).toBe(2);
  });

  it('refuses bad input with 400/404 naming what was wrong', async () => {
    const big = await api<{ error: { message: string } }>('PUT', `/v1/planes/${plane}/agents/alice/secrets/BIG`, { value: 'x'.repeat(64 * 1024 + 1) });
    expect(big.status).toBe(400);
    expect(big.body.error.message).toBe('secret BIG: the value is 65537 bytes; the limit is 65536 (64 KiB)');
    const badName = await api<{ error: { message: string } }>('PUT', `/v1/planes/${plane}/agents/alice/secrets/${encodeURIComponent('../bob/KEY')}`, { value: 'v' });
    expect(badName.status).toBe(400);
    expect(badName.body.error.message).toMatch(/secret name "\.\.\/bob\/KEY" is not valid/);
    expect((await api('PUT', `/v1/planes/${plane}/agents/nobody/secrets/K`, { value: 'v' })).status).toBe(404);
    expect((await api('GET', `/v1/planes/${plane}/agents/nobody/secrets`)).status).toBe(404);
    const missing = await api<{ error: { message: string } }>('DELETE', `/v1/planes/${plane}/agents/alice/secrets/NOPE`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe(`agent ${plane}/alice has no secret NOPE`);
    expect((await api('PUT', `/v1/planes/${plane}/agents/alice/secrets/K`, { value: '' })).status).toBe(400);
    expect((await api('PUT', `/v1/planes/${plane}/agents/alice/secrets/K`, { value: 'v', extra: 1 })).status).toBe(400);
    // Nothing was stored by the refused requests.
    expect((await fleet.hub.context.secrets.list(plane, 'alice')).map((s) => s.name)).toEqual(['MODEL_KEY']);
  });

  it('an agent reads its own namespace over its stream, and is refused (and audited) for another', async () => {
    const own = await askAsAgent(fleet, c, plane, 'alice', ['MODEL_KEY', 'NOT_SET']);
    expect(own.error).toBe('');
    expect(Buffer.from(own.values['MODEL_KEY'] ?? []).toString()).toBe('alice-value-2');
    expect(own.versions['MODEL_KEY']).toBe(2);
    expect(own.missing).toEqual(['NOT_SET']);
    expect(own.revision).toMatch(/^[0-9a-f]{12}$/);

    const cross = await askAsAgent(fleet, c, plane, 'alice', ['MODEL_KEY'], { plane, agent: 'bob' });
    expect(cross.values).toEqual({});
    expect(cross.error).toBe(`agent ${plane}/alice may read only its own secrets, not those of ${plane}/bob`);
    const denied = fleet.hub.context.db
      .prepare("SELECT actor, outcome, detail_json FROM audit_events WHERE action = 'secret.access' AND agent = 'alice' AND outcome = 'denied'")
      .all() as Array<{ actor: string; outcome: string; detail_json: string }>;
    expect(denied).toHaveLength(1);
    expect(JSON.parse(denied[0]?.detail_json ?? '{}')).toMatchObject({ names: ['MODEL_KEY'], requested: `${plane}/bob` });
    const ok = fleet.hub.context.db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'secret.access' AND agent = 'alice' AND outcome = 'ok'").get() as { n: number };
    expect(ok.n).toBe(1);
  });

  it('viewers can list but not set, delete or rotate', async () => {
    const { token } = fleet.hub.context.apiTokens.create('viewer-sec', 'viewer');
    expect((await api('GET', `/v1/planes/${plane}/agents/alice/secrets`, undefined, token)).status).toBe(200);
    expect((await api('PUT', `/v1/planes/${plane}/agents/alice/secrets/K`, { value: 'v' }, token)).status).toBe(403);
    expect((await api('DELETE', `/v1/planes/${plane}/agents/alice/secrets/MODEL_KEY`, undefined, token)).status).toBe(403);
    expect((await api('POST', `/v1/planes/${plane}/rotate-secrets`, undefined, token)).status).toBe(403);
  });

  it('audits every set and delete with actor, agent and key name, never the value; the chain verifies', async () => {
    expect((await api('DELETE', `/v1/planes/${plane}/agents/bob/secrets/MODEL_KEY`)).status).toBe(200);
    const audit = await api<{ events: Array<{ actor: string; action: string; agent: string; outcome: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&limit=500`);
    const secretEvents = audit.body.events.filter((e) => e.action.startsWith('secret.'));
    expect(secretEvents.filter((e) => e.action === 'secret.set' && e.outcome === 'ok').map((e) => [e.agent, e.detail['name'], e.detail['version']])).toEqual(
      expect.arrayContaining([
        ['alice', 'MODEL_KEY', 1],
        ['alice', 'MODEL_KEY', 2],
        ['bob', 'MODEL_KEY', 1],
      ]),
    );
    expect(secretEvents.some((e) => e.action === 'secret.set' && e.outcome === 'failed' && e.detail['name'] === 'BIG')).toBe(true);
    expect(secretEvents.some((e) => e.action === 'secret.delete' && e.agent === 'bob' && e.outcome === 'ok')).toBe(true);
    expect(secretEvents.every((e) => e.actor.length > 0)).toBe(true);
    expect((await api<{ ok: boolean }>('POST', '/v1/audit/verify')).body.ok).toBe(true);
    // No value in any response this test received, nor in the hub's log records.
    const logText = JSON.stringify(fleet.logs);
    for (const v of ['alice-value-1', 'alice-value-2', 'bob-value']) {
      expect(responses.join('\n')).not.toContain(v);
      expect(logText).not.toContain(v);
    }
  });

  it('rotation is recorded when the agent reports its new credential hash; the schedule picks agents past the period', async () => {
    const rot = fleet.hub.secretRotation;
    const agent = fleet.hub.context.agents.get(plane, 'bob');
    const r = await api<{ rotations: Array<{ agent: string; command: { id: string; kind: string } }> }>('POST', `/v1/planes/${plane}/agents/bob/rotate-secrets`);
    expect(r.status).toBe(202);
    expect(r.body.rotations[0]).toMatchObject({ agent: 'bob', command: { kind: 'rotate-secrets' } });
    // Nobody runs bob here, so answer as bob would: the new credential's hash only.
    const cmdId = r.body.rotations[0]?.command.id ?? '';
    const hash = 'a'.repeat(64);
    const updated = fleet.hub.context.commands.recordResult(agent.id, { commandId: cmdId, state: 'succeeded', output: { credentialHash: hash, revision: 'abc', gateway: 'restarted' } });
    expect(updated).toBeTruthy();
    if (updated) fleet.hub.context.events.emit('command', updated);
    await waitUntil(() => rot.lastRotated(agent.id) !== agent.enrolledAt, 5000, 'the rotation to be recorded');
    const row = fleet.hub.context.db.prepare('SELECT credential_hash AS h FROM agents WHERE id = ?').get(agent.id) as { h: string };
    expect(row.h).toBe(hash);
    // 91 days later both agents are due (alice never rotated; bob rotated "now").
    const later = Date.now() + 91 * 86_400_000;
    expect(rot.due(later).map((d) => d.name).sort()).toEqual(['alice', 'bob']);
    expect(rot.due(Date.now()).map((d) => d.name)).toEqual([]);

    // The schedule rotates them as one rate-controlled run per plane, never the whole plane at once.
    expect(rot.runSchedule(later)).toBe(2);
    const runs = await api<{ runs: Array<{ id: string; kind: string; actor: string; requested: { maxConcurrency: string; maxErrors: string }; maxConcurrency: number; targets: Array<{ agent: string }> }> }>('GET', `/v1/planes/${plane}/runs`);
    const scheduled = runs.body.runs.find((r) => r.actor === 'hub:schedule');
    expect(scheduled).toMatchObject({ kind: 'rotate-secrets', requested: { maxConcurrency: '10%', maxErrors: '10%' }, maxConcurrency: 1 });
    expect(scheduled?.targets.map((t) => t.agent).sort()).toEqual(['alice', 'bob']);
    expect((await api('POST', `/v1/planes/${plane}/runs/${scheduled?.id ?? ''}/cancel`)).status).toBe(202);
    const env = fleet.cliEnv();
    const listed = await run(process.execPath, ['bin/planes.js', 'runs', '--plane', plane, '--json'], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { runs: Array<{ id: string; actor: string }> }).runs.some((r) => r.id === scheduled?.id && r.actor === 'hub:schedule')).toBe(true);
    const one = await run(process.execPath, ['bin/planes.js', 'runs', '--plane', plane, '--id', scheduled?.id ?? ''], { env });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^AGENT\s+RESULT\s+DETAIL/m);
    expect(one.stdout).toMatch(/\balice\b/);
  });
});

// The hub on Google Secret Manager: the real client library against a loopback stand-in (see gsm-standin.ts for what it leaves out).
describe('secrets through the hub, stored in Secret Manager', () => {
  let standin: GsmStandin;
  let fleet: TestFleet;
  let c: AgentPlaneClient;
  const plane = 'gsm';

  beforeAll(async () => {
    standin = await startGsmStandin();
    fleet = new TestFleet({ secretsProvider: `gcp-secret-manager:${standin.projectId}`, secretsApiEndpoint: `127.0.0.1:${standin.port}` });
    await fleet.start();
    expect((await fleet.api('POST', '/v1/planes', { name: plane, infraProvider: 'manual' })).status).toBe(201);
    expect((await fleet.api('POST', `/v1/planes/${plane}/agents`, { name: 'carol', ownerEmail: 'carol@example.com' })).status).toBe(201);
    c = grpcClient(fleet);
  });
  afterAll(async () => {
    c.close();
    await fleet.destroy();
    await standin.close();
  });

  it('sets through REST, delivers over the stream by known name (no list call), and purges the namespace on remove-agent', async () => {
    const set = await fleet.api<{ secret: { version: number } }>('PUT', `/v1/planes/${plane}/agents/carol/secrets/MODEL_KEY`, { value: 'carol-gsm-value' });
    expect(set.status).toBe(200);
    expect(set.body.secret.version).toBe(1);
    expect([...standin.secrets().keys()]).toEqual([`ap_${plane}_carol_MODEL_KEY`]);

    const before = standin.requests.length;
    const got = await askAsAgent(fleet, c, plane, 'carol', ['MODEL_KEY']);
    expect(Buffer.from(got.values['MODEL_KEY'] ?? []).toString()).toBe('carol-gsm-value');
    // Hello and delivery read by known name only: no namespace listing against the provider
    // (the first Hello also generated the brain key; writing a version lists that secret's versions).
    const calls = standin.requests.slice(before);
    expect(calls.filter((r) => r.method === 'ListSecrets')).toEqual([]);
    expect(calls.filter((r) => r.method === 'AccessSecretVersion').map((r) => r.name.replace(/^projects\/[^/]+\//, ''))).toContain(`secrets/ap_${plane}_carol_MODEL_KEY/versions/latest`);
    // The Hello generated the brain data key in the same namespace.
    expect([...standin.secrets().keys()].sort()).toEqual([`ap_${plane}_carol_MODEL_KEY`, `ap_${plane}_carol_brain-data-key`]);

    const list = await fleet.api<{ provider: string; secrets: Array<{ name: string }> }>('GET', `/v1/planes/${plane}/agents/carol/secrets`);
    expect(list.body.provider).toBe('gcp-secret-manager');
    expect(list.body.secrets.map((s) => s.name)).toEqual(['MODEL_KEY', 'brain-data-key']);

    expect((await fleet.api('DELETE', `/v1/planes/${plane}/agents/carol`)).status).toBe(200);
    expect([...standin.secrets().keys()]).toEqual([]);
  });

  it('a permission error from Secret Manager reaches the admin naming the missing role', async () => {
    expect((await fleet.api('POST', `/v1/planes/${plane}/agents`, { name: 'dave', ownerEmail: 'dave@example.com' })).status).toBe(201);
    standin.fail('*', grpc.status.PERMISSION_DENIED, 1);
    const r = await fleet.api<{ error: { code: string; message: string } }>('PUT', `/v1/planes/${plane}/agents/dave/secrets/MODEL_KEY`, { value: 'v' });
    standin.clearFailures();
    expect(r.status).toBe(403);
    expect(r.body.error.message).toMatch(/roles\/secretmanager\./);
  });
});
