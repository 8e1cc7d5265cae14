import type { Logger } from '../../../common/src/logger.ts';
import type { SecretManifest__Output, SecretResponse__Output } from '../../../proto/index.ts';

/** Names agentd never asks for: the brain data key arrives with the brain grant. */
const NOT_FOR_THE_GATEWAY = new Set(['brain-data-key']);

export interface SecretsFetcher {
  requestSecrets(names: string[]): Promise<SecretResponse__Output>;
}

export interface SecretsLoadResult {
  /** Names whose value changed (added, replaced or removed). */
  changed: string[];
  missing: string[];
  revision: string;
}

/**
 * The agent's secret values, in this process's memory only: never written to
 * disk, never logged, never in a process argument. Loaded by known name from
 * the hub over the agent's own stream whenever the manifest's revision moves.
 */
export class AgentSecrets {
  readonly #log: Logger;
  readonly #values = new Map<string, { value: Buffer; version: number }>();
  #manifest: SecretManifest__Output | undefined;
  #revision = '';
  #loadedAt = 0;
  #lastError = '';
  readonly #waiters: (() => void)[] = [];

  constructor(log: Logger) {
    this.#log = log.child('secrets');
  }

  /** The manifest revision whose values are loaded; '' before the first load. */
  get revision(): string {
    return this.#revision;
  }

  get loaded(): boolean {
    return this.#loadedAt > 0;
  }

  get lastError(): string {
    return this.#lastError;
  }

  get manifest(): SecretManifest__Output | undefined {
    return this.#manifest;
  }

  /** A new manifest from the hub; true when its revision differs from what is loaded. */
  offerManifest(m: SecretManifest__Output): boolean {
    this.#manifest = m;
    return !this.loaded || m.revision !== this.#revision;
  }

  /**
   * Loads every value the manifest names (except the brain key) plus the names
   * the gateway needs, by known name. The answer carries the namespace's current
   * manifest; names new to agentd are fetched in a second round. Replaces the
   * whole set atomically.
   */
  async load(fetcher: SecretsFetcher, needed: readonly string[] = []): Promise<SecretsLoadResult> {
    const wanted = (): string[] => [...new Set([...(this.#manifest?.entries ?? []).map((e) => e.name), ...needed])].filter((n) => !NOT_FOR_THE_GATEWAY.has(n)).sort();
    let res: SecretResponse__Output | undefined;
    let names: string[] = [];
    try {
      for (let round = 0; round < 2; round++) {
        names = wanted();
        res = await fetcher.requestSecrets(names);
        this.#manifest = { entries: res.entries, revision: res.revision };
        if (wanted().every((n) => names.includes(n))) break;
      }
    } catch (err) {
      this.#lastError = (err as Error).message;
      throw err;
    }
    if (!res) throw new Error('unreachable: no secret response');
    const changed: string[] = [];
    const next = new Map<string, { value: Buffer; version: number }>();
    for (const [name, value] of Object.entries(res.values)) {
      const old = this.#values.get(name);
      if (!old || !old.value.equals(value)) changed.push(name);
      next.set(name, { value: Buffer.from(value), version: res.versions[name] ?? 0 });
    }
    for (const [name, old] of this.#values) {
      if (!next.has(name)) changed.push(name);
      old.value.fill(0);
    }
    this.#values.clear();
    for (const [k, v] of next) this.#values.set(k, v);
    this.#revision = res.revision;
    this.#loadedAt = Date.now();
    this.#lastError = '';
    this.#log.info('secrets loaded', { names: [...next.keys()], missing: res.missing, revision: res.revision, changed });
    for (const w of this.#waiters.splice(0)) w();
    return { changed, missing: res.missing, revision: res.revision };
  }

  /** Resolves when the first load has happened, or after timeoutMs (false). */
  waitLoaded(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.loaded) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve(this.loaded);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** The value as text, for the gateway only. */
  value(name: string): string | undefined {
    return this.#values.get(name)?.value.toString('utf8');
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** Names and versions, for status output. */
  describe(): { name: string; version: number }[] {
    return [...this.#values].map(([name, v]) => ({ name, version: v.version })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Overwrites and forgets every value (at stop). */
  wipe(): void {
    for (const v of this.#values.values()) v.value.fill(0);
    this.#values.clear();
  }
}
