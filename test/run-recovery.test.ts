import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRecord as Cmd } from '../hub/src/model.ts';
import type { RunRecord as Run } from '../hub/src/run-model.ts';
import { processAlive, TestFleet, waitUntil } from './helpers/fleet.ts';

// A hub in a child process killed with SIGKILL right after it accepted a run (or a
// fan-out), then a new hub on the same data dir; real agentd processes over real gRPC.
describe('a run across a hub crash', () => {
  const fleet = new TestFleet();
  const plane = 'crash';
  const names = ['k1', 'k2', 'k3', 'k4', 'k5'];
  const restarts = async (name: string): Promise<number> => (await fleet.agent(plane, name)).heartbeat?.heartbeat.gateway?.restartCount ?? -1;
  const getRun = async (id: string): Promise<Run> => (await fleet.api<Run>('GET', `/v1/planes/${plane}/runs/${id}`)).body;
  const command = async (agent: string, id: string): Promise<Cmd> => (await fleet.api<Cmd>('GET', `/v1/planes/${plane}/agents/${agent}/commands/${id}`)).body;
  /** Stops a local agentd while the hub runs in a child process (SIGTERM: it finishes what it runs, then exits). */
  const stopAgentd = async (name: string): Promise<void> => {
    const pid = fleet.agentdPid(plane, name);
    process.kill(pid, 'SIGTERM');
    await waitUntil(() => !processAlive(pid), 40_000, `agentd ${name} to exit`);
  };
  /** Which command ids an agent's journal holds (state/agentd.db), optionally only those in a state. */
  const journal = (name: string, state?: 'started' | 'done'): string[] => {
    const db = new Database(join(fleet.agentDir(plane, name), 'state', 'agentd.db'), { readonly: true });
    try {
      return (db.prepare('SELECT id FROM commands WHERE state = COALESCE(?, state)').all(state ?? null) as Array<{ id: string }>).map((r) => r.id);
    } finally {
      db.close();
    }
  };
  /**
   * Stops (SIGSTOP) the child hub at a moment when the agent has received the command and
   * the hub cannot yet have read its result. A hub may write an HTTP answer before its gRPC
   * frames leave, so it is let run in 10 ms slices until the agent has the command; a
   * restart takes far longer than a slice, so its result always finds the hub stopped.
   */
  const freezeHubOnceReceived = async (name: string, id: string): Promise<void> => {
    const child = fleet.child;
    if (!child?.pid) throw new Error('no child hub');
    for (let slice = 0; slice < 200; slice++) {
      process.kill(child.pid, 'SIGSTOP');
      const deadline = Date.now() + 300;
      while (Date.now() < deadline) {
        if (journal(name).includes(id)) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      process.kill(child.pid, 'SIGCONT');
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${name} never received ${id}`);
  };
  const crash = async (): Promise<void> => {
    await fleet.killChild();
    await fleet.restartInProcess();
  };
  const everyoneGreen = async (): Promise<void> => {
    for (const n of names) await fleet.waitFor(plane, n, (a) => a.connected && a.health.color === 'green');
  };

  beforeAll(async () => {
    await fleet.startInChild();
    await fleet.createPlane(plane);
    for (const n of names) await fleet.addAgent(plane, n);
    await everyoneGreen();
  });
  afterAll(() => fleet.destroy());

  it('shows every target succeeded (not skipped) when the agents restarted before the hub came back, and restarts nobody twice', async () => {
    const before = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await restarts(n)] as const)));
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart' });
    expect(r.status).toBe(202);
    await crash();

    for (const n of names) await fleet.waitFor(plane, n, (a) => a.connected && a.heartbeat?.heartbeat.gateway?.restartCount === (before[n] ?? 0) + 1);
    await waitUntil(async () => (await getRun(r.body.run.id)).targets.every((t) => t.state !== 'unknown'), 10_000, 'every target settled');
    const run = await getRun(r.body.run.id);
    expect(run.targets.map((t) => [t.agent, t.state, t.error])).toEqual(names.map((n) => [n, 'succeeded', null]));
    expect(run.state).toBe('interrupted');
    expect(run.stopReason).toMatch(/hub stopped during the run/);
    expect(run.summary).toMatchObject({ total: 5, succeeded: 5, skipped: 0, unknown: 0, notDelivered: 0 });
    // Each target names the one command it sent, and each command ran once.
    for (const t of run.targets) {
      expect(t.commands).toHaveLength(1);
      expect((await command(t.agent, t.commands[0]?.id ?? '')).state).toBe('succeeded');
    }
    await everyoneGreen();
    for (const n of names) expect(await restarts(n)).toBe((before[n] ?? 0) + 1);
    const audit = await fleet.api<{ events: Array<{ action: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&limit=50`);
    const phases = audit.body.events.filter((e) => e.action === 'run.restart' && e.detail['runId'] === run.id).map((e) => e.detail['phase']);
    expect(phases).toContain('finished');
  });

  it('keeps a target unknown while its agent is away, and settles it from the ledger in the Hello that brings it back (no resend)', async () => {
    await fleet.restartInChild();
    await everyoneGreen();
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', agents: ['k1', 'k2'] });
    expect(r.status).toBe(202);
    // The run sent both commands before it answered.
    const k2cmd = r.body.run.targets[1]?.commands[0]?.id ?? '';
    expect(k2cmd).toMatch(/^cmd_/);
    await freezeHubOnceReceived('k2', k2cmd);
    await waitUntil(() => journal('k2', 'done').includes(k2cmd), 20_000, 'k2 to finish its restart');
    // k2 stays away (stopped, not exited: a new hub would start an exited local agentd at once).
    const k2pid = fleet.agentdPid(plane, 'k2');
    process.kill(k2pid, 'SIGSTOP');
    await fleet.killChild(); // the frozen hub never read k2's result
    await fleet.restartInProcess();

    await fleet.waitFor(plane, 'k1', (a) => a.connected);
    await waitUntil(async () => (await getRun(r.body.run.id)).targets[0]?.state === 'succeeded', 10_000, 'k1 settled');
    const away = await getRun(r.body.run.id);
    expect(away.state).toBe('interrupted');
    expect(away.targets[1]).toMatchObject({ agent: 'k2', state: 'unknown' });
    expect(away.targets[1]?.error).toMatch(/the agent's report settles it/);
    expect(away.summary).toMatchObject({ succeeded: 1, unknown: 1 });
    expect(away.targets[1]?.commands.map((c) => c.id)).toEqual([k2cmd]);

    process.kill(k2pid, 'SIGCONT');
    await fleet.waitFor(plane, 'k2', (a) => a.connected, 40_000);
    // Settled while the hub answered the Hello: before anything else is sent.
    const back = await getRun(r.body.run.id);
    expect(back.targets[1]).toMatchObject({ agent: 'k2', state: 'succeeded', error: null });
    expect(back.summary).toMatchObject({ succeeded: 2, unknown: 0 });
    // The ledger answered: the command was not sent a second time.
    expect(await command('k2', k2cmd)).toMatchObject({ state: 'succeeded', attempts: 1 });
    await everyoneGreen();
    const audit = await fleet.api<{ events: Array<{ action: string; outcome: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&limit=50`);
    expect(audit.body.events.find((e) => e.action === 'run.restart' && e.detail['runId'] === r.body.run.id && e.detail['phase'] === 'reconciled')).toMatchObject({
      outcome: 'ok',
      detail: { succeeded: 2, unknown: 0 },
    });
  });

  it('says not-delivered for a command that never left the hub, and never runs it late', async () => {
    await fleet.restartInChild();
    await everyoneGreen();
    await stopAgentd('k3');
    await fleet.waitFor(plane, 'k3', (a) => !a.connected);
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', agents: ['k3'], timeoutSeconds: 1 });
    expect(r.status).toBe(202);
    const id = r.body.run.targets[0]?.commands[0]?.id ?? '';
    await fleet.killChild();
    // The new hub starts k3's agentd again; by then the run's 1 s per-agent timeout has passed.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await fleet.restartInProcess();
    await fleet.waitFor(plane, 'k3', (a) => a.connected, 40_000);
    const settled = await getRun(r.body.run.id);
    expect(settled.targets[0]).toMatchObject({ agent: 'k3', state: 'not-delivered' });
    expect(settled.targets[0]?.error).toMatch(/not delivered, nothing ran: withdrawn/);
    expect((await command('k3', id)).state).toBe('expired');
    await fleet.waitFor(plane, 'k3', (a) => a.health.color === 'green');
    expect(journal('k3')).not.toContain(id);
  });

  it('records a plane-wide fan-out as a run, which tells what each agent did after a crash', async () => {
    await fleet.restartInChild();
    await everyoneGreen();
    const before = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await restarts(n)] as const)));
    const r = await fleet.api<{ runId: string; commands: Array<{ id: string; agentId: string; state: string }> }>('POST', `/v1/planes/${plane}/commands`, { kind: 'restart' });
    expect(r.status).toBe(202);
    expect(r.body.commands).toHaveLength(5);
    expect(r.body.runId).toMatch(/^run_/);
    await crash();

    await waitUntil(async () => (await getRun(r.body.runId)).summary.unknown === 0, 30_000, 'the fan-out settled');
    const run = await getRun(r.body.runId);
    expect(run.state).toBe('interrupted');
    expect(run.targets.map((t) => [t.agent, t.state])).toEqual(names.map((n) => [n, 'succeeded']));
    expect(run.targets.map((t) => t.commands[0]?.id).sort()).toEqual(r.body.commands.map((c) => c.id).sort());
    await everyoneGreen();
    for (const n of names) expect(await restarts(n)).toBe((before[n] ?? 0) + 1);
  });

  it('records a fan-out that ran to the end like any run', async () => {
    const r = await fleet.api<{ runId: string }>('POST', `/v1/planes/${plane}/commands`, { kind: 'ping' });
    const run = (await fleet.api<Run>('GET', `/v1/planes/${plane}/runs/${r.body.runId}?waitSeconds=30`)).body;
    expect(run.state).toBe('succeeded');
    expect(run.summary).toMatchObject({ total: 5, succeeded: 5 });
  });

  it('leaves a target unknown, not timed out, when the hub is closed gracefully mid-run, and still delivers within the run timeout', async () => {
    if (fleet.hub.state !== 'running') await fleet.restartInProcess();
    await everyoneGreen();
    const k4 = await fleet.agent(plane, 'k4');
    await fleet.hub.localProvider.stop(k4.id);
    await fleet.waitFor(plane, 'k4', (a) => !a.connected);
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', agents: ['k4'], timeoutSeconds: 300 });
    const id = r.body.run.targets[0]?.commands[0]?.id ?? '';
    await fleet.restartHub(); // a normal stop: the new hub also starts k4's agentd again

    await waitUntil(async () => (await getRun(r.body.run.id)).targets[0]?.state === 'succeeded', 40_000, 'k4 to report its restart');
    const run = await getRun(r.body.run.id);
    expect(run.state).toBe('interrupted');
    expect(run.targets[0]?.commands.map((c) => c.id)).toEqual([id]);
    expect(journal('k4')).toContain(id);
    const audit = await fleet.api<{ events: Array<{ action: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&limit=50`);
    const finished = audit.body.events.find((e) => e.action === 'run.restart' && e.detail['runId'] === run.id && e.detail['phase'] === 'finished');
    expect(finished?.detail).toMatchObject({ state: 'interrupted', unknown: 1, timedOut: 0 });
  });
});
