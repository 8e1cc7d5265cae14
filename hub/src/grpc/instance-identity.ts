import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';

/**
 * Checks a Compute Engine instance identity token: a JWT (RS256) signed by Google
 * with one of the keys published at GOOGLE_CERTS_URL, in the "full" format that
 * names the project and the instance. Only the signature, issuer, audience and
 * times are checked here; which instance may enrol as which agent is the caller's
 * decision (agent-service.ts).
 */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const ISSUERS = new Set(['https://accounts.google.com', 'accounts.google.com']);
/** Clock skew allowed on iat and exp. */
const SKEW_S = 60;
/** Google's tokens live one hour; a token claiming longer is refused. */
const MAX_LIFETIME_S = 3600 + SKEW_S;
const MAX_TOKEN_CHARS = 16 * 1024;

export interface ComputeEngineIdentity {
  projectId: string;
  projectNumber: string;
  zone: string;
  instanceId: string;
  instanceName: string;
  /** ms since the epoch, if present. */
  instanceCreatedAt?: number;
  /** The token's expiry, ms since the epoch (a replay guard keeps its hash until then). */
  expiresAt: number;
}

/** Where signing keys come from: Google's JWK set in production, a local one in tests. */
export interface KeySource {
  /** The key for `kid`, or undefined when the set has none. */
  key(kid: string): Promise<KeyObject | undefined>;
}

function refuse(message: string): PlaneError {
  return new PlaneError(ErrorCode.Unauthenticated, `instance identity token refused: ${message}`);
}

function keysFromJwks(body: unknown): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const list = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new PlaneError(ErrorCode.Unavailable, 'JWK set has no "keys" array');
  for (const jwk of list as Array<JsonWebKey & { kid?: unknown; use?: unknown }>) {
    if (typeof jwk.kid !== 'string' || jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
  }
  return keys;
}

/** A fixed JWK set (tests, or a pinned copy). */
export class StaticKeys implements KeySource {
  readonly #keys: Map<string, KeyObject>;
  constructor(jwks: unknown) {
    this.#keys = keysFromJwks(jwks);
  }
  async key(kid: string): Promise<KeyObject | undefined> {
    return this.#keys.get(kid);
  }
}

/**
 * Google's JWK set over HTTPS, cached for its Cache-Control max-age (at most a
 * day). An unknown kid (Google rotated) refetches, at most once a minute, so
 * tokens with made-up key ids cannot make the hub hammer Google.
 */
export class RemoteJwks implements KeySource {
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #minRefetchMs: number;
  #keys = new Map<string, KeyObject>();
  #freshUntil = 0;
  #lastFetch = 0;
  #inflight: Promise<void> | undefined;

  constructor(url = GOOGLE_CERTS_URL, options: { fetch?: typeof fetch; minRefetchMs?: number } = {}) {
    this.url = url;
    this.#fetch = options.fetch ?? fetch;
    this.#minRefetchMs = options.minRefetchMs ?? 60_000;
  }

  async key(kid: string): Promise<KeyObject | undefined> {
    const now = Date.now();
    if (now >= this.#freshUntil || (!this.#keys.has(kid) && now - this.#lastFetch >= this.#minRefetchMs)) await this.#refresh();
    return this.#keys.get(kid);
  }

  #refresh(): Promise<void> {
    this.#inflight ??= this.#load().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #load(): Promise<void> {
    this.#lastFetch = Date.now();
    let res: Response;
    try {
      res = await this.#fetch(this.url, { signal: AbortSignal.timeout(10_000) });
    } catch (cause) {
      throw new PlaneError(ErrorCode.Unavailable, `cannot fetch Google's signing keys from ${this.url}: ${(cause as Error).message}`, { cause });
    }
    if (!res.ok) throw new PlaneError(ErrorCode.Unavailable, `cannot fetch Google's signing keys from ${this.url}: HTTP ${res.status}`);
    this.#keys = keysFromJwks(await res.json());
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1] ?? 3600);
    this.#freshUntil = Date.now() + Math.min(maxAge, 86_400) * 1000;
  }
}

function decodePart(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw refuse(`malformed ${what}`);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Verifies the token and returns the instance it names. Throws Unauthenticated (or Unavailable without keys). */
export async function verifyInstanceIdentityToken(token: string, options: { audience: string; keys: KeySource; now?: number }): Promise<ComputeEngineIdentity> {
  if (token.length > MAX_TOKEN_CHARS) throw refuse('too long');
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) throw refuse('not a JWT');
  const [h, p, sig] = parts as [string, string, string];
  const header = decodePart(h, 'header');
  if (header['alg'] !== 'RS256') throw refuse(`algorithm ${String(header['alg'])} is not RS256`);
  const kid = str(header['kid']);
  if (!kid) throw refuse('no key id');
  const key = await options.keys.key(kid);
  if (!key) throw refuse(`signed with an unknown key ${kid}`);
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'))) throw refuse('bad signature');

  const claims = decodePart(p, 'payload');
  if (!ISSUERS.has(String(claims['iss']))) throw refuse(`issuer ${String(claims['iss'])} is not Google`);
  const aud = claims['aud'];
  if (aud !== options.audience) throw refuse(`audience ${JSON.stringify(aud)} is not this hub (${options.audience})`);
  const nowS = Math.floor((options.now ?? Date.now()) / 1000);
  const exp = claims['exp'];
  const iat = claims['iat'];
  if (typeof exp !== 'number' || typeof iat !== 'number') throw refuse('no exp or iat');
  if (exp + SKEW_S <= nowS) throw refuse('expired');
  if (iat - SKEW_S > nowS) throw refuse('issued in the future');
  if (exp - iat > MAX_LIFETIME_S) throw refuse('lifetime longer than an hour');

  const gce = ((claims['google'] as Record<string, unknown> | undefined)?.['compute_engine'] ?? undefined) as Record<string, unknown> | undefined;
  const projectId = str(gce?.['project_id']);
  const instanceName = str(gce?.['instance_name']);
  const instanceId = str(gce?.['instance_id']);
  const zone = str(gce?.['zone']);
  if (!projectId || !instanceName || !instanceId || !zone) throw refuse('no Compute Engine claims (request the token with format=full)');
  const created = gce?.['instance_creation_timestamp'];
  const projectNumber = gce?.['project_number'];
  return {
    projectId,
    projectNumber: typeof projectNumber === 'number' || typeof projectNumber === 'string' ? String(projectNumber) : '',
    zone,
    instanceId,
    instanceName,
    ...(typeof created === 'number' ? { instanceCreatedAt: created * 1000 } : {}),
    expiresAt: exp * 1000,
  };
}
