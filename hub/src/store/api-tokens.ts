import { hashSecret, newId, newSecret } from '../../../common/src/ids.ts';
import { type Db, statementCache } from '../db/database.ts';

export type Role = 'admin' | 'viewer';

export interface ApiPrincipal {
  tokenId: string;
  name: string;
  role: Role;
}

/** Bearer tokens for the REST API. Only hashes are stored; a token is shown once, at creation. */
export class ApiTokens {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
  }

  create(name: string, role: Role, now = Date.now()): { id: string; token: string } {
    const id = newId('tok', 8);
    const token = `apt1.${newSecret()}`;
    this.#q('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(id, name, role, hashSecret(token), now);
    return { id, token };
  }

  authenticate(token: string): ApiPrincipal | undefined {
    const row = this.#q('SELECT id, name, role FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL').get(hashSecret(token)) as
      | { id: string; name: string; role: Role }
      | undefined;
    return row && { tokenId: row.id, name: row.name, role: row.role };
  }

  /** A live token by its id: a console session re-checks its token on every request, so a revoked one ends it. */
  byId(id: string): ApiPrincipal | undefined {
    const row = this.#q('SELECT id, name, role FROM api_tokens WHERE id = ? AND revoked_at IS NULL').get(id) as { id: string; name: string; role: Role } | undefined;
    return row && { tokenId: row.id, name: row.name, role: row.role };
  }

  /** Revokes every live token with this name; returns how many. */
  revokeByName(name: string, now = Date.now()): number {
    return this.#q('UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(now, name).changes;
  }

  count(): number {
    return (this.#q('SELECT COUNT(*) AS n FROM api_tokens WHERE revoked_at IS NULL').get() as { n: number }).n;
  }
}
