import { status as GrpcStatus } from '@grpc/grpc-js';
import { v1 } from '@google-cloud/secret-manager';
import { CRC32C } from '@google-cloud/storage';
import { ErrorCode, PlaneError } from '../errors.ts';
import {
  checkSecretName,
  checkSecretScope,
  checkSecretValue,
  type SecretInfo,
  type SecretKind,
  type SecretScope,
  type SecretsProvider,
  type SecretValue,
} from './secrets-provider.ts';

type ClientOptions = NonNullable<ConstructorParameters<typeof v1.SecretManagerServiceClient>[0]>;

export interface GcpSecretManagerOptions {
  /** The Google Cloud project (ID or number) that holds the secrets. */
  project: string;
  /**
   * Passed to the client as they are. Tests point it at a stand-in with
   * apiEndpoint, port and sslCreds (insecure); with sslCreds the library sends
   * no credentials.
   */
  client?: ClientOptions;
  /** Per call, for every call. Default 30 s. */
  timeoutMs?: number;
  /**
   * Reads (access, get, list) are retried on UNAVAILABLE, DEADLINE_EXCEEDED and
   * RESOURCE_EXHAUSTED, with jittered exponential waits; writes never are.
   * Defaults: 4 attempts, first wait up to 1 s, waits capped at 10 s.
   */
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** Page size of the admin listings. Default 100. */
  pageSize?: number;
}

/** Every secret Agents Plane makes starts with this, then `<plane>_<agent>_<KEY>`. */
export const SECRET_ID_PREFIX = 'ap_';
const MANAGED_BY = 'agents-plane';

/**
 * The Secret Manager secret id of one key. Plane and agent names are DNS labels
 * (no '_'), so '_' cannot be part of either: the id splits back one way only,
 * and `ap_<plane>_<agent>_` is a prefix that no other agent's ids share, even
 * where names contain '-' (plane `a`, agent `b-c` is `ap_a_b-c_` while plane
 * `a-b`, agent `c` is `ap_a-b_c_`). At most 3 + 40 + 1 + 40 + 1 + 128 = 213
 * characters, under Secret Manager's 255.
 */
export function secretId(scope: SecretScope, name: string): string {
  return namespacePrefix(scope) + name;
}

/** The id prefix shared by every secret of one agent, and by nothing else. */
export function namespacePrefix(scope: SecretScope): string {
  checkSecretScope(scope);
  return `${SECRET_ID_PREFIX}${scope.plane}_${scope.agent}_`;
}


/**
 * The one IAM binding an agent's service account needs: read access to the
 * payloads of its own namespace and nothing else. Grant it on the project; the
 * condition narrows it to secret names starting with the agent's prefix.
 * IAM evaluates Secret Manager resource names with the project NUMBER, so the
 * condition must use the number, not the project id. Versions' names
 * (`.../secrets/ID/versions/N`) start with their secret's name, so the prefix
 * covers them too.
 */
export function agentSecretsIamBinding(
  scope: SecretScope,
  projectNumber: string,
  serviceAccountEmail: string,
): { role: string; member: string; condition: { title: string; description: string; expression: string } } {
  if (!/^\d{1,20}$/.test(projectNumber)) {
    throw new PlaneError(ErrorCode.InvalidArgument, `project number ${JSON.stringify(projectNumber)} is not a number: IAM conditions on Secret Manager names need the project number, not its id`, { where: 'projectNumber' });
  }
  if (!/^[^@\s"]+@[^@\s"]+$/.test(serviceAccountEmail)) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${JSON.stringify(serviceAccountEmail)} is not a service account e-mail`, { where: 'serviceAccount' });
  }
  const prefix = `projects/${projectNumber}/secrets/${namespacePrefix(scope)}`;
  return {
    role: ROLE.accessor,
    member: `serviceAccount:${serviceAccountEmail}`,
    condition: {
      title: `agents-plane ${scope.plane}/${scope.agent} secrets`,
      description: `Read the secrets of agent ${scope.agent} in plane ${scope.plane}, nothing else`,
      expression: `resource.name.startsWith("${prefix}")`,
    },
  };
}

const ROLE = {
  accessor: 'roles/secretmanager.secretAccessor',
  viewer: 'roles/secretmanager.viewer',
  versionAdder: 'roles/secretmanager.secretVersionAdder',
  versionManager: 'roles/secretmanager.secretVersionManager',
  admin: 'roles/secretmanager.admin',
} as const;

/**
 * For each call: the permission it needs and the narrowest predefined role that
 * has it. Creating and listing can only be granted on the project; the rest on
 * the project or on the secret.
 */
const NEEDS: Record<string, { permission: string; role: string; projectOnly?: true }> = {
  accessSecretVersion: { permission: 'secretmanager.versions.access', role: ROLE.accessor },
  getSecret: { permission: 'secretmanager.secrets.get', role: ROLE.viewer },
  listSecrets: { permission: 'secretmanager.secrets.list', role: ROLE.viewer, projectOnly: true },
  listSecretVersions: { permission: 'secretmanager.versions.list', role: ROLE.viewer },
  createSecret: { permission: 'secretmanager.secrets.create', role: ROLE.admin, projectOnly: true },
  updateSecret: { permission: 'secretmanager.secrets.update', role: ROLE.admin },
  deleteSecret: { permission: 'secretmanager.secrets.delete', role: ROLE.admin },
  addSecretVersion: { permission: 'secretmanager.versions.add', role: ROLE.versionAdder },
  destroySecretVersion: { permission: 'secretmanager.versions.destroy', role: ROLE.versionManager },
};

/** Transient: worth another attempt. RESOURCE_EXHAUSTED is a quota (600 reads or writes a minute per project). */
const RETRY_CODES = [GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.RESOURCE_EXHAUSTED];

interface Secret {
  name?: string | null;
  createTime?: { seconds?: unknown; nanos?: number | null } | null;
  labels?: Record<string, string> | null;
}
interface Version {
  name?: string | null;
  createTime?: { seconds?: unknown; nanos?: number | null } | null;
  state?: unknown;
}

/**
 * Secrets in Google Secret Manager, one secret per key, one version per value.
 *
 * Naming and labels: see secretId(); every secret carries the labels plane,
 * agent, kind (generated|external) and managed-by=agents-plane, and automatic
 * replication.
 *
 * Reading is one AccessSecretVersion of `latest` by its known name; nothing on
 * the read path lists. Setting adds a version and then destroys every older
 * version that is not destroyed yet, so a replaced value cannot be read back
 * from Secret Manager (DESTROYED versions keep their metadata, not their data).
 */
export class GcpSecretManagerProvider implements SecretsProvider {
  readonly name = 'gcp-secret-manager';
  readonly #client: v1.SecretManagerServiceClient;
  readonly #project: string;
  readonly #timeout: number;
  readonly #pageSize: number;
  readonly #readOptions: Record<string, unknown>;
  /** The async iterators page on their own; autoPaginate true there only earns a warning. */
  readonly #pagedOptions: Record<string, unknown>;

  constructor(options: GcpSecretManagerOptions) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.project)) {
      throw new PlaneError(ErrorCode.InvalidArgument, `Google Cloud project ${JSON.stringify(options.project)} is not a project id or number`, { where: 'project' });
    }
    this.#project = options.project;
    this.#timeout = options.timeoutMs ?? 30_000;
    this.#pageSize = options.pageSize ?? 100;
    const attempts = Math.max(1, options.retry?.maxAttempts ?? 4);
    this.#readOptions = {
      timeout: this.#timeout,
      retry: {
        retryCodes: RETRY_CODES,
        backoffSettings: {
          initialRetryDelayMillis: options.retry?.initialDelayMs ?? 1000,
          retryDelayMultiplier: 2,
          maxRetryDelayMillis: options.retry?.maxDelayMs ?? 10_000,
          initialRpcTimeoutMillis: this.#timeout,
          rpcTimeoutMultiplier: 1,
          maxRpcTimeoutMillis: this.#timeout,
          // The library counts attempts here, the first one included.
          maxRetries: attempts,
        },
      },
    };
    this.#pagedOptions = { ...this.#readOptions, autoPaginate: false };
    this.#client = new v1.SecretManagerServiceClient(options.client ?? {});
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  #secretName(scope: SecretScope, name: string): string {
    checkSecretName(name);
    return `projects/${this.#project}/secrets/${secretId(scope, name)}`;
  }

  async get(scope: SecretScope, name: string): Promise<SecretValue | null> {
    const secret = this.#secretName(scope, name);
    let response;
    try {
      [response] = await this.#client.accessSecretVersion({ name: `${secret}/versions/latest` }, this.#readOptions);
    } catch (err) {
      // No such secret, or a secret without versions.
      if (grpcCode(err) === GrpcStatus.NOT_FOUND) return null;
      throw this.#error(err, 'accessSecretVersion', scope, name);
    }
    const data = Buffer.from(response.payload?.data ?? Buffer.alloc(0));
    const sent = response.payload?.dataCrc32c;
    if (sent !== undefined && sent !== null && Number(sent) !== crc32c(data)) {
      throw new PlaneError(ErrorCode.Internal, `${this.#where(scope, name)}: the payload does not match its CRC32C; the value was corrupted on the way`, { where: name });
    }
    return { value: data, version: versionNumber(response.name, scope, name) };
  }

  async set(scope: SecretScope, name: string, value: Buffer, kind: SecretKind): Promise<SecretInfo> {
    const secretName = this.#secretName(scope, name);
    checkSecretValue(value, name);
    const labels = { plane: scope.plane, agent: scope.agent, kind, 'managed-by': MANAGED_BY };
    let secret = await this.#getSecret(scope, name);
    if (!secret) {
      try {
        [secret] = await this.#client.createSecret(
          { parent: `projects/${this.#project}`, secretId: secretId(scope, name), secret: { replication: { automatic: {} }, labels } },
          { timeout: this.#timeout },
        );
      } catch (err) {
        // Another writer created it first: fine, add to theirs.
        if (grpcCode(err) !== GrpcStatus.ALREADY_EXISTS) throw this.#error(err, 'createSecret', scope, name);
        secret = await this.#getSecret(scope, name);
        if (!secret) throw new PlaneError(ErrorCode.Aborted, `${this.#where(scope, name)}: the secret was deleted while being set; try again`, { where: name });
      }
    } else if (secret.labels?.kind !== kind || secret.labels['managed-by'] !== MANAGED_BY) {
      try {
        [secret] = await this.#client.updateSecret(
          { secret: { name: secretName, labels: { ...secret.labels, ...labels } }, updateMask: { paths: ['labels'] } },
          { timeout: this.#timeout },
        );
      } catch (err) {
        throw this.#error(err, 'updateSecret', scope, name);
      }
    }

    let added: Version;
    try {
      [added] = await this.#client.addSecretVersion(
        { parent: secretName, payload: { data: value, dataCrc32c: crc32c(value) } },
        { timeout: this.#timeout },
      );
    } catch (err) {
      throw this.#error(err, 'addSecretVersion', scope, name);
    }
    const version = versionNumber(added.name, scope, name);

    // Older values must not stay readable. Everything older than what was just
    // added goes, not only the previous version: a set that failed half-way
    // earlier may have left more than one behind.
    try {
      for await (const v of this.#client.listSecretVersionsAsync({ parent: secretName, pageSize: this.#pageSize }, this.#pagedOptions)) {
        if (v.state === 'DESTROYED' || versionNumber(v.name, scope, name) >= version) continue;
        try {
          await this.#client.destroySecretVersion({ name: `${secretName}/versions/${versionNumber(v.name, scope, name)}` }, { timeout: this.#timeout });
        } catch (err) {
          // Destroyed meanwhile by a concurrent set: that is the goal anyway.
          if (grpcCode(err) !== GrpcStatus.FAILED_PRECONDITION && grpcCode(err) !== GrpcStatus.NOT_FOUND) throw this.#error(err, 'destroySecretVersion', scope, name);
        }
      }
    } catch (err) {
      const e = err instanceof PlaneError ? err : this.#error(err, 'listSecretVersions', scope, name);
      throw new PlaneError(e.code, `${e.message}; version ${version} was stored and is the one read, but older versions may still be readable until the next set`, { where: name });
    }
    return toInfo(secret, name, version, timeOf(added.createTime));
  }

  async info(scope: SecretScope, name: string): Promise<SecretInfo | null> {
    const secret = await this.#getSecret(scope, name);
    if (!secret) return null;
    const latest = await this.#latestVersion(secret, scope, name);
    return latest ? toInfo(secret, name, latest.version, latest.updatedAt) : null;
  }

  async delete(scope: SecretScope, name: string): Promise<boolean> {
    const secretName = this.#secretName(scope, name);
    try {
      await this.#client.deleteSecret({ name: secretName }, { timeout: this.#timeout });
      return true;
    } catch (err) {
      if (grpcCode(err) === GrpcStatus.NOT_FOUND) return false;
      throw this.#error(err, 'deleteSecret', scope, name);
    }
  }

  async list(scope: SecretScope): Promise<SecretInfo[]> {
    const out: SecretInfo[] = [];
    for (const { secret, name } of await this.#listNamespace(scope)) {
      const latest = await this.#latestVersion(secret, scope, name);
      // A secret without versions has no value to report: set failed before its first one.
      if (latest) out.push(toInfo(secret, name, latest.version, latest.updatedAt));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deleteNamespace(scope: SecretScope): Promise<number> {
    let deleted = 0;
    for (const { name } of await this.#listNamespace(scope)) if (await this.delete(scope, name)) deleted++;
    return deleted;
  }

  /** Every secret of the namespace: the label filter narrows it on the server, the id prefix makes sure. */
  async #listNamespace(scope: SecretScope): Promise<{ secret: Secret; name: string }[]> {
    const prefix = namespacePrefix(scope);
    const found: { secret: Secret; name: string }[] = [];
    try {
      const request = { parent: `projects/${this.#project}`, filter: `labels.plane=${scope.plane} AND labels.agent=${scope.agent}`, pageSize: this.#pageSize };
      for await (const secret of this.#client.listSecretsAsync(request, this.#pagedOptions)) {
        const id = secret.name?.slice(secret.name.lastIndexOf('/') + 1) ?? '';
        if (!id.startsWith(prefix)) continue;
        found.push({ secret, name: id.slice(prefix.length) });
      }
    } catch (err) {
      throw this.#error(err, 'listSecrets', scope, '*');
    }
    return found;
  }

  async #getSecret(scope: SecretScope, name: string): Promise<Secret | null> {
    try {
      const [secret] = await this.#client.getSecret({ name: this.#secretName(scope, name) }, this.#readOptions);
      return secret;
    } catch (err) {
      if (grpcCode(err) === GrpcStatus.NOT_FOUND) return null;
      throw this.#error(err, 'getSecret', scope, name);
    }
  }

  /** ListSecretVersions answers newest first, so one entry of one page is the latest. */
  async #latestVersion(secret: Secret, scope: SecretScope, name: string): Promise<{ version: number; updatedAt: number } | null> {
    try {
      const [versions] = await this.#client.listSecretVersions({ parent: secret.name ?? this.#secretName(scope, name), pageSize: 1 }, this.#pagedOptions);
      const newest = versions[0];
      return newest ? { version: versionNumber(newest.name, scope, name), updatedAt: timeOf(newest.createTime) } : null;
    } catch (err) {
      if (grpcCode(err) === GrpcStatus.NOT_FOUND) return null;
      throw this.#error(err, 'listSecretVersions', scope, name);
    }
  }

  #where(scope: SecretScope, name: string): string {
    return `secret ${name} of agent ${scope.agent} in plane ${scope.plane} (Secret Manager, project ${this.#project})`;
  }

  /**
   * A library error as a PlaneError naming the call and the key, never a value.
   * The raw error is not kept as the cause: it carries request metadata.
   */
  #error(err: unknown, call: string, scope: SecretScope, name: string): PlaneError {
    if (err instanceof PlaneError) return err;
    const code = grpcCode(err);
    const at = this.#where(scope, name);
    const detail = describe(err);
    const where = name;
    switch (code) {
      case GrpcStatus.PERMISSION_DENIED: {
        const needs = NEEDS[call] ?? { permission: 'secretmanager.*', role: ROLE.admin };
        const also = needs.role === ROLE.admin ? '' : ` (or ${ROLE.admin})`;
        return new PlaneError(
          ErrorCode.PermissionDenied,
          `${at}: permission denied on ${call}: the caller needs ${needs.permission}, granted by ${needs.role}${also} on project ${this.#project}${needs.projectOnly ? '' : ' or on the secret'} (${detail})`,
          { where },
        );
      }
      case GrpcStatus.UNAUTHENTICATED:
        return new PlaneError(ErrorCode.Unauthenticated, `${at}: ${call}: the Google credentials were refused (${detail}); set GOOGLE_APPLICATION_CREDENTIALS or run with a service account`, { where });
      case GrpcStatus.UNAVAILABLE:
      case GrpcStatus.DEADLINE_EXCEEDED:
        return new PlaneError(ErrorCode.Unavailable, `${at}: ${call}: Secret Manager unavailable (${detail}); retry later`, { where });
      case GrpcStatus.RESOURCE_EXHAUSTED:
        return new PlaneError(ErrorCode.Unavailable, `${at}: ${call}: Secret Manager quota exhausted (${detail}); retry after a minute`, { where });
      case GrpcStatus.FAILED_PRECONDITION:
        return new PlaneError(ErrorCode.FailedPrecondition, `${at}: ${call}: ${detail} (the latest version is disabled or destroyed: set a new value)`, { where });
      case undefined:
        if (/default credentials|could not load|credential/i.test(detail)) {
          return new PlaneError(ErrorCode.Unauthenticated, `${at}: no usable Google credentials (${detail}); set GOOGLE_APPLICATION_CREDENTIALS or run with a service account`, { where });
        }
        return new PlaneError(ErrorCode.Internal, `${at}: ${call} failed (${detail})`, { where });
      default:
        return new PlaneError(ErrorCode.Internal, `${at}: ${call} failed with ${GrpcStatus[code] ?? code} (${detail})`, { where });
    }
  }
}

function toInfo(secret: Secret, name: string, version: number, updatedAt: number): SecretInfo {
  return {
    name,
    version,
    kind: secret.labels?.kind === 'generated' ? 'generated' : 'external',
    createdAt: timeOf(secret.createTime),
    updatedAt,
  };
}

/** `projects/P/secrets/ID/versions/N` → N. The service answers with the project number, whatever the request said. */
function versionNumber(versionName: string | null | undefined, scope: SecretScope, name: string): number {
  const m = /\/versions\/(\d+)$/.exec(versionName ?? '');
  if (!m?.[1]) throw new PlaneError(ErrorCode.Internal, `secret ${name} of agent ${scope.agent} in plane ${scope.plane}: Secret Manager answered with version name ${JSON.stringify(versionName)}`, { where: name });
  return Number(m[1]);
}

function timeOf(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Secret Manager's checksum: CRC32C as an unsigned integer. */
function crc32c(data: Buffer): number {
  const c = new CRC32C();
  c.update(data);
  return c.valueOf() >>> 0;
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** One line: the status and what the server said, with anything that could grant access cut out. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; details?: unknown; message?: unknown } | undefined;
  const text = typeof e?.details === 'string' && e.details ? e.details : typeof e?.message === 'string' ? e.message : String(err);
  const code = grpcCode(err);
  return `${code === undefined ? '' : `${GrpcStatus[code] ?? code}: `}${text.split('\n')[0] ?? ''}`
    .replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]')
    .replace(/\bya29\.[\w.-]+/g, '[redacted]')
    .slice(0, 300);
}
