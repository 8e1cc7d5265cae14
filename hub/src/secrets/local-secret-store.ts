import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import { type Db, statementCache } from '../db/database.ts';

export interface SecretInfo {
  name: string;
  version: number;
  updatedAt: number;
}

/**
 * The embedded secrets backend: values sealed with AES-256-GCM under a master
 * key file (0600, owned by the hub) and stored in the hub's SQLite, one
 * namespace per plane/agent. The database alone never reveals a value; the
 * additional data binds each sealed value to its plane, agent, name and
 * version, so a row copied elsewhere does not open.
 */
export class LocalSecretStore {
  readonly #master: Buffer;
  readonly #stmt: ReturnType<typeof statementCache>;

  constructor(db: Db, dataDir: string) {
    this.#stmt = statementCache(db);
    this.#master = loadMasterKey(join(dataDir, 'secrets', 'master.key'));
  }

  #aad(plane: string, agent: string, name: string, version: number): Buffer {
    return Buffer.from(`${plane}\0${agent}\0${name}\0${version}`);
  }

  set(plane: string, agent: string, name: string, value: Buffer): SecretInfo {
    const now = Date.now();
    const prev = this.#stmt('SELECT version FROM secrets WHERE plane = ? AND agent = ? AND name = ?').get(plane, agent, name) as { version: number } | undefined;
    const version = (prev?.version ?? 0) + 1;
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#master, nonce);
    c.setAAD(this.#aad(plane, agent, name, version));
    const sealed = Buffer.concat([nonce, c.update(value), c.final(), c.getAuthTag()]);
    this.#stmt(
      `INSERT INTO secrets (plane, agent, name, version, sealed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (plane, agent, name) DO UPDATE SET version = excluded.version, sealed = excluded.sealed, updated_at = excluded.updated_at`,
    ).run(plane, agent, name, version, sealed, now, now);
    return { name, version, updatedAt: now };
  }

  /** The value, for delivery to the agent that owns it; never for an admin. */
  get(plane: string, agent: string, name: string): Buffer | null {
    const row = this.#stmt('SELECT version, sealed FROM secrets WHERE plane = ? AND agent = ? AND name = ?').get(plane, agent, name) as { version: number; sealed: Buffer } | undefined;
    if (!row) return null;
    const d = createDecipheriv('aes-256-gcm', this.#master, row.sealed.subarray(0, 12));
    d.setAAD(this.#aad(plane, agent, name, row.version));
    d.setAuthTag(row.sealed.subarray(row.sealed.length - 16));
    try {
      return Buffer.concat([d.update(row.sealed.subarray(12, row.sealed.length - 16)), d.final()]);
    } catch {
      throw new PlaneError(ErrorCode.Internal, `secret ${plane}/${agent}/${name} does not open with this hub's master key`);
    }
  }

  list(plane: string, agent: string): SecretInfo[] {
    return (this.#stmt('SELECT name, version, updated_at AS updatedAt FROM secrets WHERE plane = ? AND agent = ? ORDER BY name').all(plane, agent) as SecretInfo[]).map((r) => ({ ...r }));
  }

  /** Deletes the whole namespace; returns how many secrets went. */
  deleteNamespace(plane: string, agent: string): number {
    return this.#stmt('DELETE FROM secrets WHERE plane = ? AND agent = ?').run(plane, agent).changes;
  }
}

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
