import { request } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../common/src/errors.ts';
import { BODY_LIMITS, MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../hub/src/api/request-input.ts';
import { TestFleet } from './helpers/fleet.ts';
import { type BodyCase, bodyCases, type OpenApiDoc, Oracle, queryCases } from './helpers/openapi-cases.ts';

interface Reply {
  status: number;
  contentType: string;
  text: string;
}

/** The status each code may come with: the catalogue's, or a more specific 4xx for a request HTTP itself refuses. */
const STATUS_BY_CODE: Record<string, number[]> = {
  invalid_argument: [400, 413, 414, 415, 431],
  unauthenticated: [401],
  permission_denied: [403],
  not_found: [404],
  already_exists: [409],
  failed_precondition: [409],
  aborted: [409],
  deadline_exceeded: [408],
};

/** What is wrong with an answer to bad input, or undefined: a 4xx, JSON, exactly {error: {code, message, where?}}. */
function problem(r: Reply): string | undefined {
  if (r.status < 400 || r.status > 499) return `status ${r.status}: ${r.text.slice(0, 200)}`;
  if (!r.contentType.startsWith('application/json')) return `content-type ${r.contentType}: ${r.text.slice(0, 200)}`;
  let body: unknown;
  try {
    body = JSON.parse(r.text);
  } catch {
    return `not JSON: ${r.text.slice(0, 200)}`;
  }
  const e = (body as { error?: Record<string, unknown> }).error;
  const shaped =
    Object.keys(body as object).join() === 'error' &&
    e !== undefined &&
    Object.keys(e).every((k) => ['code', 'message', 'where'].includes(k)) &&
    Object.values<string>(ErrorCode).includes(e['code'] as string) &&
    typeof e['message'] === 'string' &&
    e['message'] !== '' &&
    (e['where'] === undefined || typeof e['where'] === 'string');
  if (!shaped || !e) return `not the documented shape: ${r.text.slice(0, 200)}`;
  if (!STATUS_BY_CODE[e['code'] as string]?.includes(r.status)) return `code ${String(e['code'])} with status ${r.status}`;
  if (e['code'] === 'invalid_argument' && e['where'] === undefined) return `an invalid_argument that does not say where: ${String(e['message'])}`;
  return undefined;
}

// A plane document as planes.yaml gives it, with something in every kind of nested object.
const DOC = {
  apiVersion: 'openclaw.dev/v1alpha1',
  kind: 'AgentsPlane',
  metadata: { name: 'strict' },
  spec: {
    infrastructure: { provider: 'local', defaults: { machineType: 'e2-small', diskSizeGb: 20 } },
    models: { tiers: { haiku: 'anthropic/claude-haiku-4-5' } },
    agents: [{ name: 's1', owner: 's1@example.com', tools: ['email'], budgetCap: 5, configOverrides: { agents: { defaults: {} } } }],
    policies: [{ match: { group: 'eng' }, spec: { modelTier: 'haiku', diskSizeGb: 30 } }],
    costs: { prices: { machineHourlyUsd: { 'e2-small': 0.02 }, modelPerMTokUsd: { 'anthropic/claude-haiku-4-5': { input: 1, output: 5 } } } },
  },
};
const AGENT_SETTINGS = { machineType: 'e2-small', modelTier: 'haiku', budgetCap: 5, tools: ['email'], channels: ['telegram'], configOverrides: { agents: {} }, groups: ['eng'], ou: '/Eng' };

/** A valid body for every route in the OpenAPI document that takes one: the walk gets one thing wrong at a time. */
const VALID: Record<string, unknown> = {
  'POST /v1/planes': { name: 'fresh', defaults: { diskSizeGb: 20 }, costs: { prices: { diskGbMonthUsd: 0.1 } } },
  'PATCH /v1/planes/{planeId}': { defaults: { machineType: 'e2-medium' }, egressPolicy: { default: 'open', allowedDomains: ['example.com'] } },
  'POST /v1/planes/{planeId}/agents': { name: 'fresh', ownerEmail: 'fresh@example.com', diskSizeGb: 20, ...AGENT_SETTINGS },
  'PATCH /v1/planes/{planeId}/agents/{agentId}': { diskSizeGb: 30, ...AGENT_SETTINGS, waitSeconds: 0 },
  'POST /v1/planes/{planeId}/agents/{agentId}/restart': { mode: 'gateway', waitSeconds: 0 },
  'POST /v1/planes/{planeId}/agents/{agentId}/pause': { waitSeconds: 0 },
  'POST /v1/planes/{planeId}/agents/{agentId}/resume': { waitSeconds: 0 },
  'POST /v1/planes/{planeId}/commands': { kind: 'ping', args: { a: 1 } },
  'POST /v1/planes/{planeId}/agents/{agentId}/sync': { databases: true, allowDeletes: false, waitSeconds: 0 },
  'POST /v1/planes/{planeId}/agents/{agentId}/backup': { waitSeconds: 0 },
  'POST /v1/planes/{planeId}/agents/{agentId}/restore': { at: '2026-01-01T00:00:00Z', waitSeconds: 0 },
  'POST /v1/planes/{planeId}/agents/{agentId}/clone': { name: 'fresh', ownerEmail: 'fresh@example.com', soul: '# Soul', ...AGENT_SETTINGS },
  'POST /v1/planes/{planeId}/heal': { name: 's1' },
  'PUT /v1/planes/{planeId}/agents/{agentId}/secrets/{name}': { value: 'v', encoding: 'utf8' },
  'POST /v1/planes/{planeId}/rotate-secrets': { agents: ['s1'] },
  'POST /v1/planes/{planeId}/plan': { document: DOC, prune: false },
  'POST /v1/planes/{planeId}/apply': { document: DOC, prune: false, fingerprint: '0'.repeat(32), waitSeconds: 0 },
  'POST /v1/planes/{planeId}/runs': { kind: 'sync', args: { databases: true }, agents: ['s1'], maxConcurrency: '50%', maxErrors: 0, timeoutSeconds: 10, waitSeconds: 0 },
  'POST /v1/planes/{planeId}/upgrade': { version: '2026.9.6', canary: 1, maxUnavailable: 1, agents: ['s1'], timeoutSeconds: 60 },
  'POST /v1/gcp/preflight': { project: 'proj-1', region: 'us-east4', zone: 'us-east4-b', image: 'agents-plane', agents: 3, machineType: 'e2-small', identity: 'hub@proj-1.iam.gserviceaccount.com' },
  // Well-formed, but no token the hub knows: the walk's requests never sign in.
  'POST /v1/console/session': { token: 'apt1.not-a-token' },
};

/** The body limit of each route, as docs/api.md states it. */
const bodyLimit = (path: string): number => (/\/(plan|apply)$/.test(path) ? BODY_LIMITS.planesDocument : path.endsWith('/clone') ? BODY_LIMITS.clone : MAX_BODY_BYTES);

// Every route the served OpenAPI document lists, fed every kind of bad input; the hub's tables must not change.
describe('strict REST input', () => {
  // The hub shares this process with thousands of requests: slow heartbeats and no self-healing, so a late
  // heartbeat on a loaded machine does not make the hub change anything on its own.
  const fleet = new TestFleet({ heartbeatIntervalMs: 2000, selfHealing: false });
  const oracle = new Oracle();
  let doc: OpenApiDoc;
  const values: Record<string, string> = { planeId: 'strict', agentId: 's1', name: 'K1' };

  const send = (method: string, path: string, body?: BodyCase, headers: Record<string, string> = {}): Promise<Reply> =>
    new Promise((resolve) => {
      const u = new URL(fleet.endpoints.apiUrl);
      const ct = body?.contentType ?? 'application/json';
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          method,
          path,
          headers: {
            authorization: `Bearer ${fleet.adminToken}`,
            ...(body?.text !== undefined ? { 'content-length': Buffer.byteLength(body.text), ...(ct ? { 'content-type': ct } : {}) } : {}),
            ...headers,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text }));
        },
      );
      // No answer at all (a reset connection) is a wrong answer too.
      req.on('error', (err) => resolve({ status: 0, contentType: '', text: `no answer: ${err.message}` }));
      req.end(body?.text);
    });

  // Every table but those the agent's heartbeats and the cost meter write on their own. Refusals the audit log
  // records on purpose (a secret.set with a bad name, outcome "failed") are a record of the refusal, not a change,
  // and neither is the hub noting an agent's health colour (agent.health).
  const VOLATILE = new Set(['heartbeats', 'cost_ledger', 'usage_cursors', 'infra_cursors', 'sqlite_sequence']);
  const snapshot = (): Map<string, string[]> => {
    const db = fleet.hub.context.db;
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name).filter((t) => !VOLATILE.has(t));
    return new Map(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"${t === 'audit_events' ? " WHERE outcome = 'ok' AND action != 'agent.health'" : ''}`).all().map((row) => JSON.stringify(row))]));
  };
  /** The tables that differ, each with its first new or changed row. */
  const changed = (a: Map<string, string[]>, b: Map<string, string[]>): string[] =>
    [...new Set([...a.keys(), ...b.keys()])].flatMap((t) => {
      const before = new Set(a.get(t) ?? []);
      const after = b.get(t) ?? [];
      if (after.length === before.size && after.every((r) => before.has(r))) return [];
      return [`${t} ${(after.find((r) => !before.has(r)) ?? 'lost a row').slice(0, 300)}`];
    });
  const failures: string[] = [];
  let state = new Map<string, string[]>();
  let sent = 0;
  /** Sends one bad request; records a wrong answer or a change of state (and carries on from the new state). */
  const probe = async (label: string, method: string, path: string, body?: BodyCase, o: { headers?: Record<string, string>; status?: number } = {}): Promise<Reply> => {
    const r = await send(method, path, body, o.headers);
    sent++;
    const p = problem(r) ?? (o.status !== undefined && r.status !== o.status ? `status ${r.status}, not ${o.status}: ${r.text.slice(0, 200)}` : undefined);
    if (p) failures.push(`${label}: ${p}`);
    const now = snapshot();
    const tables = changed(state, now);
    if (tables.length > 0) {
      failures.push(`${label}: ${r.status}, and changed ${tables.join(', ')}`);
      state = now;
    }
    return r;
  };
  /** Waits until the setup's commands are done and nothing changes for a second. */
  const settle = async (): Promise<void> => {
    let last = snapshot();
    for (let stable = 0, i = 0; stable < 4 && i < 120; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const now = snapshot();
      stable = changed(last, now).length === 0 ? stable + 1 : 0;
      last = now;
    }
    state = last;
  };

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane('strict');
    await fleet.addAgent('strict', 's1');
    await fleet.waitFor('strict', 's1', (a) => a.health.color === 'green');
    expect((await fleet.api('PUT', '/v1/planes/strict/agents/s1/secrets/K1', { value: 'v' })).status).toBe(200);
    const run = await fleet.api<{ run: { id: string; state: string; targets: Array<{ commands: Array<{ id: string }> }> } }>('POST', '/v1/planes/strict/runs', { kind: 'ping', waitSeconds: 30 });
    expect(run.body.run.state).toBe('succeeded');
    values['runId'] = run.body.run.id;
    values['commandId'] = run.body.run.targets[0]?.commands[0]?.id ?? '';
    doc = (await fleet.api<OpenApiDoc>('GET', '/v1/openapi.json')).body;
    await settle();
  });
  afterAll(() => fleet.destroy());

  const operations = (): Array<{ key: string; method: string; path: string; op: OpenApiDoc['paths'][string][string] }> =>
    Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path, op })));
  const concrete = (path: string, override: Record<string, string> = {}): string => path.replace(/\{(\w+)\}/g, (_m, p: string) => override[p] ?? encodeURIComponent(values[p] ?? 'x'));

  // The symptoms as they were reported, each by name; the walk below covers them and everything like them.
  it('refuses what it used to take or fail on: infinite limits, deep bodies, coerced types, missing bodies', async () => {
    const expectRefused = async (method: string, path: string, body: BodyCase | undefined, where: string, o: { status?: number; headers?: Record<string, string> } = {}): Promise<void> => {
      const label = `${method} ${path.slice(0, 80)} ${body?.label ?? ''}`;
      const r = await probe(label, method, path, body, { status: 400, ...o });
      const said = r.status >= 400 && r.status < 500 ? (JSON.parse(r.text) as { error?: { where?: string } }).error?.where : undefined;
      if (said !== where) failures.push(`${label}: where ${String(said)}, not ${where}`);
    };
    const json = (v: unknown): BodyCase => ({ label: JSON.stringify(v).slice(0, 60), text: JSON.stringify(v) });
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    for (const path of ['/v1/audit', '/v1/planes/strict/runs']) for (const v of ['1e999', 'Infinity']) await expectRefused('GET', `${path}?limit=${v}`, undefined, 'querystring.limit');
    await expectRefused('POST', '/v1/planes/strict/agents', { label: 'deep configOverrides', text: `{"name":"deep","ownerEmail":"d@example.com","configOverrides":${deep}}` }, 'body');
    await expectRefused('POST', '/v1/planes/strict/commands', { label: 'deep args', text: `{"kind":"ping","args":${deep}}` }, 'body');
    await expectRefused('POST', '/v1/planes', json({ name: true }), 'body.name');
    await expectRefused('POST', '/v1/planes/strict/agents', json({ name: 'b1', ownerEmail: 'b@example.com', budgetCap: true }), 'body.budgetCap');
    await expectRefused('POST', '/v1/planes/strict/agents', json({ name: 'b2', ownerEmail: 'b@example.com', tools: 'x' }), 'body.tools');
    await expectRefused('PUT', '/v1/planes/strict/agents/s1/secrets/K2', json({ value: 12345 }), 'body.value');
    for (const w of [true, null]) await expectRefused('POST', '/v1/planes/strict/agents/s1/pause', json({ waitSeconds: w }), 'body.waitSeconds');
    for (const r of ['agents/s1/restart', 'agents/s1/pause', 'agents/s1/resume', 'agents/s1/sync', 'agents/s1/backup', 'agents/s1/restore', 'heal', 'rotate-secrets']) {
      await expectRefused('POST', `/v1/planes/strict/${r}`, undefined, 'body');
    }
    for (const q of ['lines=Infinity', 'lines=0&maxSeconds=Infinity']) await expectRefused('GET', `/v1/planes/strict/agents/s1/logs?${q}`, undefined, q.includes('max') ? 'querystring.maxSeconds' : 'querystring.lines');
    await expectRefused('GET', '/v1/planes/%E0%A4%A', undefined, 'path');
    await expectRefused('GET', `/v1/planes/${'a'.repeat(200)}`, undefined, 'path', { status: 414 });
    await expectRefused('GET', '/v1/planes', undefined, 'headers', { status: 431, headers: { 'x-big': 'a'.repeat(20_000) } });
    expect(failures).toEqual([]);
  });

  it('starts from bodies the served schemas accept, and the hub accepts what they accept', async () => {
    const withBody = operations().filter((o) => o.op.requestBody);
    expect(withBody.map((o) => o.key).sort()).toEqual(Object.keys(VALID).sort());
    for (const o of withBody) expect(oracle.valid(o.op.requestBody?.content['application/json']?.schema ?? {}, VALID[o.key]), o.key).toBe(true);
    // The plan route changes nothing, so it can show the other side: valid input, and nesting up to the limit, pass.
    const nested = (depth: number): unknown => (depth <= 1 ? {} : { a: nested(depth - 1) });
    const plan = (overrides: unknown): Promise<{ status: number }> =>
      fleet.api('POST', '/v1/planes/strict/plan', { document: { ...DOC, spec: { ...DOC.spec, agents: [{ ...DOC.spec.agents[0], configOverrides: overrides }] } } });
    // body > document > spec > agents > [0] > configOverrides: 6 levels before what configOverrides holds.
    expect((await plan(nested(MAX_JSON_DEPTH - 5))).status).toBe(200);
    expect((await plan(nested(MAX_JSON_DEPTH - 4))).status).toBe(400);
    expect(changed(state, snapshot())).toEqual([]);
  });

  it('answers every bad input on every route with a 4xx in the documented shape, and changes nothing', async () => {
    const visited = new Set<string>();
    for (const { key, method, path, op } of operations()) {
      visited.add(key);
      const url = concrete(path);
      const bodySchema = op.requestBody?.content['application/json']?.schema;
      if (bodySchema && VALID[key] === undefined) {
        failures.push(`${key}: takes a body, and VALID has none to start from`);
        continue;
      }
      const valid: BodyCase | undefined = bodySchema ? { label: 'valid', text: JSON.stringify(VALID[key]) } : undefined;

      for (const p of op.parameters?.filter((x) => x.in === 'path') ?? []) {
        for (const v of ['Not_A_Name!', 'a'.repeat(101), '%E0%A4%A']) await probe(`${key} ${p.name}=${v.slice(0, 20)}`, method, concrete(path, { [p.name]: v === '%E0%A4%A' ? v : encodeURIComponent(v) }), valid);
      }
      const query = op.parameters?.filter((x) => x.in === 'query') ?? [];
      for (const q of queryCases(query, oracle)) await probe(`${key} ?${q.label}`, method, `${url}?${q.query}`, valid);

      if (bodySchema) {
        for (const c of bodyCases(bodySchema, VALID[key], oracle, MAX_JSON_DEPTH)) await probe(`${key} ${c.label}`, method, url, c);
        const limit = bodyLimit(path);
        const padded = (size: number): BodyCase => ({ label: `a body of ${size} bytes`, text: `{"pad":"${'a'.repeat(size - 10)}"}` });
        await probe(`${key} body over the limit`, method, url, padded(limit + 1), { status: 413 });
        await probe(`${key} body at the limit, with an unknown field`, method, url, padded(limit), { status: 400 });
      } else if (method !== 'GET') {
        for (const text of ['{"x":1}', 'null', '[]', '"x"', '']) await probe(`${key} takes no fields, given ${JSON.stringify(text)}`, method, url, { label: text, text });
        await probe(`${key} given text/plain`, method, url, { label: 'text', text: 'x', contentType: 'text/plain' });
      }
    }
    expect([...visited].sort()).toEqual(operations().map((o) => o.key).sort());
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(4000);
  });

  it('answers what the HTTP layer refuses in the same shape: long headers and URLs, bad requests, unknown routes', async () => {
    await probe('header over 16 KiB', 'GET', '/v1/planes', undefined, { headers: { 'x-big': 'a'.repeat(20_000) }, status: 431 });
    await probe('URL over 16 KiB', 'GET', `/v1/planes?${'a'.repeat(20_000)}`, undefined, { status: 431 });
    await probe('bad %-escape in the path', 'GET', '/v1/planes/%E0%A4%A/agents', undefined, { status: 400 });
    await probe('bad %-escape in the query', 'GET', '/v1/audit?actor=%E0%A4%A', undefined, { status: 400 });
    await probe('unknown route', 'GET', '/v1/nothing', undefined, { status: 404 });
    await probe('unknown method on a known path', 'OPTIONS', '/v1/planes', undefined, { status: 404 });
    const raw = await new Promise<string>((resolve) => {
      const u = new URL(fleet.endpoints.apiUrl);
      const s = connect(Number(u.port), u.hostname, () => s.write('BREW /v1/planes HTCPCP/1.0\r\n\r\n'));
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('end', () => resolve(text));
      s.on('error', (err) => resolve(`no answer: ${err.message}`));
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    expect(problem({ status, contentType: /content-type: ([^\r]+)/i.exec(head)?.[1] ?? '', text: body })).toBeUndefined();
    expect(failures).toEqual([]);
    expect(changed(state, snapshot())).toEqual([]);
  });

  it('docs/api.md states the limits, and which routes the OpenAPI document leaves out', () => {
    const md = readFileSync('docs/api.md', 'utf8');
    expect(md).toContain(`nest more than ${MAX_JSON_DEPTH} deep`);
    for (const size of ['256 KiB', '4 MiB', '1 MiB']) expect(md).toContain(size);
    expect([MAX_BODY_BYTES, BODY_LIMITS.planesDocument, BODY_LIMITS.clone]).toEqual([256 * 1024, 4 * 1024 * 1024, 1024 * 1024]);
    const rows = md.split('\n').flatMap((l) => {
      const m = /^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|[^|]*\|[^|]*\| (.*) \|$/.exec(l);
      return m ? [{ key: `${m[1]} ${m[2]}`, outside: /not in the OpenAPI document/.test(m[3] ?? '') }] : [];
    });
    const inDoc = new Set(operations().map((o) => o.key));
    expect(rows.length).toBeGreaterThan(30);
    expect(rows.filter((r) => r.outside === inDoc.has(r.key)).map((r) => `${r.key}: ${r.outside ? 'says it is not in the OpenAPI document, but is' : 'is not in the OpenAPI document, and does not say so'}`)).toEqual([]);
  });
});
