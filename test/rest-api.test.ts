import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './helpers/fleet.ts';

interface ErrorBody {
  error: { code: string; message: string; where?: string };
}

describe('REST API', () => {
  const fleet = new TestFleet();
  let viewer = '';

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane('rest');
    await fleet.addAgent('rest', 'r1');
    await fleet.waitFor('rest', 'r1', (a) => a.health.color === 'green');
    const out = join(fleet.dataDir, 'viewer.token');
    execFileSync(process.execPath, ['bin/hub.js', 'token', 'create', '--data-dir', fleet.dataDir, '--name', 'dash', '--role', 'viewer', '--out', out]);
    viewer = readFileSync(out, 'utf8').trim();
  });
  afterAll(() => fleet.destroy());

  /** A concrete path for a route pattern, pointing at things that exist. */
  const concrete = (url: string): string =>
    url.replace(':planeId', 'rest').replace(':agentId', 'r1').replace(':commandId', 'cmd_missing') + (url.endsWith('/logs') ? '?lines=1' : '');

  it('declares a role on every /v1 route, and admin on every route that changes anything', () => {
    const v1 = fleet.hub.apiRoutes.filter((r) => r.url.startsWith('/v1/') && r.url !== '/v1/openapi.json');
    expect(v1.length).toBeGreaterThanOrEqual(10);
    for (const r of v1) {
      expect(r.role, `${r.method} ${r.url}`).toBeDefined();
      if (r.method !== 'GET') expect(r.role, `${r.method} ${r.url}`).toBe('admin');
    }
  });

  it('refuses a viewer token on every mutating route with 403, and no token with 401', async () => {
    const mutating = fleet.hub.apiRoutes.filter((r) => r.url.startsWith('/v1/') && r.method !== 'GET');
    expect(mutating.length).toBeGreaterThanOrEqual(6);
    for (const r of mutating) {
      const asViewer = await fleet.api<ErrorBody>(r.method, concrete(r.url), r.method === 'DELETE' ? undefined : {}, viewer);
      expect(asViewer.status, `${r.method} ${r.url}`).toBe(403);
      expect(asViewer.body.error.code).toBe('permission_denied');
      const anonymous = await fleet.api<ErrorBody>(r.method, concrete(r.url), undefined, '');
      expect(anonymous.status, `${r.method} ${r.url}`).toBe(401);
    }
    // Nothing changed: the agent is still there.
    expect((await fleet.api('GET', '/v1/planes/rest/agents/r1', undefined, viewer)).status).toBe(200);
  });

  it('lets a viewer read, except the admin-only audit log', async () => {
    const reads = fleet.hub.apiRoutes.filter((x) => x.method === 'GET' && x.url.startsWith('/v1/') && !x.url.includes(':commandId'));
    expect(reads.filter((r) => r.role === 'admin').map((r) => r.url)).toEqual(['/v1/audit']);
    for (const r of reads) {
      expect((await fleet.api('GET', concrete(r.url), undefined, viewer)).status, r.url).toBe(r.role === 'admin' ? 403 : 200);
      expect((await fleet.api('GET', concrete(r.url))).status, r.url).toBe(200);
    }
  });

  it('answers malformed bodies with 400 and a stable code naming the field', async () => {
    const bad = await fleet.api<ErrorBody>('POST', '/v1/planes', undefined, undefined, '{"name": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_argument');
    expect(bad.body.error.message).toMatch(/not valid JSON/);

    const badName = await fleet.api<ErrorBody>('POST', '/v1/planes', { name: 'Not A Name!' });
    expect(badName.status).toBe(400);
    expect(badName.body.error.where).toBe('body.name');

    const unknownField = await fleet.api<ErrorBody>('POST', '/v1/planes/rest/agents', { name: 'x1', ownerEmail: 'x@example.com', colour: 'blue' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.where).toBe('body.colour');
    expect(unknownField.body.error.message).toMatch(/not a known field/);

    const badEmail = await fleet.api<ErrorBody>('POST', '/v1/planes/rest/agents', { name: 'x1', ownerEmail: 'nope' });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.error.where).toBe('body.ownerEmail');

    const dup = await fleet.api<ErrorBody>('POST', '/v1/planes', { name: 'rest' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('already_exists');
  });

  it('answers unknown planes, agents and routes with 404', async () => {
    for (const path of ['/v1/planes/nope', '/v1/planes/nope/agents', '/v1/planes/rest/agents/nope', '/v1/planes/rest/agents/r1/commands/cmd_missing', '/v1/nothing']) {
      const r = await fleet.api<ErrorBody>('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    const del = await fleet.api<ErrorBody>('DELETE', '/v1/planes/rest/agents/nope');
    expect(del.status).toBe(404);
  });

  it('refuses to delete a plane that still has agents unless forced', async () => {
    const r = await fleet.api<ErrorBody>('DELETE', '/v1/planes/rest');
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('failed_precondition');
  });

  it('serves an OpenAPI document that lists exactly the /v1 routes the server has', async () => {
    const doc = await fleet.api<{ openapi: string; paths: Record<string, Record<string, unknown>> }>('GET', '/v1/openapi.json', undefined, '');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.body.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    const served = fleet.hub.apiRoutes
      .filter((r) => r.url.startsWith('/v1/') && r.url !== '/v1/openapi.json')
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    expect(documented).toEqual(served);
  });
});

describe('bootstrap admin token', () => {
  it('revokes the previous admin token when admin.token is lost and a new one is written', async () => {
    const fleet = new TestFleet();
    await fleet.start();
    const old = fleet.adminToken;
    const { rmSync } = await import('node:fs');
    rmSync(fleet.endpoints.adminTokenFile);
    await fleet.restartHub();
    expect(fleet.adminToken).not.toBe(old);
    expect((await fleet.api('GET', '/v1/planes', undefined, old)).status).toBe(401);
    expect((await fleet.api('GET', '/v1/planes')).status).toBe(200);
    await fleet.destroy();
  });
});
