import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive, run, TestFleet, waitUntil } from './helpers/fleet.ts';

// One hub, three real agentd processes over gRPC/TLS on loopback.
describe('fleet lifecycle', () => {
  const fleet = new TestFleet({ logsTailDeadlineMs: 3000 });
  const plane = 'lifecycle';

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    await Promise.all(['a1', 'a2', 'a3'].map((n) => fleet.addAgent(plane, n)));
  });
  afterAll(() => fleet.destroy());

  it('enrols, connects and turns green, with the placeholder runtime named plainly', async () => {
    for (const n of ['a1', 'a2', 'a3']) {
      const a = await fleet.waitFor(plane, n, (x) => x.health.color === 'green');
      expect(a.connected).toBe(true);
      expect(a.heartbeat?.heartbeat.gateway?.runtime).toBe('placeholder');
      expect(a.health.reason).toMatch(/placeholder/);
    }
    // The one-time bundle is spent and deleted; the credential is 0600.
    expect(existsSync(`${fleet.agentDir(plane, 'a1')}/enrollment.bundle`)).toBe(false);
  });

  it('turns red within 3 heartbeat intervals after kill -9 of agentd, and green again after a restart', async () => {
    await fleet.waitFor(plane, 'a2', (x) => x.health.color === 'green');
    const pid = fleet.agentdPid(plane, 'a2');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const red = await fleet.waitFor(plane, 'a2', (x) => x.health.color === 'red', 10_000);
    expect(Date.now() - killedAt).toBeLessThan(3 * fleet.heartbeatIntervalMs + 250);
    expect(red.health.reason).toMatch(/disconnected|no heartbeat/);
    // The orphaned placeholder child notices its supervisor is gone and exits.
    const r = await fleet.api<{ mode: string }>('POST', `/v1/planes/${plane}/agents/a2/restart`, {});
    expect(r.status).toBe(202);
    expect(r.body.mode).toBe('instance');
    const green = await fleet.waitFor(plane, 'a2', (x) => x.health.color === 'green');
    expect(fleet.agentdPid(plane, 'a2')).not.toBe(pid);
    expect(green.connected).toBe(true);
  });

  it('restarts the gateway through a command when the agent is connected', async () => {
    const before = await fleet.waitFor(plane, 'a1', (x) => x.health.color === 'green');
    const r = await fleet.api<{ mode: string; command: { state: string; output: { restartCount: number } } }>('POST', `/v1/planes/${plane}/agents/a1/restart`, { waitSeconds: 30 });
    expect(r.status).toBe(202);
    expect(r.body.mode).toBe('gateway');
    expect(r.body.command.state).toBe('succeeded');
    expect(r.body.command.output.restartCount).toBe((before.heartbeat?.heartbeat.gateway?.restartCount ?? 0) + 1);
    const after = await fleet.waitFor(plane, 'a1', (x) => x.health.color === 'green' && (x.heartbeat?.heartbeat.gateway?.restartCount ?? 0) > 0);
    expect(after.heartbeat?.heartbeat.gateway?.pid).not.toBe(before.heartbeat?.heartbeat.gateway?.pid);
  });

  it('updates an agent: the new spec reaches agentd as a reconfigure and is applied once', async () => {
    await fleet.waitFor(plane, 'a3', (x) => x.health.color === 'green');
    const r = await fleet.api<{ agent: { spec: { tools: string[]; modelTier: string } }; command: { state: string; output: { changed: boolean } } }>('PATCH', `/v1/planes/${plane}/agents/a3`, {
      tools: ['exec', 'web'],
      modelTier: 'opus',
      waitSeconds: 30,
    });
    expect(r.status).toBe(200);
    expect(r.body.agent.spec).toMatchObject({ tools: ['exec', 'web'], modelTier: 'opus' });
    expect(r.body.command).toMatchObject({ state: 'succeeded', output: { changed: true } });
    const same = await fleet.api<{ command: null }>('PATCH', `/v1/planes/${plane}/agents/a3`, { tools: ['exec', 'web'] });
    expect(same.body.command).toBeNull();
    const bad = await fleet.api<{ error: { where: string } }>('PATCH', `/v1/planes/${plane}/agents/a3`, {});
    expect(bad.status).toBe(400);
    await fleet.waitFor(plane, 'a3', (x) => x.health.color === 'green');
  });

  it('pauses (yellow, gateway stopped, agentd still reporting) and resumes to green', async () => {
    await fleet.waitFor(plane, 'a3', (x) => x.health.color === 'green');
    const p = await fleet.api<{ command: { state: string } }>('POST', `/v1/planes/${plane}/agents/a3/pause`, { waitSeconds: 30 });
    expect(p.body.command.state).toBe('succeeded');
    const paused = await fleet.waitFor(plane, 'a3', (x) => x.health.reason.startsWith('paused'));
    expect(paused.health.color).toBe('yellow');
    expect(paused.connected).toBe(true);
    const r = await fleet.api<{ command: { state: string } }>('POST', `/v1/planes/${plane}/agents/a3/resume`, { waitSeconds: 30 });
    expect(r.body.command.state).toBe('succeeded');
    await fleet.waitFor(plane, 'a3', (x) => x.health.color === 'green');
  });

  it('survives a hub restart: every agent reconnects and the state is still there', async () => {
    const before = await Promise.all(['a1', 'a2', 'a3'].map((n) => fleet.waitFor(plane, n, (x) => x.health.color === 'green')));
    await fleet.restartHub();
    for (const [i, n] of ['a1', 'a2', 'a3'].entries()) {
      const a = await fleet.waitFor(plane, n, (x) => x.health.color === 'green');
      expect(a.id).toBe(before[i]?.id);
      // Same agentd process (same boot), new stream.
      expect(a.bootId).toBe(before[i]?.bootId);
    }
    const planes = await fleet.api<{ planes: Array<{ name: string; agentCount: number }> }>('GET', '/v1/planes');
    expect(planes.body.planes).toEqual([expect.objectContaining({ name: plane, agentCount: 3 })]);
  });

  it('answers agentd status and logs on its 0600 operator socket', async () => {
    const { statSync } = await import('node:fs');
    const sock = `${fleet.agentDir(plane, 'a1')}/state/agentd.sock`;
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const json = await run(process.execPath, ['bin/agentd.js', 'status', '--json', '--socket', sock]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ plane, agent: 'a1', hub: { connection: 'connected' }, gateway: { runtime: 'placeholder', state: 'GATEWAY_STATE_RUNNING' } });
    const human = await run(process.execPath, ['bin/agentd.js', 'status', '--config', `${fleet.agentDir(plane, 'a1')}/agentd.json`]);
    expect(human.stdout).toMatch(/^hub\s+connected/m);
    const logs = await run(process.execPath, ['bin/agentd.js', 'logs', '--lines', '3', '--socket', sock]);
    expect(logs.stdout.trim().split('\n')).toHaveLength(3);
    const down = await run(process.execPath, ['bin/agentd.js', 'status', '--socket', `${fleet.dataDir}/nope.sock`]);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/is agentd running\?/);
  });

  it('prints a whole plane\'s logs, each line tagged with its agent and merged by time; an agent that is down is named and the others go on', async () => {
    const planes = (...args: string[]): ReturnType<typeof run> => run(process.execPath, ['bin/planes.js', ...args], { env: fleet.cliEnv() });
    type Line = { agent: string; atMs: number; source: string; text: string; error?: string };
    const parse = (stdout: string): Line[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    for (const n of ['a1', 'a2', 'a3']) await fleet.waitFor(plane, n, (x) => x.health.color === 'green');

    const all = await planes('logs', '--plane', plane, '--lines', '5', '--json');
    expect(all.code, all.stderr).toBe(0);
    const lines = parse(all.stdout);
    for (const n of ['a1', 'a2', 'a3']) expect(lines.filter((l) => l.agent === n).length, n).toBe(5);
    expect(lines.map((l) => l.atMs)).toEqual(lines.map((l) => l.atMs).sort((a, b) => a - b));
    const human = await planes('logs', '--plane', plane, '--lines', '1');
    expect(human.stdout).toMatch(/^\S+Z a2 \S+\s+\S/m);

    // One agent wedged (stopped, its connection still open): the tail is cut off for it after the deadline.
    const a2 = fleet.agentdPid(plane, 'a2');
    process.kill(a2, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const wedged = await planes('logs', '--plane', plane, '--lines', '2');
      expect(wedged.code).toBe(1);
      expect(wedged.stderr).toMatch(/^planes: a2: no answer within 3 s/m);
      expect(wedged.stdout).toMatch(/ a1 /);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    } finally {
      process.kill(a2, 'SIGCONT');
    }

    // One agent down: it is named on stderr, exit 1, and the others still answer.
    process.kill(fleet.agentdPid(plane, 'a2'), 'SIGKILL');
    await fleet.waitFor(plane, 'a2', (x) => !x.connected, 10_000);
    const partial = await planes('logs', '--plane', plane, '--lines', '2');
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/^planes: a2: not connected/m);
    expect(partial.stdout).toMatch(/ a1 /);
    expect(partial.stdout).toMatch(/ a3 /);
    expect(partial.stdout).not.toMatch(/ a2 /);
    expect((await planes('logs', '--plane', 'ghost')).code).toBe(3);

    // Follow: new lines from every connected agent until interrupted, then each follow is stopped at its agent.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['bin/planes.js', 'logs', '--plane', plane, '--lines', '0', '--follow', '--json'], { env: fleet.cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const started = Date.now();
    await waitUntil(() => ['a1', 'a3'].every((n) => fleet.hub.context.commands.listFor(fleet.hub.context.agents.get(plane, n).id, 5).some((c) => c.kind === 'logs' && c.createdAt >= started - 1000 && (c.state === 'delivered' || c.state === 'accepted'))), 10_000, 'both follows delivered');
    await new Promise((r) => setTimeout(r, 500));
    for (const n of ['a1', 'a3']) expect((await fleet.api('POST', `/v1/planes/${plane}/agents/${n}/restart`, { waitSeconds: 30 })).status).toBe(202);
    await waitUntil(() => out.includes('"agent":"a1"') && out.includes('"agent":"a3"'), 15_000, 'followed lines from a1 and a3');
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
    for (const n of ['a1', 'a3']) {
      const id = fleet.hub.context.agents.get(plane, n).id;
      await waitUntil(() => fleet.hub.context.commands.listFor(id, 20).some((c) => c.kind === 'logs-stop' && c.state === 'succeeded'), 10_000, `logs-stop on ${n}`);
    }

    expect((await fleet.api('POST', `/v1/planes/${plane}/agents/a2/restart`, {})).status).toBe(202);
    await fleet.waitFor(plane, 'a2', (x) => x.health.color === 'green');
  });

  it('remove-agent stops the process, deletes its directory, credential, brain and data key, and the hub forgets it', async () => {
    const pid = fleet.agentdPid(plane, 'a3');
    const dir = fleet.agentDir(plane, 'a3');
    const brain = join(fleet.dataDir, 'bucket', 'planes', plane, 'agents', 'a3');
    await waitUntil(() => existsSync(join(brain, 'HEAD')), 10_000, 'the new agent to push its brain');
    expect((await fleet.hub.context.secrets.list(plane, 'a3')).map((x) => x.name)).toEqual(['brain-data-key']);
    const r = await fleet.api('DELETE', `/v1/planes/${plane}/agents/a3`);
    expect(r.status).toBe(200);
    await waitUntil(() => !processAlive(pid), 10_000, 'agentd to exit');
    expect(existsSync(dir)).toBe(false);
    expect((await fleet.api('GET', `/v1/planes/${plane}/agents/a3`)).status).toBe(404);
    expect(readdirSync(brain, { recursive: true }).filter((f) => statSync(join(brain, String(f))).isFile())).toEqual([]);
    expect(fleet.hub.context.db.prepare('SELECT COUNT(*) AS n FROM secrets WHERE plane = ? AND agent = ?').get(plane, 'a3')).toEqual({ n: 0 });
    // The name can be used again: a new agent, a new key, a blank brain.
    await fleet.addAgent(plane, 'a3');
    await fleet.waitFor(plane, 'a3', (x) => x.health.color === 'green');
  });
});

describe('command ordering and hub shutdown', () => {
  const fleet = new TestFleet();
  const plane = 'ordering';

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    await fleet.addAgent(plane, 'o1');
    await fleet.waitFor(plane, 'o1', (x) => x.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('applies pause then resume in order even when sent back to back, without counting a crash', async () => {
    const before = await fleet.agent(plane, 'o1');
    // {}: action routes need a body, even with no field in it.
    const [p, r] = await Promise.all([fleet.api<{ command: { id: string } }>('POST', `/v1/planes/${plane}/agents/o1/pause`, {}), fleet.api<{ command: { id: string } }>('POST', `/v1/planes/${plane}/agents/o1/resume`, {})]);
    expect([p.status, r.status]).toEqual([202, 202]);
    for (const id of [p.body.command.id, r.body.command.id]) {
      const c = await fleet.api<{ state: string }>('GET', `/v1/planes/${plane}/agents/o1/commands/${id}?waitSeconds=30`);
      expect(c.body.state).toBe('succeeded');
    }
    const after = await fleet.waitFor(plane, 'o1', (x) => x.health.color === 'green');
    expect(after.heartbeat?.heartbeat.gateway?.restartCount).toBe(before.heartbeat?.heartbeat.gateway?.restartCount);
  });

  it('does not let a long poll hold up hub shutdown', async () => {
    const a = await fleet.agent(plane, 'o1');
    await fleet.hub.localProvider.stop(a.id);
    await fleet.waitFor(plane, 'o1', (x) => !x.connected);
    const poll = fleet.api('POST', `/v1/planes/${plane}/agents/o1/restart`, { mode: 'gateway', waitSeconds: 120 });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await fleet.hub.close();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await poll).status).toBe(202);
  });
});

describe('agentd on SIGTERM', () => {
  const fleet = new TestFleet();
  const plane = 'sigterm';

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    await fleet.addAgent(plane, 's1');
    await fleet.waitFor(plane, 's1', (x) => x.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('stops its child, tells the hub, closes its stream and exits well within its deadline', async () => {
    const agent = await fleet.agent(plane, 's1');
    const childPid = agent.heartbeat?.heartbeat.gateway?.pid ?? 0;
    expect(childPid).toBeGreaterThan(0);
    const events: string[] = [];
    fleet.hub.context.events.on('agentEvent', (_id, e) => events.push(e.kind));
    const pid = fleet.agentdPid(plane, 's1');
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    await waitUntil(() => !processAlive(pid), 25_000, 'agentd to exit');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(processAlive(childPid)).toBe(false);
    expect(events).toContain('agentd.stopping');
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(`${fleet.agentDir(plane, 's1')}/agentd.log`, 'utf8');
    expect(log).toMatch(/"msg":"agentd state".*"from":"stopping","to":"stopped"/);
    const after = await fleet.waitFor(plane, 's1', (x) => x.health.color === 'red');
    expect(after.health.reason).toMatch(/disconnected/);
  });
});
