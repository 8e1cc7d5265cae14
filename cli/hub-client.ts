import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, isErrorCode, PlaneError } from '../common/src/errors.ts';
import type { CallArgs, ErrorAnswer, RouteKey, Routes, StreamRoute } from './api.ts';

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

/** "GET /v1/planes/{planeId}" with its parameters and query -> method and path. */
export function routePath<K extends RouteKey>(route: K, args: CallArgs<K>): { method: string; path: string } {
  const [method, template] = route.split(' ') as [string, string];
  const params = (args.params ?? {}) as Record<string, string>;
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new PlaneError(ErrorCode.Internal, `${route}: no value for {${name}}`);
    return encodeURIComponent(v);
  });
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries((args.query ?? {}) as Record<string, string | number | boolean | undefined>)) if (v !== undefined) query.set(k, String(v));
  const qs = query.toString();
  return { method, path: qs ? `${path}?${qs}` : path };
}

function hubError(status: number, body: unknown): PlaneError {
  const e = (body as Partial<ErrorAnswer> | undefined)?.error;
  const code = e?.code && isErrorCode(e.code) ? e.code : ErrorCode.Internal;
  return new PlaneError(code, e?.message ?? `hub answered ${status}`, e?.where ? { where: e.where } : undefined);
}

/**
 * A small REST client: JSON in, JSON out, every failure a PlaneError with the
 * hub's code. It calls only the routes it was made for (a verb's declared
 * calls), so a verb's declaration says every REST call it makes.
 */
export class HubClient<C extends RouteKey = RouteKey> {
  readonly #t: HubTarget;
  readonly #allowed: ReadonlySet<string> | undefined;

  constructor(target: HubTarget, allowed?: readonly C[]) {
    if (!/^[\x21-\x7e]+$/.test(target.token)) {
      throw new PlaneError(ErrorCode.Unauthenticated, 'the API token is malformed: expected one line of printable characters (is the token file the right one?)', { where: '--token' });
    }
    this.#t = target;
    this.#allowed = allowed ? new Set(allowed) : undefined;
  }

  #check(route: RouteKey): void {
    if (this.#allowed && !this.#allowed.has(route)) throw new PlaneError(ErrorCode.Internal, `${route} is not among the calls this command declares`);
  }

  async call<K extends C>(route: K, args: CallArgs<K>): Promise<Routes[K]['response']> {
    this.#check(route);
    const { method, path } = routePath(route, args);
    const body = args.body as unknown;
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
    if (!res.ok) throw hubError(res.status, json);
    return json as Routes[K]['response'];
  }

  /** GETs an NDJSON stream and calls `onLine` for each parsed line until the hub ends it. */
  async stream<K extends C & StreamRoute>(route: K, args: CallArgs<K>, onLine: (line: Routes[K]['response']) => void, signal?: AbortSignal): Promise<void> {
    this.#check(route);
    const { path } = routePath(route, args);
    let res: Response;
    try {
      res = await fetch(`${this.#t.url}${path}`, { headers: { authorization: `Bearer ${this.#t.token}` }, ...(signal ? { signal } : {}) });
    } catch (cause) {
      throw new PlaneError(ErrorCode.Unavailable, `cannot reach the hub at ${this.#t.url}: ${(cause as Error).message}`, { cause });
    }
    if (!res.ok || !res.body) throw hubError(res.status, await res.json().catch(() => undefined));
    let partial = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      partial += decoder.decode(chunk as Uint8Array, { stream: true });
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(JSON.parse(l) as Routes[K]['response']);
    }
  }
}
