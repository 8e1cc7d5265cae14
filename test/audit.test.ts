import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, TestFleet } from './helpers/fleet.ts';

// The audit log is a hash chain in the hub's SQLite; tampering goes through a second, real connection.
describe('audit log', () => {
  const fleet = new TestFleet({ localRuntime: 'placeholder' });
  const plane = 'audited';
  const planes = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['bin/planes.js', ...args, '--json'], { env: fleet.cliEnv() });

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    await fleet.addAgent(plane, 'au1');
    await fleet.waitFor(plane, 'au1', (x) => x.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('lists who did what, filtered by agent and time, and verifies intact', async () => {
    const r = await planes('audit', '--plane', plane, '--name', 'au1', '--since', new Date(Date.now() - 60_000).toISOString());
    expect(r.code, r.stderr).toBe(0);
    const events = (JSON.parse(r.stdout) as { events: { action: string; agent: string; actor: string; outcome: string; hash: string }[] }).events;
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['agent.provision', 'agent.enroll', 'secret.generate']));
    expect(events.every((e) => e.agent === 'au1' && /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    const v = await planes('audit', 'verify');
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, problems: [] });
    const bad = await planes('audit', '--since', 'yesterday-ish');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since yesterday-ish: not a date\/time/);
  });

  it('filters by actor, by token name or as recorded, in the CLI and the REST API', async () => {
    const ops = fleet.hub.context.apiTokens.create('ops', 'admin').token;
    expect((await fleet.api('POST', `/v1/planes/${plane}/agents/au1/pause`, { waitSeconds: 10 }, ops)).status).toBe(202);
    expect((await fleet.api('POST', `/v1/planes/${plane}/agents/au1/resume`, { waitSeconds: 10 }, ops)).status).toBe(202);
    const r = await planes('audit', '--actor', 'ops');
    expect(r.code, r.stderr).toBe(0);
    const events = (JSON.parse(r.stdout) as { events: { action: string; actor: string }[] }).events;
    expect(events.map((e) => [e.actor, e.action])).toEqual([
      ['token:ops', 'command.resume'],
      ['token:ops', 'command.pause'],
    ]);
    const asRecorded = await fleet.api<{ events: { actor: string }[] }>('GET', '/v1/audit?actor=token:ops');
    expect(asRecorded.body.events).toHaveLength(2);
    const admin = await fleet.api<{ events: { actor: string; action: string }[] }>('GET', '/v1/audit?actor=admin');
    expect(admin.body.events.map((e) => e.action)).toEqual(expect.arrayContaining(['plane.create', 'agent.provision']));
    expect(admin.body.events.every((e) => e.actor === 'token:admin')).toBe(true);
    expect((await fleet.api<{ events: unknown[] }>('GET', '/v1/audit?actor=nobody')).body.events).toEqual([]);
    const table = await run(process.execPath, ['bin/planes.js', 'audit', '--actor', 'ops'], { env: fleet.cliEnv() });
    expect(table.stdout).toMatch(/^#\s+TIME\s+ACTOR\s+ACTION/m);
    expect(table.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('refuses updates and deletes, and verify finds a row changed or removed behind its back', async () => {
    const db = new Database(join(fleet.dataDir, 'hub.db'));
    try {
      expect(() => db.prepare("UPDATE audit_events SET outcome = 'ok' WHERE id = 1").run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM audit_events WHERE id = 1').run()).toThrow(/append-only/);
      // Someone with the database file drops the guards and edits history.
      db.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete');
      db.prepare(`UPDATE audit_events SET actor = 'someone-else' WHERE id = 2`).run();
      const changed = await planes('audit', 'verify');
      expect(changed.code).toBe(1);
      expect((JSON.parse(changed.stdout) as { problems: { id: number; problem: string }[] }).problems).toEqual([{ id: 2, problem: 'its content does not match its hash (the row was changed)' }]);
      db.prepare('DELETE FROM audit_events WHERE id = 3').run();
      const removed = JSON.parse((await planes('audit', 'verify')).stdout) as { ok: boolean; problems: { id: number; problem: string }[] };
      expect(removed.ok).toBe(false);
      expect(removed.problems).toEqual(
        expect.arrayContaining([
          { id: 4, problem: 'rows 3..3 are missing' },
          { id: 4, problem: 'does not link to the row before it (a row was removed or changed)' },
        ]),
      );
    } finally {
      db.close();
    }
  });
});
