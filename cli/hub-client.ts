import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, isErrorCode, PlaneError } from '../common/src/errors.ts';

export interface HubTarget {
  url: string;
  token: string;
}

export interface TargetFlags {
  hub?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  dataDir?: string | undefined;
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new PlaneError(ErrorCode.Unauthenticated, `cannot read token file ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { where: file, cause });
  }
}

/**
 * Where the hub is and which token to use, in order: flags, environment
 * (PLANES_HUB, PLANES_TOKEN, PLANES_TOKEN_FILE), then the hub.json a local hub
 * writes into its data dir (--data-dir, PLANES_DATA_DIR, or ./.planes-data).
 */
export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): HubTarget {
  const dataDir = flags.dataDir ?? env['PLANES_DATA_DIR'] ?? '.planes-data';
  const hubJson = join(dataDir, 'hub.json');
  const local = existsSync(hubJson) ? (JSON.parse(readFileSync(hubJson, 'utf8')) as { apiUrl: string; adminTokenFile: string }) : undefined;
  const url = flags.hub ?? env['PLANES_HUB'] ?? local?.apiUrl;
  if (!url) {
    throw new PlaneError(ErrorCode.InvalidArgument, `no hub given: pass --hub URL, set PLANES_HUB, or run where ${hubJson} exists`, { where: '--hub' });
  }
  let token = flags.token ?? (flags.tokenFile ? readToken(flags.tokenFile) : undefined) ?? env['PLANES_TOKEN'];
  if (!token && env['PLANES_TOKEN_FILE']) token = readToken(env['PLANES_TOKEN_FILE']);
  // The local admin token goes only to the local hub, never to a hub named elsewhere.
  if (!token && local && url.replace(/\/+$/, '') === local.apiUrl) token = readToken(local.adminTokenFile);
  if (!token) throw new PlaneError(ErrorCode.Unauthenticated, 'no API token: set PLANES_TOKEN or PLANES_TOKEN_FILE, or pass --token-file', { where: '--token' });
  return { url: url.replace(/\/+$/, ''), token };
}

/** A small REST client: JSON in, JSON out, every failure a PlaneError with the hub's code. */
export class HubClient {
  readonly #t: HubTarget;
  constructor(target: HubTarget) {
    if (!/^[\x21-\x7e]+$/.test(target.token)) {
      throw new PlaneError(ErrorCode.Unauthenticated, 'the API token is malformed: expected one line of printable characters (is the token file the right one?)', { where: '--token' });
    }
    this.#t = target;
  }

  /** GETs an NDJSON stream and calls `onLine` for each parsed line until the hub ends it. */
  async stream(path: string, onLine: (value: unknown) => void, signal?: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.#t.url}${path}`, { headers: { authorization: `Bearer ${this.#t.token}` }, ...(signal ? { signal } : {}) });
    } catch (cause) {
      throw new PlaneError(ErrorCode.Unavailable, `cannot reach the hub at ${this.#t.url}: ${(cause as Error).message}`, { cause });
    }
    if (!res.ok || !res.body) {
      const e = ((await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new PlaneError(e?.code && isErrorCode(e.code) ? e.code : ErrorCode.Internal, e?.message ?? `hub answered ${res.status}`);
    }
    let partial = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      partial += decoder.decode(chunk as Uint8Array, { stream: true });
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(JSON.parse(l));
    }
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#t.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(330_000),
      });
    } catch (cause) {
      throw new PlaneError(ErrorCode.Unavailable, `cannot reach the hub at ${this.#t.url}: ${(cause as Error).cause ? String((cause as Error).cause) : (cause as Error).message}`, { cause });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new PlaneError(ErrorCode.Internal, `hub answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; where?: string } } | undefined)?.error;
      const code = e?.code && isErrorCode(e.code) ? e.code : ErrorCode.Internal;
      throw new PlaneError(code, e?.message ?? `hub answered ${res.status}`, e?.where ? { where: e.where } : undefined);
    }
    return json as T;
  }
}
