import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './helpers/fleet.ts';

interface Cmd {
  id: string;
  state: string;
  attempts: number;
  output: { restartCount?: number } | null;
}

describe('commands', () => {
  const fleet = new TestFleet();
  const plane = 'cmds';

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    await fleet.addAgent(plane, 'off');
    await fleet.waitFor(plane, 'off', (x) => x.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('stores a command sent while its agent is offline and applies it once after reconnection', async () => {
    const agent = await fleet.agent(plane, 'off');
    await fleet.hub.localProvider.stop(agent.id);
    await fleet.waitFor(plane, 'off', (x) => !x.connected);

    const sent = await fleet.api<{ mode: string; command: Cmd }>('POST', `/v1/planes/${plane}/agents/off/restart`, { mode: 'gateway' });
    expect(sent.status).toBe(202);
    expect(sent.body.command.state).toBe('pending');

    await fleet.hub.localProvider.start(agent.id);
    const done = await fleet.api<Cmd>('GET', `/v1/planes/${plane}/agents/off/commands/${sent.body.command.id}?waitSeconds=30`);
    expect(done.body.state).toBe('succeeded');
    expect(done.body.attempts).toBe(1);
    const after = await fleet.waitFor(plane, 'off', (x) => x.health.color === 'green');
    expect(after.heartbeat?.heartbeat.gateway?.restartCount).toBe(1);
  });

  it('learns a lost result from the agent ledger at reconnection instead of running the command again', async () => {
    const r = await fleet.api<{ command: Cmd }>('POST', `/v1/planes/${plane}/agents/off/restart`, { waitSeconds: 30 });
    expect(r.body.command.state).toBe('succeeded');
    const count = r.body.command.output?.restartCount ?? -1;

    // Simulate a result lost in transit: the hub still thinks the command is out there.
    fleet.hub.context.db.prepare(`UPDATE commands SET state = 'delivered', completed_at = NULL WHERE id = ?`).run(r.body.command.id);
    await fleet.restartHub();

    const settled = await fleet.api<Cmd>('GET', `/v1/planes/${plane}/agents/off/commands/${r.body.command.id}?waitSeconds=30`);
    expect(settled.body.state).toBe('succeeded');
    expect(settled.body.output?.restartCount).toBe(count);
    // The Hello's ledger carried the result: the command was not sent again.
    expect(settled.body.attempts).toBe(1);
    const agent = await fleet.waitFor(plane, 'off', (x) => x.health.color === 'green');
    // Applied once: the gateway was not restarted a second time.
    expect(agent.heartbeat?.heartbeat.gateway?.restartCount).toBe(count);
  });

  it('expires a command whose deadline passes before the agent is reachable', async () => {
    const agent = await fleet.agent(plane, 'off');
    await fleet.hub.localProvider.stop(agent.id);
    await fleet.waitFor(plane, 'off', (x) => !x.connected);
    const cmd = fleet.hub.context.commands.create({ agentId: agent.id, kind: 'ping', args: {}, actor: 'test', ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 10));
    await fleet.hub.localProvider.start(agent.id);
    await fleet.waitFor(plane, 'off', (x) => x.connected);
    expect(fleet.hub.context.commands.get(cmd.id).state).toBe('expired');
  });

  it('rejects an unknown command kind at the agent with a clear reason', async () => {
    const cmd = fleet.hub.context.commands.create({ agentId: (await fleet.agent(plane, 'off')).id, kind: 'self-destruct', args: {}, actor: 'test', ttlMs: 60_000 });
    await fleet.restartHub(); // delivers open commands on reconnect
    const r = await fleet.api<Cmd & { errorMessage: string }>('GET', `/v1/planes/${plane}/agents/off/commands/${cmd.id}?waitSeconds=30`);
    expect(r.body.state).toBe('rejected');
    expect(r.body.errorMessage).toMatch(/unknown command kind 'self-destruct'/);
  });
});
