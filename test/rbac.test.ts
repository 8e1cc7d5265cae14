import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './helpers/fleet.ts';

interface ErrorBody {
  error: { code: string; message: string; where?: string };
}

/** Routes open without a token; everything else needs one. The console's pages and its sign-in are public. */
const PUBLIC = ['GET /console', 'GET /console/*', 'GET /healthz', 'GET /v1/console/sign-in-methods', 'GET /v1/openapi.json', 'POST /v1/console/session'];
/** Public routes that are not API operations (no OpenAPI entry). */
const UNDOCUMENTED = ['GET /console', 'GET /console/*', 'GET /healthz', 'GET /v1/openapi.json'];
/** What a public route answers a bare request other than 200: sign-in without a token is a bad request. */
const PUBLIC_STATUS: Record<string, number> = { 'POST /v1/console/session': 400 };
/** Changes any signed-in role may make to its own session: signing out. */
const SELF = ['DELETE /v1/console/session'];
/** Reads only admins may make: the audit log says who did what, which is itself sensitive. */
const ADMIN_READS = ['GET /v1/audit'];

// Every route the server really has (fastify's onRoute hook), checked for each role.
describe('RBAC over every route', () => {
  const fleet = new TestFleet({ localRuntime: 'placeholder' });
  let viewer = '';
  const routes = (): Array<{ method: string; url: string; role: string | undefined; key: string }> =>
    fleet.hub.apiRoutes.map((r) => ({ ...r, key: `${r.method} ${r.url}` }));

  /** A concrete path for a route pattern; `exists` picks things that exist, otherwise names that do not. */
  const concrete = (url: string, exists: boolean): string =>
    url
      .replace(':planeId', exists ? 'rbac' : 'ghost')
      .replace(':agentId', exists ? 'r1' : 'ghost')
      .replace(':commandId', 'cmd_missing')
      .replace(':runId', 'run_missing') + (url.endsWith('/logs') ? '?lines=1' : '') + (url === '/v1/console/events' ? `?topic=run&plane=${exists ? 'rbac' : 'ghost'}&run=run_missing` : '');
  /** Routes whose concrete path above names something that does not exist. */
  const missing = (url: string): boolean => /:(commandId|runId)/.test(url) || url === '/v1/console/events';

  const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${fleet.endpoints.apiUrl}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, text: await res.text() };
  };
  const code = (text: string): string => (JSON.parse(text) as ErrorBody).error.code;

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane('rbac');
    await fleet.addAgent('rbac', 'r1');
    await fleet.waitFor('rbac', 'r1', (a) => a.health.color === 'green');
    viewer = fleet.hub.context.apiTokens.create('dash', 'viewer').token;
  });
  afterAll(() => fleet.destroy());

  it('lists every route from the server, each with a role; every change needs admin', () => {
    const all = routes();
    expect(all.length).toBeGreaterThanOrEqual(30);
    // The enumeration sees routes registered from every module.
    for (const k of ['POST /v1/planes', 'PATCH /v1/planes/:planeId', 'POST /v1/planes/:planeId/apply', 'GET /v1/planes/:planeId/export', 'POST /v1/audit/verify']) expect(all.map((r) => r.key)).toContain(k);
    expect(all.filter((r) => r.role === undefined).map((r) => r.key).sort()).toEqual(PUBLIC);
    for (const r of all.filter((x) => x.method !== 'GET' && !PUBLIC.includes(x.key) && !SELF.includes(x.key))) expect(r.role, r.key).toBe('admin');
    for (const k of SELF) expect(all.find((r) => r.key === k)?.role, k).toBe('viewer');
    expect(all.filter((r) => r.method === 'GET' && r.role === 'admin').map((r) => r.key)).toEqual(ADMIN_READS);
    for (const r of all.filter((x) => x.method === 'GET' && x.role !== undefined && !ADMIN_READS.includes(x.key))) expect(r.role, r.key).toBe('viewer');
  });

  it('answers 401 without a token, or with an unknown one, on every route but the public ones', async () => {
    for (const r of routes()) {
      const path = concrete(r.url, true);
      const none = await call(r.method, path, '', r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      if (r.role === undefined) {
        expect(none.status, r.key).toBe(PUBLIC_STATUS[r.key] ?? 200);
        continue;
      }
      expect(none.status, r.key).toBe(401);
      expect(code(none.text), r.key).toBe('unauthenticated');
      expect((await call(r.method, path, 'apt1.not-a-real-token')).status, r.key).toBe(401);
    }
  });

  it('answers a viewer 403 on every mutating route and admin-only read, 200 or 404 on every other read', async () => {
    for (const r of routes().filter((x) => x.role !== undefined)) {
      const res = await call(r.method, concrete(r.url, true), viewer, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      if (SELF.includes(r.key)) {
        expect(res.status, r.key).toBe(200);
      } else if (r.method !== 'GET' || ADMIN_READS.includes(r.key)) {
        expect(res.status, r.key).toBe(403);
        expect(code(res.text), r.key).toBe('permission_denied');
      } else {
        expect(res.status, r.key).toBe(missing(r.url) ? 404 : r.url.endsWith('/ssh') ? 409 : 200);
      }
    }
    // Nothing changed.
    expect((await fleet.api('GET', '/v1/planes/rbac/agents/r1')).status).toBe(200);
  });

  it('lets an admin through on every route (reads answer; changes aimed at nothing get 400/404, never 401/403)', async () => {
    const admin = fleet.adminToken;
    for (const r of routes().filter((x) => x.role !== undefined)) {
      if (r.method === 'GET') {
        const res = await call('GET', concrete(r.url, true), admin);
        // SSH through IAP is for gcp planes; this one is local.
        expect(res.status, r.key).toBe(missing(r.url) ? 404 : r.url.endsWith('/ssh') ? 409 : 200);
        continue;
      }
      // Past auth, a body with an unknown field fails validation (400) or the plane/agent "ghost" is not found (404):
      // either proves the admin was let through, and nothing real is touched.
      const res = await call(r.method, concrete(r.url, false), admin, r.method === 'DELETE' ? undefined : r.key === 'POST /v1/audit/verify' ? {} : { rbacProbe: true });
      expect([200, 400, 404], `${r.key}: ${res.status} ${res.text}`).toContain(res.status);
      if (res.status === 400) expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'invalid_argument' } });
    }
    expect((await fleet.api('GET', '/v1/planes/ghost')).status).toBe(404);
    expect((await fleet.api('GET', '/v1/planes/rbac/agents/r1')).status).toBe(200);
  });

  it('docs/api.md lists every real route with its role, and no route that is not real', () => {
    const table = readFileSync('docs/api.md', 'utf8')
      .split('\n')
      .flatMap((l) => {
        const m = /^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (\w+) \|/.exec(l);
        return m ? [`${m[1]} ${m[2]} ${m[3]}`] : [];
      });
    const real = routes().map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')} ${r.role ?? 'none'}`);
    expect(table.filter((d) => !real.includes(d)), 'in docs/api.md but not served (or another role)').toEqual([]);
    expect(real.filter((d) => !table.includes(d)), 'served but not in docs/api.md (or another role)').toEqual([]);
  });

  it('serves an OpenAPI document with every real route, and no route that is not real', async () => {
    const doc = await fleet.api<{ openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters?: Array<{ name: string; in: string }> }>> }>(
      'GET',
      '/v1/openapi.json',
      undefined,
      '',
    );
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.body.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const real = routes()
      .filter((r) => !UNDOCUMENTED.includes(r.key))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(documented.filter((d) => !real.includes(d)), 'documented but not served').toEqual([]);
    expect(real.filter((d) => !documented.includes(d)), 'served but not documented').toEqual([]);
    expect(documented).toHaveLength(real.length);
    for (const [p, ops] of Object.entries(doc.body.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        // Every operation that needs a token documents the auth failures; every one its path parameters.
        if (!PUBLIC.includes(`${m.toUpperCase()} ${p}`)) expect(Object.keys(op.responses), `${m} ${p}`).toEqual(expect.arrayContaining(['401', '403']));
        const params = [...p.matchAll(/\{(\w+)\}/g)].map((x) => x[1]);
        expect((op.parameters ?? []).filter((x) => x.in === 'path').map((x) => x.name).sort(), `${m} ${p}`).toEqual(params.sort());
      }
    }
  });
});
