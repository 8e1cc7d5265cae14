import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import { type Db, statementCache } from '../db/database.ts';
import {
  checkSecretName,
  checkSecretScope,
  checkSecretValue,
  type SecretInfo,
  type SecretKind,
  type SecretScope,
  type SecretsProvider,
  type SecretValue,
} from '../../../common/src/secrets/secrets-provider.ts';

/**
 * The embedded secrets backend: values sealed with AES-256-GCM under a master
 * key file (0600, owned by the hub) and stored in the hub's SQLite, one
 * namespace per plane/agent. The database alone never reveals a value; the
 * additional data binds each sealed value to its plane, agent, name and
 * version, so a row copied elsewhere does not open. Only the latest version
 * is kept: a rotated value is gone.
 */
export class LocalSecretStore implements SecretsProvider {
  readonly name = 'local';
  readonly #master: Buffer;
  readonly #stmt: ReturnType<typeof statementCache>;

  constructor(db: Db, dataDir: string) {
    this.#stmt = statementCache(db);
    this.#master = loadMasterKey(join(dataDir, 'secrets', 'master.key'));
  }

  #aad(plane: string, agent: string, name: string, version: number): Buffer {
    return Buffer.from(`${plane}\0${agent}\0${name}\0${version}`);
  }

  async set(scope: SecretScope, name: string, value: Buffer, kind: SecretKind): Promise<SecretInfo> {
    checkSecretScope(scope);
    checkSecretName(name);
    checkSecretValue(value, name);
    const { plane, agent } = scope;
    const now = Date.now();
    const prev = this.#stmt('SELECT version, created_at AS createdAt FROM secrets WHERE plane = ? AND agent = ? AND name = ?').get(plane, agent, name) as { version: number; createdAt: number } | undefined;
    const version = (prev?.version ?? 0) + 1;
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#master, nonce);
    c.setAAD(this.#aad(plane, agent, name, version));
    const sealed = Buffer.concat([nonce, c.update(value), c.final(), c.getAuthTag()]);
    this.#stmt(
      `INSERT INTO secrets (plane, agent, name, version, sealed, kind, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (plane, agent, name) DO UPDATE SET version = excluded.version, sealed = excluded.sealed, kind = excluded.kind, updated_at = excluded.updated_at`,
    ).run(plane, agent, name, version, sealed, kind, now, now);
    return { name, version, kind, createdAt: prev?.createdAt ?? now, updatedAt: now };
  }

  /** The value, for delivery to the agent that owns it; never for an admin. */
  async get(scope: SecretScope, name: string): Promise<SecretValue | null> {
    checkSecretScope(scope);
    checkSecretName(name);
    const { plane, agent } = scope;
    const row = this.#stmt('SELECT version, sealed FROM secrets WHERE plane = ? AND agent = ? AND name = ?').get(plane, agent, name) as { version: number; sealed: Buffer } | undefined;
    if (!row) return null;
    const d = createDecipheriv('aes-256-gcm', this.#master, row.sealed.subarray(0, 12));
    d.setAAD(this.#aad(plane, agent, name, row.version));
    d.setAuthTag(row.sealed.subarray(row.sealed.length - 16));
    try {
      return { value: Buffer.concat([d.update(row.sealed.subarray(12, row.sealed.length - 16)), d.final()]), version: row.version };
    } catch {
      throw new PlaneError(ErrorCode.Internal, `secret ${plane}/${agent}/${name} does not open with this hub's master key`);
    }
  }

  async info(scope: SecretScope, name: string): Promise<SecretInfo | null> {
    checkSecretScope(scope);
    checkSecretName(name);
    const row = this.#stmt(`SELECT ${INFO_COLUMNS} FROM secrets WHERE plane = ? AND agent = ? AND name = ?`).get(scope.plane, scope.agent, name) as SecretInfo | undefined;
    return row ? { ...row } : null;
  }

  async list(scope: SecretScope): Promise<SecretInfo[]> {
    checkSecretScope(scope);
    return (this.#stmt(`SELECT ${INFO_COLUMNS} FROM secrets WHERE plane = ? AND agent = ? ORDER BY name`).all(scope.plane, scope.agent) as SecretInfo[]).map((r) => ({ ...r }));
  }

  async delete(scope: SecretScope, name: string): Promise<boolean> {
    checkSecretScope(scope);
    checkSecretName(name);
    return this.#stmt('DELETE FROM secrets WHERE plane = ? AND agent = ? AND name = ?').run(scope.plane, scope.agent, name).changes > 0;
  }

  async deleteNamespace(scope: SecretScope): Promise<number> {
    checkSecretScope(scope);
    return this.#stmt('DELETE FROM secrets WHERE plane = ? AND agent = ?').run(scope.plane, scope.agent).changes;
  }
}

const INFO_COLUMNS = 'name, version, kind, created_at AS createdAt, updated_at AS updatedAt';

function loadMasterKey(path: string): Buffer {
  if (!existsSync(path)) {
    ensureDir(join(path, '..'), 0o700);
    writeFileAtomic(path, randomBytes(32), 0o600);
  }
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) throw new PlaneError(ErrorCode.FailedPrecondition, `${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`, { where: path });
  const key = readFileSync(path);
  if (key.length !== 32) throw new PlaneError(ErrorCode.FailedPrecondition, `${path} must hold 32 bytes, found ${key.length}`, { where: path });
  return key;
}
