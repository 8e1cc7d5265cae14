import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CRC32C } from '@google-cloud/storage';

/**
 * An in-memory stand-in for google.cloud.secretmanager.v1.SecretManagerService
 * on loopback gRPC, built from the .proto files that ship with the client
 * library, so the real @google-cloud/secret-manager client talks to it.
 *
 * It implements the calls the provider makes: CreateSecret, GetSecret,
 * UpdateSecret (labels only), DeleteSecret, ListSecrets (label filters, newest
 * first, page tokens), AddSecretVersion, AccessSecretVersion (numbers and the
 * `latest` alias), ListSecretVersions (newest first, page tokens) and
 * DestroySecretVersion. Like the real service it answers with the project
 * NUMBER in resource names whatever the caller used, numbers versions from 1,
 * refuses destroyed or disabled versions with FAILED_PRECONDITION, checks the
 * payload's CRC32C and the 64 KiB limit.
 *
 * GetIamPolicy and SetIamPolicy keep a policy per secret (gone with the
 * secret) with an etag: a write that carries a stale etag is refused ABORTED,
 * as Google does.
 *
 * Not covered: IAM enforcement (nothing is authenticated or authorized;
 * permission denied only by injection), conditions in secret policies, CMEK, replication policies beyond being required,
 * regional secrets, etags, expiry/TTL, rotation topics, version aliases,
 * disabling/enabling versions, delayed destruction, quotas and rate limits,
 * and any filter other than `labels.KEY=VALUE` terms joined by AND.
 */
export interface GsmStandin {
  /** 127.0.0.1 and the port: pass as apiEndpoint/port with insecure credentials. */
  host: string;
  port: number;
  projectId: string;
  projectNumber: string;
  /** Every call, in order: method and the resource it named. Payload data is never recorded. */
  requests: { method: string; name: string; filter?: string; pageToken?: string; pageSize?: number }[];
  /** The next `count` calls of `method` ('*' for any) fail with `code`, before doing anything. */
  fail(method: string, code: grpc.status, count?: number): void;
  clearFailures(): void;
  /** The next AccessSecretVersion answers with a data_crc32c that does not match its data. */
  corruptNextAccess(): void;
  /** What is stored, by secret id: labels, and each version's number and state. */
  secrets(): Map<string, { labels: Record<string, string>; versions: { number: number; state: string; hasData: boolean; sentChecksum: boolean }[] }>;
  /** Each secret's IAM bindings: role -> members. */
  policies(): Map<string, Record<string, string[]>>;
  close(): Promise<void>;
}

interface Version {
  number: number;
  created: Date;
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
  data: Buffer | null;
  destroyed?: Date;
  checksum: boolean;
}

interface Secret {
  id: string;
  created: Date;
  labels: Record<string, string>;
  replication: unknown;
  versions: Version[];
  nextVersion: number;
  /** Creation order, for newest-first listing when two land in the same millisecond. */
  seq: number;
  policy: { bindings: Array<{ role: string; members: string[] }>; etag: number };
}

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

class RpcError extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, message: string) {
    super(message);
    this.code = code;
  }
}

const SECRET_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;
const LABEL_KEY_RE = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE_RE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const MAX_PAYLOAD = 64 * 1024;
/** The permission each call checks, for realistic PERMISSION_DENIED messages. */
const PERMISSION: Record<string, string> = {
  CreateSecret: 'secretmanager.secrets.create',
  GetSecret: 'secretmanager.secrets.get',
  UpdateSecret: 'secretmanager.secrets.update',
  DeleteSecret: 'secretmanager.secrets.delete',
  ListSecrets: 'secretmanager.secrets.list',
  AddSecretVersion: 'secretmanager.versions.add',
  AccessSecretVersion: 'secretmanager.versions.access',
  ListSecretVersions: 'secretmanager.versions.list',
  DestroySecretVersion: 'secretmanager.versions.destroy',
};
/** What the server picks when page_size is 0 (the real one is not documented); small, so tests page. */
const DEFAULT_PAGE = 25;

function protoRoots(): string[] {
  const require = createRequire(import.meta.url);
  const packageRoot = (main: string): string => {
    let dir = dirname(require.resolve(main));
    while (!dir.endsWith('/build')) dir = dirname(dir);
    return join(dir, 'protos');
  };
  return [packageRoot('@google-cloud/secret-manager'), packageRoot('google-gax')];
}

function loadService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: protoRoots(),
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = definition['google.cloud.secretmanager.v1.SecretManagerService'];
  if (!service) throw new Error('SecretManagerService not found in the shipped protos');
  return service as grpc.ServiceDefinition;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const timestamp = (d: Date): { seconds: string; nanos: number } => ({ seconds: String(Math.floor(d.getTime() / 1000)), nanos: (d.getTime() % 1000) * 1e6 });

function crc32c(data: Buffer): number {
  const c = new CRC32C();
  c.update(data);
  return c.valueOf() >>> 0;
}

export async function startGsmStandin(options: { projectId?: string; projectNumber?: string } = {}): Promise<GsmStandin> {
  const projectId = options.projectId ?? 'test-project';
  const projectNumber = options.projectNumber ?? '123456789012';
  const secrets = new Map<string, Secret>();
  const requests: GsmStandin['requests'] = [];
  const failures: { method: string; code: grpc.status }[] = [];
  let seq = 0;
  let corrupt = false;

  const parent = (name: string): void => {
    const m = /^projects\/([^/]+)$/.exec(name);
    if (!m) throw new RpcError(grpc.status.INVALID_ARGUMENT, `Invalid resource field value in the request: ${name}`);
    if (m[1] !== projectId && m[1] !== projectNumber) throw new RpcError(grpc.status.PERMISSION_DENIED, `Permission denied on resource project ${m[1]}.`);
  };
  const secretName = (id: string): string => `projects/${projectNumber}/secrets/${id}`;
  const findSecret = (name: string): Secret => {
    const m = /^(projects\/[^/]+)\/secrets\/([^/]+)$/.exec(name);
    if (!m?.[1] || !m[2]) throw new RpcError(grpc.status.INVALID_ARGUMENT, `Invalid resource field value in the request: ${name}`);
    parent(m[1]);
    const s = secrets.get(m[2]);
    if (!s) throw new RpcError(grpc.status.NOT_FOUND, `Secret [${secretName(m[2])}] not found or has no versions.`);
    return s;
  };
  const findVersion = (name: string): { secret: Secret; version: Version } => {
    const m = /^(.+)\/versions\/([^/]+)$/.exec(name);
    if (!m?.[1] || !m[2]) throw new RpcError(grpc.status.INVALID_ARGUMENT, `Invalid resource field value in the request: ${name}`);
    const secret = findSecret(m[1]);
    const version = m[2] === 'latest' ? secret.versions.at(-1) : secret.versions.find((v) => String(v.number) === m[2]);
    if (!version) throw new RpcError(grpc.status.NOT_FOUND, `Secret Version [${secretName(secret.id)}/versions/${m[2]}] not found.`);
    return { secret, version };
  };
  const secretResource = (s: Secret): Record<string, unknown> => ({
    name: secretName(s.id),
    replication: s.replication,
    createTime: timestamp(s.created),
    labels: s.labels,
    etag: `"${s.seq.toString(16)}"`,
  });
  const versionResource = (s: Secret, v: Version): Record<string, unknown> => ({
    name: `${secretName(s.id)}/versions/${v.number}`,
    createTime: timestamp(v.created),
    ...(v.destroyed ? { destroyTime: timestamp(v.destroyed) } : {}),
    state: v.state,
    etag: `"${v.number.toString(16)}"`,
    clientSpecifiedPayloadChecksum: v.checksum,
  });
  const checkLabels = (labels: Record<string, string>): void => {
    if (Object.keys(labels).length > 64) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'A secret may have at most 64 labels.');
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_KEY_RE.test(k) || !LABEL_VALUE_RE.test(v)) throw new RpcError(grpc.status.INVALID_ARGUMENT, `Invalid label ${k}=${v}.`);
    }
  };
  /** The filters the provider sends: `labels.k=v` terms joined by AND (or spaces). */
  const matchFilter = (filter: string): ((s: Secret) => boolean) => {
    if (!filter.trim()) return () => true;
    const terms = filter.trim().split(/\s+(?:AND\s+)?/);
    const wanted = terms.map((t) => {
      const m = /^labels\.([a-z][a-z0-9_-]*)=("?)([a-z0-9_-]*)\2$/.exec(t);
      if (!m?.[1] || m[3] === undefined) throw new RpcError(grpc.status.INVALID_ARGUMENT, `The stand-in does not understand the filter term ${JSON.stringify(t)}.`);
      return [m[1], m[3]] as const;
    });
    return (s) => wanted.every(([k, v]) => s.labels[k] === v);
  };
  /** Page tokens are opaque to callers; here an encoded offset, and anything else is refused. */
  const page = <T>(items: T[], size: number, token: string): { items: T[]; next: string } => {
    let start = 0;
    if (token) {
      const m = /^ofs:(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
      if (!m?.[1]) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'Invalid page token.');
      start = Number(m[1]);
    }
    const n = size > 0 ? Math.min(size, 25000) : DEFAULT_PAGE;
    const end = start + n;
    return { items: items.slice(start, end), next: end < items.length ? Buffer.from(`ofs:${end}`).toString('base64url') : '' };
  };

  const handlers: Record<string, (req: Record<string, unknown>) => unknown> = {
    CreateSecret: (req) => {
      parent(str(req.parent));
      const id = str(req.secretId);
      if (!SECRET_ID_RE.test(id)) throw new RpcError(grpc.status.INVALID_ARGUMENT, `Invalid secret id ${JSON.stringify(id)}.`);
      const body = (req.secret ?? {}) as { replication?: { replication?: string } | null; labels?: Record<string, string> };
      if (!body.replication?.replication) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'Secret.replication is required.');
      const labels = { ...(body.labels ?? {}) };
      checkLabels(labels);
      if (secrets.has(id)) throw new RpcError(grpc.status.ALREADY_EXISTS, `Secret [${secretName(id)}] already exists.`);
      const s: Secret = { id, created: new Date(), labels, replication: body.replication, versions: [], nextVersion: 1, seq: ++seq, policy: { bindings: [], etag: 1 } };
      secrets.set(id, s);
      return secretResource(s);
    },
    GetSecret: (req) => secretResource(findSecret(str(req.name))),
    UpdateSecret: (req) => {
      const body = (req.secret ?? {}) as { name?: string; labels?: Record<string, string> };
      const s = findSecret(str(body.name));
      const paths = ((req.updateMask as { paths?: string[] } | null)?.paths ?? []);
      if (paths.length === 0 || paths.some((p) => p !== 'labels')) {
        throw new RpcError(grpc.status.INVALID_ARGUMENT, `The stand-in updates labels only, not ${paths.join(',') || 'an empty mask'}.`);
      }
      const labels = { ...(body.labels ?? {}) };
      checkLabels(labels);
      s.labels = labels;
      return secretResource(s);
    },
    DeleteSecret: (req) => {
      const s = findSecret(str(req.name));
      secrets.delete(s.id);
      return {};
    },
    ListSecrets: (req) => {
      parent(str(req.parent));
      const filter = str(req.filter);
      const matches = [...secrets.values()].filter(matchFilter(filter)).sort((a, b) => b.seq - a.seq);
      const p = page(matches, Number(req.pageSize ?? 0), str(req.pageToken));
      return { secrets: p.items.map(secretResource), nextPageToken: p.next, totalSize: filter ? 0 : matches.length };
    },
    AddSecretVersion: (req) => {
      const s = findSecret(str(req.parent));
      const payload = (req.payload ?? {}) as { data?: Buffer; dataCrc32c?: string | null };
      const data = Buffer.from(payload.data ?? Buffer.alloc(0));
      if (data.length > MAX_PAYLOAD) throw new RpcError(grpc.status.INVALID_ARGUMENT, `Secret payload data length must be at most ${MAX_PAYLOAD} bytes.`);
      const sent = payload.dataCrc32c;
      if (sent !== undefined && sent !== null && Number(sent) !== crc32c(data)) {
        throw new RpcError(grpc.status.INVALID_ARGUMENT, 'Checksum mismatch: data_crc32c does not match the payload.');
      }
      const v: Version = { number: s.nextVersion++, created: new Date(), state: 'ENABLED', data, checksum: sent !== undefined && sent !== null };
      s.versions.push(v);
      return versionResource(s, v);
    },
    AccessSecretVersion: (req) => {
      const { secret, version } = findVersion(str(req.name));
      if (version.state !== 'ENABLED' || !version.data) {
        throw new RpcError(grpc.status.FAILED_PRECONDITION, `${secretName(secret.id)}/versions/${version.number} is in ${version.state} state.`);
      }
      const checksum = (crc32c(version.data) + (corrupt ? 1 : 0)) % 2 ** 32;
      corrupt = false;
      return { name: `${secretName(secret.id)}/versions/${version.number}`, payload: { data: version.data, dataCrc32c: String(checksum) } };
    },
    ListSecretVersions: (req) => {
      const s = findSecret(str(req.parent));
      if (str(req.filter)) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'The stand-in does not filter versions.');
      const newestFirst = [...s.versions].reverse();
      const p = page(newestFirst, Number(req.pageSize ?? 0), str(req.pageToken));
      return { versions: p.items.map((v) => versionResource(s, v)), nextPageToken: p.next, totalSize: newestFirst.length };
    },
    GetIamPolicy: (req) => {
      const s = findSecret(str(req.resource));
      return { version: 1, bindings: s.policy.bindings, etag: Buffer.from(`etag-${s.policy.etag}`) };
    },
    SetIamPolicy: (req) => {
      const s = findSecret(str(req.resource));
      const policy = (req.policy ?? {}) as { bindings?: Array<{ role: string; members: string[] }>; etag?: Buffer };
      const etag = policy.etag && policy.etag.length > 0 ? policy.etag.toString() : '';
      if (etag && etag !== `etag-${s.policy.etag}`) throw new RpcError(grpc.status.ABORTED, 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
      s.policy = { bindings: (policy.bindings ?? []).map((b) => ({ role: b.role, members: [...b.members] })), etag: s.policy.etag + 1 };
      return { version: 1, bindings: s.policy.bindings, etag: Buffer.from(`etag-${s.policy.etag}`) };
    },
    DestroySecretVersion: (req) => {
      const { secret, version } = findVersion(str(req.name));
      if (version.state === 'DESTROYED') throw new RpcError(grpc.status.FAILED_PRECONDITION, `${secretName(secret.id)}/versions/${version.number} is already DESTROYED.`);
      version.state = 'DESTROYED';
      version.data = null;
      version.destroyed = new Date();
      return versionResource(secret, version);
    },
  };

  const service = loadService();
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(service)) {
    const rpc = method[0]?.toUpperCase() + method.slice(1);
    implementation[method] = (call: Call, callback: Callback): void => {
      const req = call.request;
      const named = req.name ?? req.parent ?? req.resource ?? (req.secret as { name?: string } | undefined)?.name ?? '';
      requests.push({
        method: rpc,
        name: str(named),
        ...(req.filter ? { filter: str(req.filter) } : {}),
        ...(req.pageToken ? { pageToken: str(req.pageToken) } : {}),
        ...(typeof req.pageSize === 'number' && req.pageSize > 0 ? { pageSize: req.pageSize } : {}),
      });
      const i = failures.findIndex((f) => f.method === rpc || f.method === '*');
      if (i >= 0) {
        const [f] = failures.splice(i, 1);
        const message = f?.code === grpc.status.PERMISSION_DENIED
          ? `Permission '${PERMISSION[rpc] ?? 'secretmanager.unknown'}' denied for resource '${str(named)}' (or it may not exist).`
          : `injected ${grpc.status[f?.code ?? grpc.status.UNKNOWN]}`;
        callback({ code: f?.code ?? grpc.status.UNKNOWN, details: message });
        return;
      }
      const handler = handlers[rpc];
      if (!handler) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `The stand-in does not implement ${rpc}.` });
        return;
      }
      try {
        callback(null, handler(req));
      } catch (err) {
        if (err instanceof RpcError) callback({ code: err.code, details: err.message });
        else callback({ code: grpc.status.INTERNAL, details: String(err) });
      }
    };
  }

  const server = new grpc.Server();
  server.addService(service, implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  return {
    host: '127.0.0.1',
    port,
    projectId,
    projectNumber,
    requests,
    fail: (method, code, count = 1) => {
      for (let i = 0; i < count; i++) failures.push({ method, code });
    },
    clearFailures: () => {
      failures.length = 0;
    },
    corruptNextAccess: () => {
      corrupt = true;
    },
    secrets: () =>
      new Map(
        [...secrets.values()].map((s) => [
          s.id,
          { labels: { ...s.labels }, versions: s.versions.map((v) => ({ number: v.number, state: v.state, hasData: v.data !== null, sentChecksum: v.checksum })) },
        ]),
      ),
    policies: () => new Map([...secrets.values()].map((s) => [s.id, Object.fromEntries(s.policy.bindings.map((b) => [b.role, [...b.members]]))])),
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
