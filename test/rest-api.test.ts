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
    // Tokens come from the hub binary, as an operator makes them (every route's roles: rbac.test.ts).
    const out = join(fleet.dataDir, 'viewer.token');
    execFileSync(process.execPath, ['bin/hub.js', 'token', 'create', '--data-dir', fleet.dataDir, '--name', 'dash', '--role', 'viewer', '--out', out]);
    viewer = readFileSync(out, 'utf8').trim();
  });

  afterAll(() => fleet.destroy());

  it('takes tokens made by the hub binary', async () => {
    expect((await fleet.api('GET', '/v1/planes/rest/agents/r1', undefined, viewer)).status).toBe(200);
    expect((await fleet.api('DELETE', '/v1/planes/rest/agents/r1', undefined, viewer)).status).toBe(403);
  });

  it("PATCHes a plane: a model table change reconfigures the agents it reaches; provider and region stay", async () => {
    const r = await fleet.api<{ plane: { spec: { defaults: { machineType: string }; models: unknown } }; reconfigured: Array<{ agent: string; commandId: string }> }>('PATCH', '/v1/planes/rest', {
      defaults: { machineType: 'e2-medium' },
      models: { tiers: { sonnet: 'anthropic/claude-sonnet-4-5' } },
    });
    expect(r.status).toBe(200);
    expect(r.body.plane.spec.defaults.machineType).toBe('e2-medium');
    expect(r.body.reconfigured.map((x) => x.agent)).toEqual(['r1']);
    const cmd = await fleet.api<{ state: string; args: { spec: { model: string } } }>('GET', `/v1/planes/rest/agents/r1/commands/${r.body.reconfigured[0]?.commandId ?? ''}?waitSeconds=20`);
    expect(cmd.body).toMatchObject({ state: 'succeeded', args: { spec: { model: 'anthropic/claude-sonnet-4-5' } } });
    // Only the model table reaches running agents; the new default is for agents made later.
    expect((await fleet.agent('rest', 'r1')) as unknown).toMatchObject({ spec: { machineType: 'e2-small' } });
    const again = await fleet.api<{ reconfigured: unknown[] }>('PATCH', '/v1/planes/rest', { models: { tiers: { sonnet: 'anthropic/claude-sonnet-4-5' } } });
    expect(again.body.reconfigured).toEqual([]);
    const region = await fleet.api<ErrorBody>('PATCH', '/v1/planes/rest', { region: 'us-east4' });
    expect(region.status).toBe(400);
    expect(region.body.error).toMatchObject({ where: 'body.region', message: 'body.region is not a known field' });
    expect((await fleet.api<ErrorBody>('PATCH', '/v1/planes/rest', {})).status).toBe(400);
    // Giving one default leaves the others as they are.
    const disk = await fleet.api<{ plane: { spec: { defaults: Record<string, unknown> } } }>('PATCH', '/v1/planes/rest', { defaults: { diskSizeGb: 40 } });
    expect(disk.body.plane.spec.defaults).toEqual({ machineType: 'e2-medium', diskSizeGb: 40 });
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
