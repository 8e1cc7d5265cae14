import { hashSecret, newSecret } from '../../../common/src/ids.ts';
import type { ApiPrincipal } from '../store/api-tokens.ts';

/** How a session was signed in. An OIDC sign-in adds its own kind; the session works the same. */
export type SignInMethod = 'token';

export interface ConsoleSession {
  principal: ApiPrincipal;
  via: SignInMethod;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionLimits {
  /** A session unused this long ends. */
  idleMs: number;
  /** And any session ends this long after sign-in. */
  maxAgeMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 8 * 3600_000, maxAgeMs: 12 * 3600_000 };

/**
 * Console sign-ins, kept in memory: a hub restart signs everyone out, which
 * is what an admin expects after one. The cookie carries a random id; only its
 * hash is kept, and nothing of the API token it was made from (the token's id
 * is looked up again on every request, so revoking the token ends the session).
 */
export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #limits: SessionLimits;
  readonly #stillValid: (s: ConsoleSession) => ApiPrincipal | undefined;

  constructor(stillValid: (s: ConsoleSession) => ApiPrincipal | undefined, limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    this.#stillValid = stillValid;
    this.#limits = limits;
  }

  /** A new session; the returned id goes into the cookie and nowhere else. */
  create(principal: ApiPrincipal, via: SignInMethod, now = Date.now()): { id: string; session: ConsoleSession } {
    this.#sweep(now);
    const id = newSecret();
    const session = { principal, via, createdAt: now, lastSeenAt: now };
    this.#sessions.set(hashSecret(id), session);
    return { id, session };
  }

  /** The live session for a cookie value, refreshed; undefined when unknown, expired or its token was revoked. */
  resolve(id: string, now = Date.now()): ConsoleSession | undefined {
    const key = hashSecret(id);
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    const principal = now - s.lastSeenAt > this.#limits.idleMs || now - s.createdAt > this.#limits.maxAgeMs ? undefined : this.#stillValid(s);
    if (!principal) {
      this.#sessions.delete(key);
      return undefined;
    }
    s.principal = principal;
    s.lastSeenAt = now;
    return s;
  }

  /** Signs out; true when there was such a session. */
  revoke(id: string): boolean {
    return this.#sessions.delete(hashSecret(id));
  }

  get size(): number {
    return this.#sessions.size;
  }

  #sweep(now: number): void {
    for (const [k, s] of this.#sessions) {
      if (now - s.lastSeenAt > this.#limits.idleMs || now - s.createdAt > this.#limits.maxAgeMs) this.#sessions.delete(k);
    }
  }
}
