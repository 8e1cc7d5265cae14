import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { hashSecret, newId, newSecret, safeEqualHex } from '../../../common/src/ids.ts';
import { type Db, statementCache } from '../db/database.ts';
import type { AgentRecord, AgentSpec, DesiredState } from '../model.ts';

interface Row {
  id: string;
  plane: string;
  name: string;
  owner: string;
  spec_json: string;
  desired_state: DesiredState;
  credential_hash: string | null;
  enrolled_at: number | null;
  boot_id: string | null;
  agentd_version: string | null;
  runtime_versions_json: string | null;
  capabilities_json: string | null;
  last_connected_at: number | null;
  last_disconnected_at: number | null;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): AgentRecord => ({
  id: r.id,
  plane: r.plane,
  name: r.name,
  owner: r.owner,
  spec: JSON.parse(r.spec_json) as AgentSpec,
  desiredState: r.desired_state,
  enrolledAt: r.enrolled_at,
  bootId: r.boot_id,
  agentdVersion: r.agentd_version,
  runtimeVersions: r.runtime_versions_json ? (JSON.parse(r.runtime_versions_json) as Record<string, string>) : {},
  capabilities: r.capabilities_json ? (JSON.parse(r.capabilities_json) as string[]) : [],
  lastConnectedAt: r.last_connected_at,
  lastDisconnectedAt: r.last_disconnected_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Credentials look like "apc1.<agentId>.<secret>"; only sha256(secret) is stored. */
const CREDENTIAL_PREFIX = 'apc1';

export function parseCredential(credential: string): { agentId: string; secret: string } | undefined {
  const parts = credential.split('.');
  if (parts.length !== 3 || parts[0] !== CREDENTIAL_PREFIX || !parts[1] || !parts[2]) return undefined;
  return { agentId: parts[1], secret: parts[2] };
}

/** Failed claims (right token, wrong plane or agent) a token takes before it is refused for the rest of the window. */
export const ENROLL_CLAIM_LIMIT = { failures: 5, windowMs: 15 * 60_000 } as const;

/** What a claim with an enrollment token came to; `agent` is the token's own agent (never told to the caller). */
export type EnrollmentClaim =
  | { ok: true; agent: AgentRecord; credential: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'mismatch'; agent: AgentRecord; failures: number }
  | { ok: false; reason: 'locked'; agent: AgentRecord; failures: number; lockedUntil: number };

export class AgentsStore {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
  }

  create(input: { plane: string; name: string; owner: string; spec: AgentSpec }, now = Date.now()): AgentRecord {
    const id = newId('ag');
    const info = this.#q(
        `INSERT INTO agents (id, plane, name, owner, spec_json, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plane, name) DO NOTHING`,
      )
      .run(id, input.plane, input.name, input.owner, JSON.stringify(input.spec), now, now);
    if (info.changes === 0) {
      throw new PlaneError(ErrorCode.AlreadyExists, `agent '${input.name}' already exists in plane '${input.plane}'`, { where: 'name' });
    }
    return this.getById(id);
  }

  findById(id: string): AgentRecord | undefined {
    const row = this.#q('SELECT * FROM agents WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  getById(id: string): AgentRecord {
    const agent = this.findById(id);
    if (!agent) throw new PlaneError(ErrorCode.NotFound, `agent id '${id}' not found`);
    return agent;
  }

  find(plane: string, name: string): AgentRecord | undefined {
    const row = this.#q('SELECT * FROM agents WHERE plane = ? AND name = ?').get(plane, name) as Row | undefined;
    return row && toRecord(row);
  }

  get(plane: string, name: string): AgentRecord {
    const agent = this.find(plane, name);
    if (!agent) throw new PlaneError(ErrorCode.NotFound, `agent '${name}' not found in plane '${plane}'`, { where: 'agentId' });
    return agent;
  }

  list(plane?: string): AgentRecord[] {
    const rows = plane
      ? (this.#q('SELECT * FROM agents WHERE plane = ? ORDER BY name').all(plane) as Row[])
      : (this.#q('SELECT * FROM agents ORDER BY plane, name').all() as Row[]);
    return rows.map(toRecord);
  }

  count(plane: string): number {
    return (this.#q('SELECT COUNT(*) AS n FROM agents WHERE plane = ?').get(plane) as { n: number }).n;
  }

  delete(id: string): void {
    this.#q('DELETE FROM agents WHERE id = ?').run(id);
  }

  updateSpec(id: string, owner: string, spec: AgentSpec, now = Date.now()): void {
    this.#q('UPDATE agents SET owner = ?, spec_json = ?, updated_at = ? WHERE id = ?').run(owner, JSON.stringify(spec), now, id);
  }

  setDesiredState(id: string, state: DesiredState, now = Date.now()): void {
    this.#q('UPDATE agents SET desired_state = ?, updated_at = ? WHERE id = ?').run(state, now, id);
  }

  /** Issues a single-use enrollment token; only its hash is kept. */
  issueEnrollmentToken(agentId: string, ttlMs: number, now = Date.now()): { token: string; expiresAt: number } {
    const token = `ape1.${newSecret()}`;
    const expiresAt = now + ttlMs;
    this.#q('INSERT INTO enrollment_tokens (token_hash, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(hashSecret(token), agentId, now, expiresAt);
    return { token, expiresAt };
  }

  /**
   * Redeems an enrollment token for the agent it was issued to, in one
   * transaction: a token can be used once, and a used or expired token is
   * refused without saying which (so a probe learns nothing). A claim that
   * names another plane or agent is refused without spending the token (a typo
   * must not lock the agent out) and counted; after ENROLL_CLAIM_LIMIT.failures
   * failed claims within ENROLL_CLAIM_LIMIT.windowMs of the first, every claim
   * with that token is refused until the window ends.
   */
  claimEnrollmentToken(token: string, claim: { plane?: string; agent?: string }, now = Date.now()): EnrollmentClaim {
    return this.#db.transaction((): EnrollmentClaim => {
      const hash = hashSecret(token);
      const row = this.#q('SELECT agent_id, expires_at, used_at, failed_claims, failed_window_start FROM enrollment_tokens WHERE token_hash = ?').get(hash) as
        | { agent_id: string; expires_at: number; used_at: number | null; failed_claims: number; failed_window_start: number | null }
        | undefined;
      if (!row || row.used_at !== null || row.expires_at <= now) return { ok: false, reason: 'invalid' };
      const agent = this.getById(row.agent_id);
      const windowOpen = row.failed_window_start !== null && now - row.failed_window_start < ENROLL_CLAIM_LIMIT.windowMs;
      const failures = windowOpen ? row.failed_claims : 0;
      if (failures >= ENROLL_CLAIM_LIMIT.failures) {
        return { ok: false, reason: 'locked', agent, failures, lockedUntil: (row.failed_window_start ?? now) + ENROLL_CLAIM_LIMIT.windowMs };
      }
      if ((claim.plane && claim.plane !== agent.plane) || (claim.agent && claim.agent !== agent.name)) {
        this.#q('UPDATE enrollment_tokens SET failed_claims = ?, failed_window_start = ? WHERE token_hash = ?').run(failures + 1, windowOpen ? row.failed_window_start : now, hash);
        return { ok: false, reason: 'mismatch', agent, failures: failures + 1 };
      }
      this.#q('UPDATE enrollment_tokens SET used_at = ? WHERE token_hash = ?').run(now, hash);
      return { ok: true, agent, credential: this.#issueCredential(row.agent_id, now) };
    })();
  }

  /** After a credential rotation made on the agent: only the new secret's hash ever reaches the hub. */
  setCredentialHash(agentId: string, hash: string, now = Date.now()): void {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new PlaneError(ErrorCode.InvalidArgument, 'credential hash must be 64 hex characters');
    this.#q('UPDATE agents SET credential_hash = ?, updated_at = ? WHERE id = ?').run(hash, now, agentId);
  }

  /**
   * Issues a credential for an agent whose instance proved itself with a signed
   * identity token (checked by the caller). The token's hash is kept as a spent
   * enrollment token until it expires, so the same token cannot enrol twice.
   */
  redeemInstanceIdentity(agentId: string, token: string, expiresAt: number, now = Date.now()): { agent: AgentRecord; credential: string } {
    return this.#db.transaction(() => {
      const info = this.#q(
          `INSERT INTO enrollment_tokens (token_hash, agent_id, created_at, expires_at, used_at)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING`,
        )
        .run(hashSecret(token), agentId, now, expiresAt, now);
      if (info.changes === 0) throw new PlaneError(ErrorCode.Unauthenticated, 'instance identity token was already used');
      return { agent: this.getById(agentId), credential: this.#issueCredential(agentId, now) };
    })();
  }

  #issueCredential(agentId: string, now: number): string {
    const secret = newSecret();
    this.#q('UPDATE agents SET credential_hash = ?, enrolled_at = ?, updated_at = ? WHERE id = ?').run(hashSecret(secret), now, now, agentId);
    return `${CREDENTIAL_PREFIX}.${agentId}.${secret}`;
  }

  /** Returns the agent a credential belongs to, or undefined. Constant-time compare. */
  authenticate(credential: string): AgentRecord | undefined {
    const parsed = parseCredential(credential);
    if (!parsed) return undefined;
    const row = this.#q('SELECT * FROM agents WHERE id = ?').get(parsed.agentId) as Row | undefined;
    if (!row?.credential_hash) return undefined;
    return safeEqualHex(row.credential_hash, hashSecret(parsed.secret)) ? toRecord(row) : undefined;
  }

  recordHello(id: string, hello: { bootId: string; agentdVersion: string; runtimeVersions: Record<string, string>; capabilities: string[] }, now = Date.now()): void {
    this.#q(
        `UPDATE agents SET boot_id = ?, agentd_version = ?, runtime_versions_json = ?, capabilities_json = ?,
         last_connected_at = ?, updated_at = ? WHERE id = ?`,
      )
      .run(hello.bootId, hello.agentdVersion, JSON.stringify(hello.runtimeVersions), JSON.stringify(hello.capabilities), now, now, id);
  }

  recordDisconnect(id: string, now = Date.now()): void {
    this.#q('UPDATE agents SET last_disconnected_at = ?, updated_at = ? WHERE id = ?').run(now, now, id);
  }
}
