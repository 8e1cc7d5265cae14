import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentJson, processAlive, run, TestFleet, waitUntil } from './helpers/fleet.ts';

interface HealingJson {
  attempts: number;
  breakerOpenAt: number | null;
  breakerReason: string | null;
}
type Agent = AgentJson & { healing: HealingJson | null; desiredState: string };
interface AuditJson {
  events: Array<{ actor: string; action: string; agent: string | null; outcome: string; detail: Record<string, unknown> }>;
}

/** Parses Prometheus text format 0.0.4 into samples (name, labels, value). */
function parseProm(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

// Red this long before a restart, and after each one: long enough for a restarted agentd to
// boot and reconnect on a busy test machine, so a restart that works is not counted as failed.
const HEAL_MS = 5000;

// A real hub and real agentd processes (placeholder runtime), healing shortened to 5 s.
describe('self-healing', () => {
  const fleet = new TestFleet({ healRedAfterMs: HEAL_MS, healMaxAttempts: 3 });
  const plane = 'heal';
  const agent = (name: string): Promise<Agent> => fleet.agent(plane, name) as Promise<Agent>;
  const audit = async (name: string): Promise<AuditJson['events']> =>
    (await fleet.api<AuditJson>('GET', `/v1/audit?plane=${plane}&agent=${name}&limit=500`)).body.events.filter((e) => e.action.startsWith('agent.heal.'));
  const planes = (args: string[]) =>
    run(process.execPath, ['bin/planes.js', ...args], { env: fleet.cliEnv() });

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    await Promise.all(['killed', 'broken', 'paused'].map((n) => fleet.addAgent(plane, n)));
    for (const n of ['killed', 'broken', 'paused']) await fleet.waitFor(plane, n, (x) => x.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('restarts an agent whose agentd was killed with SIGKILL, through the local provider, back to green', async () => {
    const pid = fleet.agentdPid(plane, 'killed');
    process.kill(pid, 'SIGKILL');
    await fleet.waitFor(plane, 'killed', (x) => x.health.color === 'red', 10_000);
    const redAt = Date.now();
    const back = await fleet.waitFor(plane, 'killed', (x) => x.health.color === 'green' && x.connected, 30_000);
    // Not before the threshold: the hub waited that long in red before it restarted.
    expect(Date.now() - redAt).toBeGreaterThanOrEqual(HEAL_MS - 500);
    const newPid = fleet.agentdPid(plane, 'killed');
    expect(newPid).not.toBe(pid);
    expect(processAlive(newPid)).toBe(true);
    expect(back.bootId).not.toBeNull();
    await waitUntil(async () => (await audit('killed')).some((e) => e.action === 'agent.heal.recovered'), 5000, 'the recovery audit event');
    const events = await audit('killed');
    expect(events.filter((e) => e.action === 'agent.heal.restart').map((e) => [e.actor, e.outcome, e.detail['attempt'], e.detail['provider']])).toEqual([['hub:self-heal', 'ok', 1, 'local']]);
    expect(((await agent('killed')).healing?.attempts ?? 0)).toBe(0);
  });

  it('never heals a paused agent', async () => {
    const p = await fleet.api<{ command: { state: string } }>('POST', `/v1/planes/${plane}/agents/paused/pause`, { waitSeconds: 30 });
    expect(p.body.command.state).toBe('succeeded');
    const pid = fleet.agentdPid(plane, 'paused');
    process.kill(pid, 'SIGKILL');
    await fleet.waitFor(plane, 'paused', (x) => x.health.color === 'red', 10_000);
    await new Promise((r) => setTimeout(r, 2.5 * HEAL_MS));
    expect(fleet.agentdPid(plane, 'paused')).toBe(pid);
    expect(processAlive(pid)).toBe(false);
    expect((await agent('paused')).health.color).toBe('red');
    expect(await audit('paused')).toEqual([]);
    const heal = await planes(['heal', '--plane', plane, '--name', 'paused', '--json']);
    expect(JSON.parse(heal.stdout)).toEqual({ agents: [expect.objectContaining({ agent: 'paused', healing: 'paused (not healed)', restarts: 0 })] });
  });

  it('stops after 3 failed restarts (circuit breaker), says why, and starts again after a human reset', async () => {
    const config = join(fleet.agentDir(plane, 'broken'), 'agentd.json');
    const good = readFileSync(config, 'utf8');
    // Every restart now starts an agentd that cannot read its config and exits at once.
    writeFileSync(config, '{"plane": ');
    process.kill(fleet.agentdPid(plane, 'broken'), 'SIGKILL');
    const stopped = (await fleet.waitFor(plane, 'broken', (x) => Boolean((x as Agent).healing?.breakerOpenAt), 10 * HEAL_MS)) as Agent;
    expect(stopped.health.color).toBe('red');
    expect(stopped.health.reason).toMatch(/^(disconnected for \d+s|not connected)( \(placeholder child, not an OpenClaw gateway\))?; self-healing stopped after 3 restarts \(planes heal --reset\)$/);
    expect(stopped.healing).toMatchObject({ attempts: 3, breakerReason: expect.stringMatching(/^3 restarts through the local provider did not bring it back/) as unknown });
    const events = await audit('broken');
    expect(events.filter((e) => e.action === 'agent.heal.restart' && e.outcome === 'ok').map((e) => e.detail['attempt']).sort()).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.action === 'agent.heal.breaker-open')).toEqual([expect.objectContaining({ actor: 'hub:self-heal', outcome: 'failed' })]);

    // Open means open: no fourth restart, however long it stays red.
    const pidWhileOpen = readFileSync(join(fleet.agentDir(plane, 'broken'), 'agentd.pid'), 'utf8');
    await new Promise((r) => setTimeout(r, 1.5 * HEAL_MS));
    expect(readFileSync(join(fleet.agentDir(plane, 'broken'), 'agentd.pid'), 'utf8')).toBe(pidWhileOpen);
    expect((await audit('broken')).filter((e) => e.action === 'agent.heal.restart')).toHaveLength(3);

    // The CLI shows it and exits 1 while a breaker is open.
    const shown = await planes(['heal', '--plane', plane]);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/broken\s+red\s+STOPPED \(breaker open\)\s+3\s+3 restarts through the local provider/);

    // A human fixes the machine and resets: the hub restarts it at once and it comes back.
    writeFileSync(config, good);
    const reset = await planes(['heal', '--plane', plane, '--name', 'broken', '--reset', '--json']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(JSON.parse(reset.stdout)).toEqual({ reset: ['broken'] });
    await fleet.waitFor(plane, 'broken', (x) => x.health.color === 'green' && x.connected, 30_000);
    const after = await audit('broken');
    expect(after.some((e) => e.action === 'agent.heal.reset' && e.actor === 'token:admin')).toBe(true);
    // At least one restart after the reset (more if a busy machine kept agentd from reconnecting in time).
    expect(after.filter((e) => e.action === 'agent.heal.restart' && e.outcome === 'ok').length).toBeGreaterThanOrEqual(4);
    expect(after.findIndex((e) => e.action === 'agent.heal.restart')).toBeLessThan(after.findIndex((e) => e.action === 'agent.heal.reset'));
  });

  it('serves /metrics in Prometheus text format to a viewer token, not without one', async () => {
    const { token } = fleet.hub.context.apiTokens.create('prometheus', 'viewer');
    const anonymous = await fetch(`${fleet.endpoints.apiUrl}/metrics`);
    expect(anonymous.status).toBe(401);
    const res = await fetch(`${fleet.endpoints.apiUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseProm(await res.text());
    const value = (name: string, labels: Record<string, string>): number | undefined =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    const listed = (await fleet.api<{ agents: Agent[] }>('GET', `/v1/planes/${plane}/agents`)).body.agents;
    for (const color of ['green', 'yellow', 'red']) {
      expect(value('agentsplane_agents', { plane, health: color }), color).toBe(listed.filter((a) => a.health.color === color).length);
    }
    expect(value('agentsplane_agents_paused', { plane })).toBe(1);
    expect(value('agentsplane_agents_connected', { plane })).toBe(listed.filter((a) => a.connected).length);
    const age = value('agentsplane_agent_heartbeat_age_seconds', { plane, agent: 'killed' });
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(5);
    expect(value('agentsplane_agent_sync_lag_seconds', { plane, agent: 'killed' })).toBeGreaterThanOrEqual(0);
    expect(value('agentsplane_commands', { kind: 'pause', state: 'succeeded' })).toBe(1);
    expect(value('agentsplane_agent_heal_breaker_open', { plane, agent: 'broken' })).toBe(0);
    expect(value('agentsplane_agent_cost_usd', { plane, agent: 'killed', kind: 'infra' })).toBeGreaterThan(0);
    expect(value('agentsplane_agent_cost_usd', { plane, agent: 'killed', kind: 'model' })).toBe(0);
    expect(value('agentsplane_hub_info', {})).toBe(1);
  });
});
