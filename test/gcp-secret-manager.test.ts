import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, PlaneError } from '../common/src/errors.ts';
import {
  agentSecretsIamBinding,
  GcpSecretManagerProvider,
  type GcpSecretManagerOptions,
  namespacePrefix,
  secretId,
} from '../common/src/secrets/gcp-secret-manager-provider.ts';
import { MAX_SECRET_BYTES, type SecretScope } from '../common/src/secrets/secrets-provider.ts';
import { secretsProviderContract } from './helpers/secrets-contract.ts';
import { type GsmStandin, startGsmStandin } from './helpers/gsm-standin.ts';

let standin: GsmStandin;
const providers: GcpSecretManagerProvider[] = [];
beforeAll(async () => {
  standin = await startGsmStandin({ projectId: 'plane-test', projectNumber: '424242424242' });
});
afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await standin.close();
});

/**
 * The real client, pointed at the stand-in: insecure channel credentials make
 * the library send no token, and naming the universe keeps it from probing the
 * metadata server for one.
 */
const clientOptions = (): NonNullable<GcpSecretManagerOptions['client']> => ({
  apiEndpoint: standin.host,
  port: standin.port,
  sslCreds: grpc.credentials.createInsecure(),
  universeDomain: 'googleapis.com',
});
const provider = (options: Partial<GcpSecretManagerOptions> = {}): GcpSecretManagerProvider => {
  const p = new GcpSecretManagerProvider({ project: standin.projectId, client: clientOptions(), retry: { initialDelayMs: 20, maxDelayMs: 100 }, ...options });
  providers.push(p);
  return p;
};
const scope = (agent = 'alice'): SecretScope => ({ plane: `p${randomBytes(4).toString('hex')}`, agent });
/** The calls made from here on. */
const since = (): (() => GsmStandin['requests']) => {
  const start = standin.requests.length;
  return () => standin.requests.slice(start);
};
const failure = async (p: Promise<unknown>): Promise<PlaneError> => {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlaneError);
  return err as PlaneError;
};

describe('Secret Manager provider on the gRPC stand-in', () => {
  let shared: GcpSecretManagerProvider;
  beforeAll(() => {
    shared = provider();
  });
  secretsProviderContract('gcp-secret-manager', () => shared);

  it('stores one secret per key, named by plane and agent, labelled, one live version', async () => {
    const p = provider();
    const s = scope('b-c');
    await p.set(s, 'MODEL_KEY', Buffer.from('first'), 'external');
    await p.set(s, 'MODEL_KEY', Buffer.from('second'), 'external');
    await p.set(s, 'gateway_token', Buffer.from('tok'), 'generated');
    const id = `ap_${s.plane}_b-c_MODEL_KEY`;
    expect(secretId(s, 'MODEL_KEY')).toBe(id);
    const stored = standin.secrets();
    expect(stored.get(id)).toEqual({
      labels: { plane: s.plane, agent: 'b-c', kind: 'external', 'managed-by': 'agents-plane' },
      versions: [
        { number: 1, state: 'DESTROYED', hasData: false, sentChecksum: true },
        { number: 2, state: 'ENABLED', hasData: true, sentChecksum: true },
      ],
    });
    expect(stored.get(`ap_${s.plane}_b-c_gateway_token`)?.labels.kind).toBe('generated');
  });

  it('get is one access of latest by its known name: no listing, no metadata read', async () => {
    const p = provider();
    const s = scope();
    await p.set(s, 'MODEL_KEY', Buffer.from('v'), 'external');
    const seen = since();
    expect((await p.get(s, 'MODEL_KEY'))?.value.toString()).toBe('v');
    expect(await p.get(s, 'MISSING')).toBeNull();
    expect(seen()).toEqual([
      { method: 'AccessSecretVersion', name: `projects/plane-test/secrets/${secretId(s, 'MODEL_KEY')}/versions/latest` },
      { method: 'AccessSecretVersion', name: `projects/plane-test/secrets/${secretId(s, 'MISSING')}/versions/latest` },
    ]);
  });

  it('a replaced value cannot be read back: older versions are destroyed, through the real client too', async () => {
    const p = provider();
    const s = scope();
    for (const v of ['one', 'two', 'three']) await p.set(s, 'ROTATED', Buffer.from(v), 'generated');
    const id = secretId(s, 'ROTATED');
    expect(standin.secrets().get(id)?.versions.map((v) => v.state)).toEqual(['DESTROYED', 'DESTROYED', 'ENABLED']);
    const client = new v1.SecretManagerServiceClient(clientOptions());
    try {
      const err = await client.accessSecretVersion({ name: `projects/plane-test/secrets/${id}/versions/1` }).then(
        () => undefined,
        (e: unknown) => e as { code?: number },
      );
      expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
      const [latest] = await client.accessSecretVersion({ name: `projects/plane-test/secrets/${id}/versions/latest` });
      // The service names resources by project number, whatever the request said.
      expect(latest.name).toBe(`projects/424242424242/secrets/${id}/versions/3`);
    } finally {
      await client.close();
    }
    expect(await p.get(s, 'ROTATED')).toEqual({ value: Buffer.from('three'), version: 3 });
  });

  it('checks what it reads against the CRC32C the service sends, and what it writes carries one', async () => {
    const p = provider();
    const s = scope();
    const value = Buffer.from('sk-canary-crc-0123456789');
    await p.set(s, 'K', value, 'external');
    standin.corruptNextAccess();
    const err = await failure(p.get(s, 'K'));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.message).toMatch(/CRC32C/);
    expect(err.message).not.toContain(value.toString());
    expect((await p.get(s, 'K'))?.value.equals(value)).toBe(true);
    expect(standin.secrets().get(secretId(s, 'K'))?.versions[0]?.sentChecksum).toBe(true);
  });

  it('a set left half-done earlier (two live versions) is cleaned up by the next set', async () => {
    const p = provider();
    const s = scope();
    await p.set(s, 'K', Buffer.from('one'), 'external');
    standin.fail('ListSecretVersions', grpc.status.PERMISSION_DENIED);
    const err = await failure(p.set(s, 'K', Buffer.from('two'), 'external'));
    expect(err.code).toBe(ErrorCode.PermissionDenied);
    expect(err.message).toMatch(/version 2 was stored.*older versions may still be readable/);
    expect(standin.secrets().get(secretId(s, 'K'))?.versions.map((v) => v.state)).toEqual(['ENABLED', 'ENABLED']);
    expect((await p.get(s, 'K'))?.version).toBe(2);
    await p.set(s, 'K', Buffer.from('three'), 'external');
    expect(standin.secrets().get(secretId(s, 'K'))?.versions.map((v) => v.state)).toEqual(['DESTROYED', 'DESTROYED', 'ENABLED']);
  });

  it('two first sets of one key at once: one creates the secret, both add a version, one stays live', async () => {
    const p = provider();
    const s = scope();
    const seen = since();
    const results = await Promise.all([p.set(s, 'RACE', Buffer.from('a'), 'external'), p.set(s, 'RACE', Buffer.from('b'), 'external')]);
    expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
    expect(seen().filter((r) => r.method === 'CreateSecret')).toHaveLength(2);
    const states = standin.secrets().get(secretId(s, 'RACE'))?.versions.map((v) => v.state);
    expect(states).toEqual(['DESTROYED', 'ENABLED']);
    const got = await p.get(s, 'RACE');
    expect(got?.version).toBe(2);
    expect(got?.value.toString()).toBe(results.find((r) => r.version === 2) === results[0] ? 'a' : 'b');
  });

  it('delete and deleteNamespace leave nothing in Secret Manager, and touch no other namespace', async () => {
    const p = provider({ pageSize: 2 });
    const s = scope('gone');
    const neighbour: SecretScope = { plane: s.plane, agent: 'gone2' };
    for (let i = 0; i < 5; i++) await p.set(s, `K${i}`, Buffer.from(`v${i}`), 'generated');
    await p.set(neighbour, 'K0', Buffer.from('stays'), 'external');
    const ids = (): string[] => [...standin.secrets().keys()].filter((id) => id.startsWith(namespacePrefix(s)));
    expect(ids()).toHaveLength(5);
    expect(await p.delete(s, 'K4')).toBe(true);
    expect(ids()).toHaveLength(4);
    const seen = since();
    expect(await p.deleteNamespace(s)).toBe(4);
    expect(ids()).toEqual([]);
    // The listing went page by page with the service's tokens, filtered by labels.
    const lists = seen().filter((r) => r.method === 'ListSecrets');
    expect(lists.length).toBe(2);
    expect(lists[0]).toMatchObject({ filter: `labels.plane=${s.plane} AND labels.agent=gone`, pageSize: 2 });
    expect(lists[0]?.pageToken).toBeUndefined();
    expect(lists[1]?.pageToken).toBeTruthy();
    expect(standin.secrets().get(secretId(neighbour, 'K0'))?.versions).toHaveLength(1);
    expect((await p.get(neighbour, 'K0'))?.value.toString()).toBe('stays');
  });

  it('refuses bad names, scopes and sizes before any call reaches Secret Manager', async () => {
    const p = provider();
    const s = scope();
    const seen = since();
    for (const call of [
      p.get(s, 'bad name'),
      p.set(s, 'K', Buffer.alloc(MAX_SECRET_BYTES + 1), 'external'),
      p.set(s, 'K', Buffer.alloc(0), 'external'),
      p.set(s, 'x'.repeat(129), Buffer.from('v'), 'external'),
      p.info(s, '-K'),
      p.delete(s, 'K/1'),
      p.list({ plane: 'a_b', agent: 'c' }),
      p.deleteNamespace({ plane: 'a', agent: 'B' }),
      p.get({ plane: 'x'.repeat(41), agent: 'c' }, 'K'),
    ]) {
      expect((await failure(call)).code).toBe(ErrorCode.InvalidArgument);
    }
    expect(seen()).toEqual([]);
    expect(() => new GcpSecretManagerProvider({ project: 'Not A Project' })).toThrow(PlaneError);
  });

  it('permission denied names the permission and the role for that call, and never the value', async () => {
    const p = provider();
    const s = scope();
    const value = Buffer.from('sk-canary-permission-0123456789');
    await p.set(s, 'K', value, 'external');
    const cases: [string, () => Promise<unknown>, string, string][] = [
      ['AccessSecretVersion', () => p.get(s, 'K'), 'secretmanager.versions.access', 'roles/secretmanager.secretAccessor'],
      ['CreateSecret', () => p.set(s, 'NEW', value, 'external'), 'secretmanager.secrets.create', 'roles/secretmanager.admin'],
      ['AddSecretVersion', () => p.set(s, 'K', value, 'external'), 'secretmanager.versions.add', 'roles/secretmanager.secretVersionAdder'],
      ['DestroySecretVersion', () => p.set(s, 'K', value, 'external'), 'secretmanager.versions.destroy', 'roles/secretmanager.secretVersionManager'],
      ['GetSecret', () => p.info(s, 'K'), 'secretmanager.secrets.get', 'roles/secretmanager.viewer'],
      ['ListSecrets', () => p.list(s), 'secretmanager.secrets.list', 'roles/secretmanager.viewer'],
      ['DeleteSecret', () => p.delete(s, 'K'), 'secretmanager.secrets.delete', 'roles/secretmanager.admin'],
    ];
    for (const [method, call, permission, role] of cases) {
      standin.fail(method, grpc.status.PERMISSION_DENIED);
      const err = await failure(call());
      expect(err.code, method).toBe(ErrorCode.PermissionDenied);
      // Said by the provider, not only echoed from the service's message.
      expect(err.message, method).toContain(`the caller needs ${permission}, granted by ${role}`);
      expect(err.message).toContain('project plane-test');
      expect(err.message).toContain(`agent ${s.agent} in plane ${s.plane}`);
      expect(err.message).not.toContain(value.toString());
      expect(err.cause).toBeUndefined();
    }
    expect((await p.get(s, 'K'))?.value.toString()).toBe(value.toString());
  });

  it('reads ride out a short outage; a long one is Unavailable; writes are never replayed', async () => {
    const p = provider({ retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 } });
    const s = scope();
    await p.set(s, 'K', Buffer.from('v'), 'external');

    let seen = since();
    standin.fail('AccessSecretVersion', grpc.status.UNAVAILABLE);
    expect((await p.get(s, 'K'))?.value.toString()).toBe('v');
    expect(seen().map((r) => r.method)).toEqual(['AccessSecretVersion', 'AccessSecretVersion']);

    seen = since();
    standin.fail('AccessSecretVersion', grpc.status.UNAVAILABLE, 5);
    const down = await failure(p.get(s, 'K'));
    expect(down.code).toBe(ErrorCode.Unavailable);
    expect(down.grpcStatus).toBe(grpc.status.UNAVAILABLE);
    expect(down.message).toMatch(/Secret Manager unavailable/);
    expect(seen()).toHaveLength(3);
    standin.clearFailures();

    standin.fail('AccessSecretVersion', grpc.status.RESOURCE_EXHAUSTED, 5);
    expect((await failure(p.get(s, 'K'))).code).toBe(ErrorCode.Unavailable);
    standin.clearFailures();

    seen = since();
    standin.fail('AddSecretVersion', grpc.status.UNAVAILABLE);
    const write = await failure(p.set(s, 'K', Buffer.from('w'), 'external'));
    expect(write.code).toBe(ErrorCode.Unavailable);
    expect(seen().filter((r) => r.method === 'AddSecretVersion')).toHaveLength(1);
    expect(await p.get(s, 'K')).toEqual({ value: Buffer.from('v'), version: 1 });

    standin.fail('GetSecret', grpc.status.INTERNAL);
    const internal = await failure(p.info(s, 'K'));
    expect(internal.code).toBe(ErrorCode.Internal);
    expect(internal.message).toContain('INTERNAL');
  });

  it('gives the exact IAM binding that scopes an agent to its own namespace', () => {
    const binding = agentSecretsIamBinding({ plane: 'prod', agent: 'alice' }, '424242424242', 'agent-alice@plane-test.iam.gserviceaccount.com');
    expect(binding).toEqual({
      role: 'roles/secretmanager.secretAccessor',
      member: 'serviceAccount:agent-alice@plane-test.iam.gserviceaccount.com',
      condition: {
        title: 'agents-plane prod/alice secrets',
        description: 'Read the secrets of agent alice in plane prod, nothing else',
        expression: 'resource.name.startsWith("projects/424242424242/secrets/ap_prod_alice_")',
      },
    });
    // The prefix admits the agent's own secrets and their versions, and no neighbour's.
    const admits = (resource: string): boolean => resource.startsWith(/"(.*)"/.exec(binding.condition.expression)?.[1] ?? '\0');
    expect(admits(`projects/424242424242/secrets/${secretId({ plane: 'prod', agent: 'alice' }, 'MODEL_KEY')}/versions/7`)).toBe(true);
    for (const other of [
      { plane: 'prod', agent: 'alice2' },
      { plane: 'prod', agent: 'alice-b' },
      { plane: 'prod-alice', agent: 'x' },
      { plane: 'prod', agent: 'bob' },
    ]) {
      expect(admits(`projects/424242424242/secrets/${secretId(other, 'MODEL_KEY')}`), JSON.stringify(other)).toBe(false);
    }
    expect(() => agentSecretsIamBinding({ plane: 'prod', agent: 'alice' }, 'plane-test', 'a@b')).toThrow(/project number/);
  });
});
