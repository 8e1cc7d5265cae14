import { execFileSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FleetRows } from '../hub/src/console/fleet-rows.ts';
import { Hub } from '../hub/src/hub.ts';
import { TestFleet, waitUntil } from './helpers/fleet.ts';

// The console's server side without a browser: sessions, CSRF, the live feed, and TLS off loopback.
const PLANE = 'cons';

interface Res {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('console API', () => {
  const fleet = new TestFleet();
  let base = '';
  const call = async (method: string, path: string, o: { cookie?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(o.cookie ? { cookie: o.cookie } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const signIn = async (token: string): Promise<string> => {
    const r = await call('POST', '/v1/console/session', { body: { token }, headers: { 'x-planes-csrf': '1' } });
    expect(r.status).toBe(200);
    return (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  };

  beforeAll(async () => {
    await fleet.start();
    base = fleet.endpoints.apiUrl;
    await fleet.createPlane(PLANE);
    const patch = await fleet.api('PATCH', `/v1/planes/${PLANE}`, { policies: [{ match: { group: 'sales' }, spec: { modelTier: 'haiku', budgetCap: 40 } }] });
    expect(patch.status).toBe(200);
    const add = await fleet.api('POST', `/v1/planes/${PLANE}/agents`, { name: 'a1', ownerEmail: 'a1@example.com', groups: ['sales'], machineType: 'e2-medium' });
    expect(add.status).toBe(201);
    await fleet.addAgent(PLANE, 'a2');
    for (const n of ['a1', 'a2']) await fleet.waitFor(PLANE, n, (a) => a.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('signs in with a token: an HttpOnly, SameSite=Strict cookie, the token in no answer, a bad token refused and audited', async () => {
    const r = await call('POST', '/v1/console/session', { body: { token: fleet.adminToken }, headers: { 'x-planes-csrf': '1' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: { name: 'admin', role: 'admin', via: 'token', actor: 'token:admin' } });
    const cookie = r.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^planes_session=[\w-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // Plain HTTP on loopback: no Secure (browsers would drop the cookie), and the session id is not the token.
    expect(cookie).not.toContain('Secure');
    expect(cookie).not.toContain(fleet.adminToken.slice(5));
    expect((await call('GET', '/v1/console/session', { cookie: cookie.split(';')[0] ?? '' })).body).toMatchObject({ user: { role: 'admin' } });

    const bad = await call('POST', '/v1/console/session', { body: { token: 'apt1.nope' }, headers: { 'x-planes-csrf': '1' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const audit = await fleet.api<{ events: Array<{ action: string; outcome: string; actor: string }> }>('GET', '/v1/audit?limit=20');
    expect(audit.body.events).toEqual(expect.arrayContaining([
      expect.objectContaining({ action: 'console.sign-in', outcome: 'denied', actor: 'anonymous' }),
      expect.objectContaining({ action: 'console.sign-in', outcome: 'ok', actor: 'token:admin' }),
    ]));
  });

  it('refuses a change made with the cookie unless it carries the CSRF header and comes from this origin', async () => {
    const cookie = await signIn(fleet.adminToken);
    const path = `/v1/planes/${PLANE}/agents/a2/pause`;
    const noHeader = await call('POST', path, { cookie, body: {} });
    expect(noHeader.status).toBe(403);
    expect(noHeader.body).toMatchObject({ error: { code: 'permission_denied', where: 'x-planes-csrf' } });
    const otherOrigin = await call('POST', path, { cookie, body: {}, headers: { 'x-planes-csrf': '1', origin: 'https://evil.example' } });
    expect(otherOrigin.body).toMatchObject({ error: { where: 'origin' } });
    const crossSite = await call('POST', path, { cookie, body: {}, headers: { 'x-planes-csrf': '1', 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.body).toMatchObject({ error: { where: 'sec-fetch-site' } });
    // Sign-in itself is guarded too (login CSRF).
    expect((await call('POST', '/v1/console/session', { body: { token: fleet.adminToken } })).status).toBe(403);
    // Nothing was paused by the refused requests.
    expect((await fleet.agent(PLANE, 'a2')).health.color).toBe('green');
    const ok = await call('POST', path, { cookie, body: { waitSeconds: 20 }, headers: { 'x-planes-csrf': '1', origin: new URL(base).origin, 'sec-fetch-site': 'same-origin' } });
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ command: { kind: 'pause', state: 'succeeded', actor: 'token:admin' } });
    expect((await call('POST', `/v1/planes/${PLANE}/agents/a2/resume`, { cookie, body: { waitSeconds: 20 }, headers: { 'x-planes-csrf': '1' } })).status).toBe(202);
  });

  it('gives a viewer session reads only, and ends a session at sign-out or when its token is revoked', async () => {
    const viewer = fleet.hub.context.apiTokens.create('watcher', 'viewer').token;
    const cookie = await signIn(viewer);
    expect((await call('GET', '/v1/console/fleet', { cookie })).status).toBe(200);
    const denied = await call('POST', `/v1/planes/${PLANE}/agents/a2/restart`, { cookie, body: {}, headers: { 'x-planes-csrf': '1' } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: 'permission_denied' } });
    expect((await call('GET', '/v1/audit', { cookie })).status).toBe(403);
    fleet.hub.context.apiTokens.revokeByName('watcher');
    expect((await call('GET', '/v1/console/fleet', { cookie })).status).toBe(401);

    const admin = await signIn(fleet.adminToken);
    const out = await call('DELETE', '/v1/console/session', { cookie: admin, headers: { 'x-planes-csrf': '1' } });
    expect(out.body).toEqual({ signedOut: true });
    expect(out.headers.get('set-cookie')).toMatch(/^planes_session=; .*Max-Age=0/);
    expect((await call('GET', '/v1/console/session', { cookie: admin })).status).toBe(401);
  });

  type FeedData = { rows?: Array<{ name: string }>; upsert?: Array<{ name: string; paused: boolean; health: { color: string; reason: string } }> };
  /** An SSE client: every event, the status and content type it got, or why it got none (never an unhandled error). */
  const openEvents = (path: string, cookie: string) => {
    const feed = { events: [] as Array<{ event: string; data: FeedData }>, status: 0, contentType: '', body: '', failed: undefined as string | undefined };
    const req = get(`${base}${path}`, { headers: { cookie } }, (res) => {
      feed.status = res.statusCode ?? 0;
      feed.contentType = String(res.headers['content-type'] ?? '');
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (feed.status !== 200) {
          feed.body += d;
          return;
        }
        buf += d;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) feed.events.push({ event, data: JSON.parse(data) as FeedData });
        }
      });
    });
    req.on('error', (err) => (feed.failed ??= err.message));
    return { feed, close: () => req.destroy() };
  };

  it('streams the fleet: a snapshot of every row, then only the rows that changed', async () => {
    const cookie = await signIn(fleet.adminToken);
    const { feed, close } = openEvents('/v1/console/events', cookie);
    const { events } = feed;
    try {
      await waitUntil(() => feed.failed !== undefined || feed.status !== 0, 10_000, 'an answer to the feed');
      expect(feed).toMatchObject({ failed: undefined, status: 200, contentType: 'text/event-stream; charset=utf-8' });
      await waitUntil(() => events.some((e) => e.event === 'snapshot'), 10_000, 'the snapshot');
      expect(events[0]?.data.rows?.map((r) => r.name).sort()).toEqual(['a1', 'a2']);
      expect((await fleet.api('POST', `/v1/planes/${PLANE}/agents/a1/pause`, { waitSeconds: 20 })).status).toBe(202);
      await waitUntil(() => events.some((e) => e.event === 'rows' && e.data.upsert?.some((r) => r.name === 'a1' && r.paused && r.health.reason.startsWith('paused'))), 10_000, 'a1 paused in the feed');
      // Only rows that changed are sent: none is sent again as it was (the heartbeat time travels in `beats`).
      // a2 may change too (its sync lag, just after the test above resumed it), so that is the check, not "never a2".
      const known = new Map((events[0]?.data.rows ?? []).map((r) => [r.name, JSON.stringify({ ...r, lastHeartbeatAt: undefined })]));
      for (const r of events.filter((e) => e.event === 'rows').flatMap((e) => e.data.upsert ?? [])) {
        const sig = JSON.stringify({ ...r, lastHeartbeatAt: undefined });
        expect(sig, `${r.name} sent again unchanged`).not.toBe(known.get(r.name));
        known.set(r.name, sig);
      }
    } finally {
      close();
      await fleet.api('POST', `/v1/planes/${PLANE}/agents/a1/resume`, { waitSeconds: 20 });
    }
  });

  // A feed that fails before its first event used to leave the response hijacked with no headers sent: the
  // browser (and this test) waited for ever, until the client gave up with "socket hang up".
  it('answers a feed that cannot start with an error in the documented shape, not a stream that never begins', async () => {
    const cookie = await signIn(fleet.adminToken);
    const broken = vi.spyOn(FleetRows.prototype, 'build').mockImplementation(() => {
      throw new Error('the fleet table could not be read');
    });
    const { feed, close } = openEvents('/v1/console/events?topic=fleet', cookie);
    try {
      await waitUntil(() => feed.failed !== undefined || feed.body !== '', 10_000, 'an answer to the feed');
      expect(feed.failed).toBeUndefined();
      expect(feed.status).toBe(500);
      expect(JSON.parse(feed.body)).toMatchObject({ error: { code: 'internal' } });
    } finally {
      broken.mockRestore();
      close();
    }
    // The next browser gets its snapshot.
    const again = openEvents('/v1/console/events', cookie);
    try {
      await waitUntil(() => again.feed.events.some((e) => e.event === 'snapshot'), 10_000, 'the snapshot after a failed start');
    } finally {
      again.close();
    }
  });

  it("shows an agent's settings with the policy each comes from, and what it confirmed after a change", async () => {
    const cookie = await signIn(fleet.adminToken);
    const before = await call('GET', `/v1/console/planes/${PLANE}/agents/a1/config`, { cookie });
    expect(before.status).toBe(200);
    const fields = before.body['fields'] as Array<{ field: string; desired: unknown; source: string }>;
    expect(fields).toEqual(expect.arrayContaining([
      { field: 'modelTier', desired: 'haiku', source: 'policy 0' },
      { field: 'budgetCap', desired: 40, source: 'policy 0' },
      { field: 'machineType', desired: 'e2-medium', source: 'agent' },
      { field: 'diskSizeGb', desired: 20, source: 'default' },
    ]));
    expect(before.body).toMatchObject({ policies: [{ index: 0, policy: { match: { group: 'sales' } } }], runtime: { confirmed: null, inSync: true } });
    expect((await fleet.api('PATCH', `/v1/planes/${PLANE}/agents/a1`, { modelTier: 'opus', waitSeconds: 30 })).body).toMatchObject({ command: { state: 'succeeded' } });
    const after = await call('GET', `/v1/console/planes/${PLANE}/agents/a1/config`, { cookie });
    expect(after.body['fields']).toEqual(expect.arrayContaining([{ field: 'modelTier', desired: 'opus', source: 'agent' }]));
    expect(after.body['runtime']).toMatchObject({ confirmed: { modelTier: 'opus' }, inSync: true, pending: null });
    const commands = await call('GET', `/v1/console/planes/${PLANE}/agents/a1/commands?limit=5`, { cookie });
    expect((commands.body['commands'] as Array<{ kind: string }>)[0]).toMatchObject({ kind: 'reconfigure', state: 'succeeded' });
  });

  it('loads a bookmarked view: the pages take the query parameters they keep in the address, and refuse others', async () => {
    const page = await fetch(`${base}/console/?health=red&q=a1&plane=${PLANE}&sort=agent&dir=desc`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect((await fetch(`${base}/console/actions?plane=${PLANE}`)).status).toBe(200);
    const unknown = await fetch(`${base}/console/?colour=red`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'invalid_argument', where: 'querystring.colour' } });
    expect((await fetch(`${base}/console/?dir=sideways`)).status).toBe(400);
  });

  it('reports hub health with every check and job', async () => {
    const r = await fleet.api<{ ok: boolean; checks: Array<{ name: string; ok: boolean }>; jobs: Array<{ name: string; runs: number }> }>('GET', '/v1/console/hub-health');
    expect(r.status).toBe(200);
    expect(r.body.checks.map((c) => c.name)).toEqual(['database', 'grpc listener', 'infra provider local', 'infra provider manual', 'secrets provider local', 'bucket']);
    expect(r.body.ok).toBe(true);
    expect(r.body.jobs.find((j) => j.name === 'heartbeat flush')?.runs).toBeGreaterThan(0);
  });

  // Last: it restarts the hub (console sessions live in its memory).
  it("keeps a run whose target is unknown after a hub restart on the agent's row until the agent reports", async () => {
    type Fleet = { rows: Array<{ name: string; run: { id: string; kind: string; state: string } | null }>; runs: Array<{ id: string; state: string; summary: Record<string, number> }> };
    const table = async (): Promise<Fleet> => (await fleet.api<Fleet>('GET', '/v1/console/fleet')).body;
    // a2 stays away (stopped, not exited: a new hub would start an exited local agentd again at once).
    const pid = fleet.agentdPid(PLANE, 'a2');
    process.kill(pid, 'SIGSTOP');
    let stopped = true;
    try {
      const r = await fleet.api<{ run: { id: string } }>('POST', `/v1/planes/${PLANE}/runs`, { kind: 'restart', agents: ['a2'], timeoutSeconds: 300 });
      expect(r.status).toBe(202);
      const id = r.body.run.id;
      await fleet.restartHub();
      const away = await table();
      expect(away.rows.find((x) => x.name === 'a2')?.run).toEqual({ id, kind: 'restart', state: 'unknown' });
      expect(away.runs.find((x) => x.id === id)).toMatchObject({ state: 'interrupted', summary: { unknown: 1 } });

      process.kill(pid, 'SIGCONT');
      stopped = false;
      await fleet.waitFor(PLANE, 'a2', (a) => a.connected, 40_000);
      await waitUntil(async () => (await table()).rows.find((x) => x.name === 'a2')?.run === null, 20_000, "a2's report to settle the run");
      const run = await fleet.api<{ summary: Record<string, number> }>('GET', `/v1/planes/${PLANE}/runs/${id}`);
      expect(run.body.summary).toMatchObject({ total: 1, unknown: 0 });
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
    }
  });
});

describe('API and console off loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'console-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are refused without TLS, and served over HTTPS with a Secure __Host- cookie and HSTS when given a certificate', async () => {
    // 127.0.0.2 is loopback to the kernel but not to the hub's check: it stands for "another address".
    expect(() => new Hub({ dataDir: join(dir, 'plain'), apiHost: '127.0.0.2' })).toThrow(/not loopback; the API and console are served there only over TLS/);
    expect(() => new Hub({ dataDir: join(dir, 'half'), apiTlsCertFile: join(dir, 'x.pem') })).toThrow(/go together/);
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.2', '-addext', 'subjectAltName=IP:127.0.0.2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const fleet = new TestFleet({ apiHost: '127.0.0.2', apiTlsCertFile: cert, apiTlsKeyFile: key });
    await fleet.start();
    try {
      expect(fleet.endpoints.apiUrl).toMatch(/^https:\/\/127\.0\.0\.2:\d+$/);
      const res = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
        const u = new URL(`${fleet.endpoints.apiUrl}/v1/console/session`);
        const req = httpsRequest(u, { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json', 'x-planes-csrf': '1' } }, (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, headers: r.headers });
        });
        req.on('error', reject);
        req.end(JSON.stringify({ token: fleet.adminToken }));
      });
      expect(res.status).toBe(200);
      expect(String(res.headers['set-cookie'])).toMatch(/^__Host-planes_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    } finally {
      await fleet.destroy();
    }
  });
});
