import { createHash, randomBytes } from 'node:crypto';
import { BRAIN_KEY_SECRET, BrainKey, DATA_KEY_BYTES } from '../../../common/src/brain/brain-crypto.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { checkSecretName, checkSecretValue, type SecretInfo, type SecretKind, type SecretScope, type SecretsProvider } from '../../../common/src/secrets/secrets-provider.ts';
import type { SecretManifest, SecretRequest__Output, SecretResponse } from '../../../proto/index.ts';
import type { AgentRecord } from '../model.ts';
import type { AgentsStore } from '../store/agents-store.ts';
import type { AuditLog } from '../store/audit-log.ts';
import { type Db, statementCache } from '../db/database.ts';

/** Most names one agent may ask for in one request: its namespace is small; a flood is a bug or an attack. */
const MAX_NAMES_PER_REQUEST = 64;

export interface SecretsServiceOptions {
  provider: SecretsProvider;
  db: Db;
  agents: AgentsStore;
  audit: AuditLog;
  log: Logger;
}

/**
 * Every secret operation of the hub goes through here: admins set, list,
 * delete and rotate (never read); agents read their own namespace over their
 * authenticated stream. Each operation is audited with actor, agent, key name
 * and outcome, never a value.
 */
export class SecretsService {
  readonly #o: SecretsServiceOptions;
  readonly #stmt: ReturnType<typeof statementCache>;
  /** Called after a change to an agent's namespace so the agent reloads; set by the fleet. */
  onChange: (agent: AgentRecord, reason: string) => void = () => undefined;
  /** A secret was written (set or generated), possibly created: infra that binds access per secret follows. */
  onWritten: (plane: string, agent: string, name: string) => void = () => undefined;

  constructor(options: SecretsServiceOptions) {
    this.#o = options;
    this.#stmt = statementCache(options.db);
  }

  #index(scope: SecretScope, name: string, version: number | null): void {
    if (version === null) this.#stmt('DELETE FROM secret_index WHERE plane = ? AND agent = ? AND name = ?').run(scope.plane, scope.agent, name);
    else {
      this.#stmt('INSERT INTO secret_index (plane, agent, name, version) VALUES (?, ?, ?, ?) ON CONFLICT (plane, agent, name) DO UPDATE SET version = excluded.version').run(scope.plane, scope.agent, name, version);
    }
  }

  get providerName(): string {
    return this.#o.provider.name;
  }

  #scope(plane: string, agentName: string): { scope: SecretScope; agent: AgentRecord } {
    const agent = this.#o.agents.get(plane, agentName);
    return { scope: { plane, agent: agentName }, agent };
  }

  async set(actor: string, plane: string, agentName: string, name: string, value: Buffer, kind: SecretKind = 'external'): Promise<SecretInfo> {
    const { scope, agent } = this.#scope(plane, agentName);
    try {
      checkSecretName(name);
      checkSecretValue(value, name);
      const info = await this.#o.provider.set(scope, name, value, kind);
      this.#index(scope, name, info.version);
      this.#o.audit.record({ actor, action: 'secret.set', plane, agent: agentName, outcome: 'ok', detail: { name, version: info.version, kind, bytes: value.length } });
      this.onWritten(plane, agentName, name);
      this.onChange(agent, `secret ${name} set`);
      return info;
    } catch (err) {
      const e = PlaneError.from(err);
      this.#o.audit.record({ actor, action: 'secret.set', plane, agent: agentName, outcome: 'failed', detail: { name: name.slice(0, 140), reason: e.message } });
      throw e;
    }
  }

  async list(plane: string, agentName: string): Promise<SecretInfo[]> {
    return this.#o.provider.list(this.#scope(plane, agentName).scope);
  }

  async delete(actor: string, plane: string, agentName: string, name: string): Promise<void> {
    const { scope, agent } = this.#scope(plane, agentName);
    checkSecretName(name);
    const gone = await this.#o.provider.delete(scope, name);
    this.#index(scope, name, null);
    this.#o.audit.record({ actor, action: 'secret.delete', plane, agent: agentName, outcome: gone ? 'ok' : 'failed', detail: { name } });
    if (!gone) throw new PlaneError(ErrorCode.NotFound, `agent ${plane}/${agentName} has no secret ${name}`, { where: 'name' });
    this.onChange(agent, `secret ${name} deleted`);
  }

  /** A generated secret: made here, never shown to anyone, replaced on rotation. */
  async generate(actor: string, plane: string, agentName: string, name: string, bytes = 32): Promise<{ info: SecretInfo; value: Buffer }> {
    const value = randomBytes(bytes);
    const info = await this.#o.provider.set({ plane, agent: agentName }, name, value, 'generated');
    this.#index({ plane, agent: agentName }, name, info.version);
    this.#o.audit.record({ actor, action: 'secret.generate', plane, agent: agentName, outcome: 'ok', detail: { name, version: info.version } });
    this.onWritten(plane, agentName, name);
    return { info, value };
  }

  /** For the hub's own use (the brain data key): read without delivering anywhere. */
  async readForHub(plane: string, agentName: string, name: string): Promise<Buffer | null> {
    return (await this.#o.provider.get({ plane, agent: agentName }, name))?.value ?? null;
  }

  /**
   * Names and versions in the agent's namespace, and a revision that changes with
   * any of them. From the hub's own index: a fleet reconnecting costs the provider nothing.
   */
  manifest(plane: string, agentName: string): SecretManifest {
    const list = this.#stmt('SELECT name, version FROM secret_index WHERE plane = ? AND agent = ? ORDER BY name').all(plane, agentName) as { name: string; version: number }[];
    return { entries: list.map((s) => ({ name: s.name, version: s.version })), revision: revisionOf(list) };
  }

  /**
   * Values for the agent the stream is authenticated as. The namespace comes
   * from that identity, never from the request: a request naming another
   * namespace is refused and audited.
   */
  async deliver(agent: AgentRecord, req: SecretRequest__Output): Promise<SecretResponse> {
    const actor = `agent:${agent.id}`;
    const names = [...new Set(req.names)];
    if ((req.plane && req.plane !== agent.plane) || (req.agent && req.agent !== agent.name)) {
      const reason = `agent ${agent.plane}/${agent.name} may read only its own secrets, not those of ${req.plane || agent.plane}/${req.agent || agent.name}`;
      this.#o.audit.record({ actor, action: 'secret.access', plane: agent.plane, agent: agent.name, outcome: 'denied', detail: { names: names.slice(0, MAX_NAMES_PER_REQUEST), requested: `${req.plane}/${req.agent}`, reason } });
      this.#o.log.warn('secret request for another namespace refused', { plane: agent.plane, agent: agent.name, requested: `${req.plane}/${req.agent}` });
      return { requestId: req.requestId, error: reason };
    }
    if (names.length > MAX_NAMES_PER_REQUEST) return { requestId: req.requestId, error: `at most ${MAX_NAMES_PER_REQUEST} names per request, got ${names.length}` };
    const scope = { plane: agent.plane, agent: agent.name };
    const values: Record<string, Buffer> = {};
    const versions: Record<string, number> = {};
    const missing: string[] = [];
    try {
      if (req.rotateDataKey) {
        await this.#stageDataKey(actor, agent);
        if (!names.includes(BRAIN_KEY_SECRET)) names.push(BRAIN_KEY_SECRET);
      }
      for (const name of names) {
        checkSecretName(name, 'names');
        const v = await this.#o.provider.get(scope, name);
        if (v) {
          values[name] = v.value;
          versions[name] = v.version;
        } else missing.push(name);
      }
    } catch (err) {
      const e = PlaneError.from(err);
      this.#o.audit.record({ actor, action: 'secret.access', plane: agent.plane, agent: agent.name, outcome: 'failed', detail: { names, reason: e.message } });
      return { requestId: req.requestId, error: e.message };
    }
    const { revision, entries } = this.manifest(agent.plane, agent.name);
    this.#o.audit.record({ actor, action: 'secret.access', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { names: Object.keys(values), versions, missing } });
    return { requestId: req.requestId, values, versions, missing, revision, entries };
  }

  /**
   * First half of a data key rotation, asked for by the agent itself while it
   * runs rotate-secrets: a new key goes in front of the current one, and the
   * agent gets the ring. A ring already staged by a rotation that did not
   * finish is kept, so the retry finishes that rotation.
   */
  async #stageDataKey(actor: string, agent: AgentRecord): Promise<void> {
    const scope = { plane: agent.plane, agent: agent.name };
    const cur = await this.#o.provider.get(scope, BRAIN_KEY_SECRET);
    if (!cur) throw new PlaneError(ErrorCode.FailedPrecondition, `agent ${agent.plane}/${agent.name} has no brain data key to rotate`);
    if (cur.value.length > DATA_KEY_BYTES) return;
    const ring = Buffer.concat([randomBytes(DATA_KEY_BYTES), cur.value]);
    const info = await this.#o.provider.set(scope, BRAIN_KEY_SECRET, ring, 'generated');
    this.#index(scope, BRAIN_KEY_SECRET, info.version);
    this.#o.audit.record({ actor, action: 'secret.generate', plane: agent.plane, agent: agent.name, outcome: 'ok', detail: { name: BRAIN_KEY_SECRET, version: info.version, phase: 'staged', keyId: BrainKey.keyIdOf(ring) } });
  }

  /**
   * Second half: the agent reports every snapshot sealed with the new key
   * (`keyId`), so the old key is dropped; the provider keeps no older version.
   * Returns false when no ring was staged, or it is another key's.
   */
  async finishDataKeyRotation(actor: string, plane: string, agentName: string, keyId: string): Promise<boolean> {
    const scope = { plane, agent: agentName };
    const cur = await this.#o.provider.get(scope, BRAIN_KEY_SECRET);
    if (!cur || cur.value.length <= DATA_KEY_BYTES) return false;
    if (BrainKey.keyIdOf(cur.value) !== keyId) {
      this.#o.audit.record({ actor, action: 'secret.rotate', plane, agent: agentName, outcome: 'failed', detail: { name: BRAIN_KEY_SECRET, reason: `the agent re-encrypted with key ${keyId}, but the staged key is ${BrainKey.keyIdOf(cur.value)}; the ring is kept` } });
      return false;
    }
    const info = await this.#o.provider.set(scope, BRAIN_KEY_SECRET, cur.value.subarray(0, DATA_KEY_BYTES), 'generated');
    this.#index(scope, BRAIN_KEY_SECRET, info.version);
    this.#o.audit.record({ actor, action: 'secret.rotate', plane, agent: agentName, outcome: 'ok', detail: { name: BRAIN_KEY_SECRET, version: info.version, phase: 'old data key destroyed', keyId } });
    return true;
  }

  /** Deletes the namespace and checks it is empty. */
  async purge(plane: string, agentName: string): Promise<number> {
    const scope = { plane, agent: agentName };
    const n = await this.#o.provider.deleteNamespace(scope);
    this.#stmt('DELETE FROM secret_index WHERE plane = ? AND agent = ?').run(plane, agentName);
    const left = await this.#o.provider.list(scope);
    if (left.length > 0) throw new PlaneError(ErrorCode.Internal, `purge of ${plane}/${agentName}'s secrets left ${left.length} behind: ${left.map((s) => s.name).join(', ')}`);
    this.#o.audit.record({ actor: 'hub', action: 'secret.purge', plane, agent: agentName, outcome: 'ok', detail: { deleted: n } });
    return n;
  }
}

/** Short hash of the sorted name:version pairs; '' for an empty namespace. */
export function revisionOf(list: readonly Pick<SecretInfo, 'name' | 'version'>[]): string {
  if (list.length === 0) return '';
  const text = [...list].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => `${s.name}:${s.version}`).join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
