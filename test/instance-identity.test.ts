/**
 * First boot on Compute Engine: agentd reads who it is from the instance metadata
 * (or a local file), and enrols with an instance identity token that the hub
 * checks against Google's keys, its own audience, and the agent's record (the
 * plane's project, the agent's instance name). Google is a loopback stand-in
 * (helpers/gce-standin.ts) signing with a locally generated RSA key.
 */
import * as grpc from '@grpc/grpc-js';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeBundle } from '../common/src/enrollment-bundle.ts';
import { ErrorCode, PlaneError } from '../common/src/errors.ts';
import { hubChannelOptions } from '../common/src/hub-tls.ts';
import { defaultAudience, gceInstanceName } from '../common/src/instance-identity.ts';
import { Logger } from '../common/src/logger.ts';
import { loadContract } from '../proto/index.ts';
import type { AgentPlaneClient, EnrollResponse__Output } from '../proto/index.ts';
import { resolveBootstrap } from '../agentd/src/bootstrap.ts';
import { parseAgentdFileConfig } from '../agentd/src/config.ts';
import { ensureEnrolled } from '../agentd/src/enrollment.ts';
import { GceMetadata } from '../agentd/src/gce-metadata.ts';
import { RemoteJwks, StaticKeys, verifyInstanceIdentityToken } from '../hub/src/grpc/instance-identity.ts';
import { GceStandin } from './helpers/gce-standin.ts';
import { TestFleet, waitUntil } from './helpers/fleet.ts';

const log = new Logger('test', { sink: () => undefined });
const PROJECT = 'proj-1';
const PLANE = 'gce';

describe('verifyInstanceIdentityToken', () => {
  const g = new GceStandin();
  const keys = new StaticKeys(g.jwks());
  const aud = 'https://hub.example:7443';

  it('accepts a token Google signed for this audience and returns the instance', async () => {
    const id = await verifyInstanceIdentityToken(g.token(aud), { audience: aud, keys });
    expect(id).toMatchObject({ projectId: 'proj-1', zone: 'europe-west1-b', instanceName: 'vm', instanceId: '1234567890', projectNumber: '123456789012' });
    expect(id.expiresAt).toBeGreaterThan(Date.now());
  });

  it.each<[string, () => string, RegExp]>([
    ['another audience', () => g.token('https://other:7443'), /audience "https:\/\/other:7443" is not this hub/],
    ['an expired token', () => g.token(aud, { iat: Math.floor(Date.now() / 1000) - 7300, exp: Math.floor(Date.now() / 1000) - 3700 }), /expired/],
    ['a token from the future', () => g.token(aud, { iat: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 4200 }), /future/],
    ['a day-long token', () => g.token(aud, { exp: Math.floor(Date.now() / 1000) + 86_400 }), /longer than an hour/],
    ['another issuer', () => g.token(aud, { iss: 'https://evil.example' }), /issuer/],
    ['no Compute Engine claims', () => g.token(aud, { google: undefined }), /format=full/],
    ['another key under the same kid', () => g.token(aud, {}, { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }), /bad signature/],
    ['an unknown kid', () => g.token(aud, {}, { kid: 'nope' }), /unknown key nope/],
    ['alg none', () => `${Buffer.from('{"alg":"none","kid":"test-key"}').toString('base64url')}.${g.token(aud).split('.')[1]}.`, /not a JWT|RS256/],
    ['HS256', () => g.token(aud, {}, { alg: 'HS256' }), /HS256 is not RS256/],
    ['garbage', () => 'a.b', /not a JWT/],
  ])('refuses %s', async (_what, make, message) => {
    const err = await verifyInstanceIdentityToken(make(), { audience: aud, keys }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlaneError);
    expect((err as PlaneError).code).toBe(ErrorCode.Unauthenticated);
    expect((err as PlaneError).message).toMatch(message);
  });

  it("fetches Google's key set once and refetches for an unknown kid", async () => {
    const standin = await new GceStandin().start();
    try {
      let fetches = 0;
      const counting: typeof fetch = (input, init) => (fetches++, fetch(input, init));
      const remote = new RemoteJwks(standin.certsUrl, { fetch: counting });
      await verifyInstanceIdentityToken(standin.token(aud), { audience: aud, keys: remote });
      await verifyInstanceIdentityToken(standin.token(aud), { audience: aud, keys: remote });
      expect(fetches).toBe(1);
      // Unknown key ids refetch at most once a minute.
      await expect(verifyInstanceIdentityToken(standin.token(aud, {}, { kid: 'rotated' }), { audience: aud, keys: remote })).rejects.toThrow(/unknown key rotated/);
      expect(fetches).toBe(1);
      const eager = new RemoteJwks(standin.certsUrl, { fetch: counting, minRefetchMs: 0 });
      await verifyInstanceIdentityToken(standin.token(aud), { audience: aud, keys: eager });
      await expect(verifyInstanceIdentityToken(standin.token(aud, {}, { kid: 'rotated' }), { audience: aud, keys: eager })).rejects.toThrow(/unknown key rotated/);
      expect(fetches).toBe(3);
    } finally {
      await standin.close();
    }
  });
});

describe('gceInstanceName', () => {
  it('is <plane>-<agent>, shortened with a hash past 63 characters', () => {
    expect(gceInstanceName('acme', 'bob')).toBe('acme-bob');
    const long = gceInstanceName('p'.repeat(40), 'a'.repeat(40));
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^p+-a+-[0-9a-f]{8}$/);
    expect(gceInstanceName('p'.repeat(40), 'a'.repeat(39) + 'b')).not.toBe(long);
  });
});

describe('bootstrap from metadata', () => {
  const standin = new GceStandin();
  let dir: string;
  const fileCfg = (extra = ''): ReturnType<typeof parseAgentdFileConfig> =>
    parseAgentdFileConfig(`bootstrap: {source: gce-metadata, fallbackFile: ${join(dir, 'bootstrap.yaml')}}\nstateDir: ${dir}/state\nruntime: {kind: placeholder}\n${extra}`, join(dir, 'agentd.yaml'));
  const metadata = (): GceMetadata => new GceMetadata({ host: standin.host, timeoutMs: 1000 });
  const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

  beforeAll(async () => {
    await standin.start();
  });
  afterAll(async () => {
    await standin.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bootstrap-test-'));
    standin.flavor = true;
    standin.attributes = {};
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it('takes plane, agent, hub, CA and instance-identity enrolment from the attributes', async () => {
    standin.attributes = {
      'agents-plane-plane': 'acme',
      'agents-plane-agent': 'bob',
      'agents-plane-hub': 'hub.internal:7443',
      'agents-plane-hub-ca': CA,
      'agents-plane-enrollment': 'instance-identity',
      'startup-script': 'echo unrelated',
    };
    const cfg = await resolveBootstrap(fileCfg(), { log, metadata: metadata() });
    expect(cfg).toMatchObject({ plane: 'acme', agent: 'bob', stateDir: `${dir}/state` });
    expect(cfg.enrollment).toEqual({ kind: 'instance-identity', hub: 'hub.internal:7443', caPem: `${CA}\n`, audience: 'https://hub.internal:7443' });
    expect('bootstrap' in cfg).toBe(false);
  });

  it('takes everything from an enrollment bundle in the metadata, and refuses attributes that disagree with it', async () => {
    const bundle = encodeBundle({ v: 1, hub: 'h:1', caPem: CA, plane: 'acme', agent: 'bob', token: 'ape1.x', expiresAt: Date.now() + 60_000 });
    standin.attributes = { 'agents-plane-enrollment': bundle };
    const cfg = await resolveBootstrap(fileCfg(), { log, metadata: metadata() });
    expect(cfg).toMatchObject({ plane: 'acme', agent: 'bob', enrollment: { kind: 'bundle', bundle } });
    standin.attributes = { 'agents-plane-enrollment': bundle, 'agents-plane-agent': 'eve' };
    await expect(resolveBootstrap(fileCfg(), { log, metadata: metadata() })).rejects.toThrow(/agent is eve, but the enrollment bundle says bob/);
  });

  it('needs hub and hub-ca for instance identity, and valid names', async () => {
    standin.attributes = { 'agents-plane-plane': 'acme', 'agents-plane-agent': 'bob', 'agents-plane-enrollment': 'instance-identity' };
    await expect(resolveBootstrap(fileCfg(), { log, metadata: metadata() })).rejects.toThrow(/hub is required/);
    standin.attributes = { 'agents-plane-plane': 'acme', 'agents-plane-agent': 'Bob!' };
    await expect(resolveBootstrap(fileCfg(), { log, metadata: metadata() })).rejects.toThrow(/agent "Bob!" is not a valid name/);
  });

  it('falls back to the local file without a metadata server, and fails with 78 material when there is neither', async () => {
    const gone = new GceMetadata({ host: '127.0.0.1:1', timeoutMs: 500 });
    await expect(resolveBootstrap(fileCfg(), { log, metadata: gone, retryDelayMs: 10 })).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      message: expect.stringMatching(/nothing says which agent this is \(no agents-plane-\* instance metadata, no file .*bootstrap.yaml\)/) as unknown,
    });
    writeFileSync(join(dir, 'bootstrap.yaml'), `plane: acme\nagent: carol\nhub: 10.0.0.2:7443\nhub-ca: |\n  ${CA.replaceAll('\n', '\n  ')}\nenrollment: instance-identity\naudience: https://planes.example\n`);
    const cfg = await resolveBootstrap(fileCfg(), { log, metadata: gone, retryDelayMs: 10 });
    expect(cfg).toMatchObject({ plane: 'acme', agent: 'carol', enrollment: { kind: 'instance-identity', hub: '10.0.0.2:7443', audience: 'https://planes.example' } });
    writeFileSync(join(dir, 'bootstrap.yaml'), 'plane: acme\nagnet: carol\n');
    await expect(resolveBootstrap(fileCfg(), { log, metadata: gone, retryDelayMs: 10 })).rejects.toThrow(/agnet is not a known key/);
  });

  it('treats a server without Metadata-Flavor as no metadata server, and always sends the header', async () => {
    standin.attributes = { 'agents-plane-plane': 'acme', 'agents-plane-agent': 'bob' };
    standin.flavor = false;
    writeFileSync(join(dir, 'bootstrap.yaml'), 'plane: acme\nagent: from-file\n');
    const cfg = await resolveBootstrap(fileCfg(), { log, metadata: metadata(), retryDelayMs: 10 });
    expect(cfg.agent).toBe('from-file');
    expect(standin.unflavoredRequests).toBe(0);
  });

  it('refuses plane or agent in a config that has a bootstrap, and needs them without one', () => {
    expect(() => fileCfg('plane: acme\n')).toThrow(/plane comes from the bootstrap/);
    expect(() => parseAgentdFileConfig('stateDir: /s\nruntime: {kind: placeholder}\n', 'a.yaml')).toThrow(/a.yaml: plane is required/);
  });
});

describe('instance-identity enrolment with the hub', () => {
  const standin = new GceStandin();
  let fleet: TestFleet;
  let dir: string;
  let client: AgentPlaneClient;
  let audience: string;

  const enroll = (req: Record<string, string>): Promise<EnrollResponse__Output> =>
    new Promise((resolve, reject) => client.Enroll(req, (err, res) => (err || !res ? reject(err ?? new Error('empty')) : resolve(res))));

  async function addAgent(name: string): Promise<string> {
    const r = await fleet.api<{ id: string }>('POST', `/v1/planes/${PLANE}/agents`, { name, ownerEmail: `${name}@example.com` });
    expect(r.status).toBe(201);
    return r.body.id;
  }

  function bootstrapCfg(agent: string, extraAttrs: Record<string, string> = {}): void {
    standin.attributes = {
      'agents-plane-plane': PLANE,
      'agents-plane-agent': agent,
      'agents-plane-hub': fleet.endpoints.grpcAddress,
      'agents-plane-hub-ca': readFileSync(fleet.endpoints.caFile, 'utf8'),
      'agents-plane-enrollment': 'instance-identity',
      ...extraAttrs,
    };
    standin.instance = { ...standin.instance, projectId: PROJECT, zone: 'europe-west1-c', instanceName: gceInstanceName(PLANE, agent) };
  }

  async function firstBoot(agent: string): Promise<{ stateDir: string; result: Awaited<ReturnType<typeof ensureEnrolled>> }> {
    const stateDir = join(dir, agent);
    const file = parseAgentdFileConfig(`bootstrap: {source: gce-metadata}\nstateDir: ${stateDir}\nruntime: {kind: placeholder}\n`, join(dir, 'agentd.yaml'));
    const metadata = new GceMetadata({ host: standin.host });
    const cfg = await resolveBootstrap(file, { log, metadata });
    return { stateDir, result: await ensureEnrolled(cfg, 'boot-1', 'test', log, { metadata }) };
  }

  beforeAll(async () => {
    await standin.start();
    dir = mkdtempSync(join(tmpdir(), 'identity-test-'));
    fleet = await new TestFleet({ instanceIdentityEnrollment: true, googleCertsUrl: standin.certsUrl }).start();
    audience = defaultAudience(fleet.endpoints.grpcAddress);
    const r = await fleet.api('POST', '/v1/planes', { name: PLANE, infraProvider: 'manual', project: PROJECT, region: 'europe-west1' });
    expect(r.status).toBe(201);
    const Client = loadContract().agentplane.v1.AgentPlane;
    client = new Client(fleet.endpoints.grpcAddress, grpc.credentials.createSsl(readFileSync(fleet.endpoints.caFile)), hubChannelOptions());
  });
  afterAll(async () => {
    client.close();
    await fleet.destroy();
    await standin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrols the instance named for the agent in the plane project, once per token', async () => {
    const id = await addAgent('alice');
    bootstrapCfg('alice');
    const { stateDir, result } = await firstBoot('alice');
    expect(result.credential).toMatchObject({ agentId: id, plane: PLANE, agent: 'alice', hub: fleet.endpoints.grpcAddress });
    expect(JSON.parse(readFileSync(join(stateDir, 'credential.json'), 'utf8'))).toMatchObject({ agentId: id });
    expect(fleet.hub.context.agents.getById(id).enrolledAt).not.toBeNull();
    const audit = await fleet.api<{ events: Array<{ action: string; agent: string; outcome: string; detail: Record<string, unknown> }> }>('GET', '/v1/audit?limit=200');
    const enrolled = audit.body.events.find((e) => e.action === 'agent.enroll' && e.agent === 'alice' && e.outcome === 'ok');
    expect(enrolled?.detail).toMatchObject({ method: 'instance-identity', project: PROJECT, zone: 'europe-west1-c', instance: 'gce-alice' });
    // The token the metadata server handed out was for the hub, and is spent now.
    const token = standin.issued.at(-1) ?? '';
    expect((JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { aud: string }).aud).toBe(audience);
    await expect(enroll({ instanceIdentityToken: token, plane: PLANE, agentName: 'alice' })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: 'instance identity token was already used' });
  });

  it.each<[string, (agent: string) => void, number, RegExp]>([
    ['another instance name', () => (standin.instance = { ...standin.instance, instanceName: 'gce-mallory' }), grpc.status.PERMISSION_DENIED, /instance proj-1\/europe-west1-c\/gce-mallory may not enrol as gce\/a-/],
    ['another project', () => (standin.instance = { ...standin.instance, projectId: 'proj-2' }), grpc.status.PERMISSION_DENIED, /may not enrol/],
    ['a zone outside the region', () => (standin.instance = { ...standin.instance, zone: 'us-east1-b' }), grpc.status.PERMISSION_DENIED, /may not enrol/],
    ['another audience', () => (standin.attributes['agents-plane-audience'] = 'https://someone-else:7443'), grpc.status.UNAUTHENTICATED, /audience "https:\/\/someone-else:7443" is not this hub/],
  ])('refuses %s, and agentd takes it as a configuration error', async (what, tamper, code, details) => {
    const name = `a-${what.split(' ').at(-1)?.slice(0, 8) ?? 'x'}`;
    const id = await addAgent(name);
    bootstrapCfg(name);
    tamper(name);
    const token = standin.token(standin.attributes['agents-plane-audience'] ?? audience);
    await expect(enroll({ instanceIdentityToken: token, plane: PLANE, agentName: name })).rejects.toMatchObject({ code, details: expect.stringMatching(details) as unknown });
    const err = await firstBoot(name).catch((e: unknown) => e);
    expect((err as PlaneError).code).toBe(ErrorCode.Unauthenticated);
    expect(fleet.hub.context.agents.getById(id).enrolledAt).toBeNull();
  });

  it('refuses an agent the plane does not have, with the same answer as a foreign instance', async () => {
    bootstrapCfg('ghost');
    await expect(enroll({ instanceIdentityToken: standin.token(audience), plane: PLANE, agentName: 'ghost' })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: 'instance proj-1/europe-west1-c/gce-ghost may not enrol as gce/ghost',
    });
    await expect(enroll({ instanceIdentityToken: standin.token(audience), plane: 'nope', agentName: 'ghost' })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  it('refuses a second machine while the agent is connected', async () => {
    await addAgent('busy');
    bootstrapCfg('busy');
    const { result } = await firstBoot('busy');
    // Hold a stream open as the enrolled agent.
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${result.credential.credential}`);
    const call = client.Connect(md);
    call.on('error', () => undefined);
    call.write({ hello: { agentId: result.credential.agentId, bootId: 'boot-1', agentdVersion: 'test', runtimeVersions: {}, capabilities: [] } });
    await waitUntil(() => fleet.hub.context.sessions.isConnected(result.credential.agentId), 10_000, 'stream');
    await expect(enroll({ instanceIdentityToken: standin.token(audience), plane: PLANE, agentName: 'busy' })).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: 'gce/busy is connected from another machine',
    });
    call.cancel();
  });

  it('first boot of a real agentd: metadata in, enrolled and green, stopped cleanly', async () => {
    await addAgent('erin');
    bootstrapCfg('erin');
    const stateDir = join(dir, 'erin-state');
    const cfgFile = join(dir, 'erin.yaml');
    writeFileSync(cfgFile, `bootstrap: {source: gce-metadata, fallbackFile: ${join(dir, 'missing.yaml')}}\nstateDir: ${stateDir}\nruntime: {kind: placeholder}\nsync: {enabled: false}\n`);
    const child: ChildProcess = spawn(process.execPath, ['bin/agentd.js', 'run', '--config', cfgFile], {
      env: { ...process.env, GCE_METADATA_HOST: standin.host },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await fleet.waitFor(PLANE, 'erin', (a) => a.connected && a.health.color === 'green', 30_000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\nagentd stderr:\n${stderr}`);
    }
    expect(existsSync(join(stateDir, 'credential.json'))).toBe(true);
    expect(stderr).toContain('bootstrap: identity resolved');
    expect(stderr).not.toContain(standin.issued.at(-1) ?? 'no token issued');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('is refused by a hub that has not enabled it', async () => {
    const off = await new TestFleet({ googleCertsUrl: standin.certsUrl }).start();
    try {
      const Client = loadContract().agentplane.v1.AgentPlane;
      const c = new Client(off.endpoints.grpcAddress, grpc.credentials.createSsl(readFileSync(off.endpoints.caFile)), hubChannelOptions());
      const res = await new Promise<grpc.ServiceError | null>((resolve) => c.Enroll({ instanceIdentityToken: standin.token(defaultAudience(off.endpoints.grpcAddress)), plane: 'p', agentName: 'a' }, (err) => resolve(err)));
      c.close();
      expect(res).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: 'instance identity enrolment is not enabled on this hub' });
    } finally {
      await off.destroy();
    }
  });
});
