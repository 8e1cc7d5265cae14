import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP side shared by the Google REST stand-ins (Compute, IAM, IAP,
 * Service Usage, Resource Manager): a router, Google's error JSON, injected
 * failures, a request log, and IAM policies with etags.
 */

/** An answer in Google's error shape: {"error": {code, message, status, errors: [{reason, domain, message}]}}. */
export class GoogleError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly grpcStatus: string;
  constructor(status: number, reason: string, message: string, grpcStatus?: string) {
    super(message);
    this.status = status;
    this.reason = reason;
    // A 409 is ALREADY_EXISTS unless it is a concurrency conflict (ABORTED), as Google sends them.
    this.grpcStatus = grpcStatus ?? (reason === 'aborted' ? 'ABORTED' : STATUS_NAME[status]) ?? 'UNKNOWN';
  }
}

const STATUS_NAME: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** A request field as a string ('' when absent or not a string). */
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export const notFound = (what: string): GoogleError => new GoogleError(404, 'notFound', `The resource '${what}' was not found`);
export const invalid = (message: string): GoogleError => new GoogleError(400, 'invalid', message);

export function errorBody(e: GoogleError): string {
  // Newer APIs (IAM) send no legacy `errors` list: reason ''.
  return JSON.stringify({ error: { code: e.status, message: e.message, status: e.grpcStatus, ...(e.reason ? { errors: [{ reason: e.reason, domain: 'global', message: e.message }] } : {}) } });
}

export interface StandinRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
}

type Handler = (req: StandinRequest, params: string[]) => unknown;

/** A failure the next matching requests get instead of their answer. */
export interface Injection {
  method?: string;
  /** Matched against the path. */
  path: RegExp;
  status: number;
  reason: string;
  message?: string;
  /** How many requests get it; default 1. */
  count?: number;
  /** Do the work, then lose the answer: the caller sees the error but the change happened. */
  afterHandling?: boolean;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  at: number;
  status: number;
}

/** An IAM allow policy store, one policy per resource, with an etag that moves on every write. */
export class PolicyStore {
  readonly #policies = new Map<string, { version: number; bindings: Array<{ role: string; members: string[]; condition?: unknown }>; etag: number }>();
  readonly #races = new Map<string, () => void>();
  /** Conflicts answered (409 ABORTED) so far. */
  conflicts = 0;

  /** Someone else writes this resource's policy between our read and our write, once. */
  raceOnce(resource: string, role: string, member: string): void {
    this.#races.set(resource, () => this.addOutside(resource, role, member));
  }

  get(resource: string): Record<string, unknown> {
    const p = this.#policies.get(resource) ?? { version: 1, bindings: [], etag: 0 };
    return { version: p.version, etag: Buffer.from(`etag-${p.etag}`).toString('base64'), ...(p.bindings.length ? { bindings: structuredClone(p.bindings) } : {}) };
  }

  /** setIamPolicy: a stale etag is refused (409 ABORTED) and nothing changes; conditions need version 3. */
  set(resource: string, policy: { version?: number; etag?: string; bindings?: Array<{ role: string; members: string[]; condition?: unknown }> }): Record<string, unknown> {
    const race = this.#races.get(resource);
    if (race) {
      this.#races.delete(resource);
      race();
    }
    const cur = this.#policies.get(resource) ?? { version: 1, bindings: [], etag: 0 };
    if (policy.etag && policy.etag !== Buffer.from(`etag-${cur.etag}`).toString('base64')) {
      this.conflicts++;
      throw new GoogleError(409, 'aborted', 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.', 'ABORTED');
    }
    const bindings = (policy.bindings ?? []).filter((b) => b.members.length > 0);
    if (bindings.some((b) => b.condition) && (policy.version ?? 1) < 3) throw invalid('Policy with conditions must have version 3.');
    this.#policies.set(resource, { version: policy.version ?? 1, bindings: structuredClone(bindings), etag: cur.etag + 1 });
    return this.get(resource);
  }

  delete(resource: string): void {
    this.#policies.delete(resource);
  }

  /** Resources whose policies mention `member`, with the roles. */
  grantsOf(member: string): Array<{ resource: string; role: string }> {
    const out: Array<{ resource: string; role: string }> = [];
    for (const [resource, p] of this.#policies) for (const b of p.bindings) if (b.members.includes(member)) out.push({ resource, role: b.role });
    return out;
  }

  /** Writes a binding directly, as someone outside the plane would (tests of "other members' bindings stay"). */
  addOutside(resource: string, role: string, member: string): void {
    const cur = this.#policies.get(resource) ?? { version: 1, bindings: [], etag: 0 };
    const b = cur.bindings.find((x) => x.role === role && !x.condition);
    if (b) b.members.push(member);
    else cur.bindings.push({ role, members: [member] });
    cur.etag++;
    this.#policies.set(resource, cur);
  }

  resources(): string[] {
    return [...this.#policies.entries()].filter(([, p]) => p.bindings.length > 0).map(([r]) => r);
  }
}

export class GoogleHttpServer {
  readonly #routes: Array<{ method: string; re: RegExp; handler: Handler }> = [];
  readonly #injections: Injection[] = [];
  readonly requests: LoggedRequest[] = [];
  #server: Server | undefined;
  url = '';

  route(method: string, re: RegExp, handler: Handler): void {
    this.#routes.push({ method, re, handler });
  }

  inject(i: Injection): void {
    this.#injections.push({ ...i, count: i.count ?? 1 });
  }

  clearInjections(): void {
    this.#injections.length = 0;
  }

  /** Requests so far whose "METHOD path" matches. */
  count(re: RegExp): number {
    return this.requests.filter((r) => re.test(`${r.method} ${r.path}`)).length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    const entry: LoggedRequest = { method, path, query: url.search, at: Date.now(), status: 200 };
    this.requests.push(entry);
    const send = (status: number, body: string): void => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(body);
    };
    const inj = this.#injections.find((i) => (!i.method || i.method === method) && i.path.test(path));
    if (inj) {
      inj.count = (inj.count ?? 1) - 1;
      if (inj.count <= 0) this.#injections.splice(this.#injections.indexOf(inj), 1);
      const fail = (): void => send(inj.status, errorBody(new GoogleError(inj.status, inj.reason, inj.message ?? `injected ${inj.status} ${inj.reason}`)));
      if (!inj.afterHandling) return fail();
      await this.#dispatch(method, path, url.searchParams, raw).catch(() => undefined);
      return fail();
    }
    const out = await this.#dispatch(method, path, url.searchParams, raw);
    send(out.status, out.body);
  }

  async #dispatch(method: string, path: string, query: URLSearchParams, raw: string): Promise<{ status: number; body: string }> {
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return { status: 400, body: errorBody(invalid('Invalid JSON payload received.')) };
    }
    for (const r of this.#routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(path);
      if (!m) continue;
      try {
        const out = await r.handler({ method, path, query, body }, m.slice(1));
        return { status: 200, body: JSON.stringify(out ?? {}) };
      } catch (err) {
        if (err instanceof GoogleError) return { status: err.status, body: errorBody(err) };
        return { status: 500, body: errorBody(new GoogleError(500, 'backendError', String(err))) };
      }
    }
    return { status: 404, body: errorBody(new GoogleError(404, 'notFound', `The stand-in has no route for ${method} ${path}`)) };
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
