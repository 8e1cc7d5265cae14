import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrainKey } from '../common/src/brain/brain-crypto.ts';
import { openedBy, sealedObjects } from './helpers/brain-objects.ts';
import type { RunRecord as Run, RunTarget as Target } from '../hub/src/run-model.ts';
import { TestFleet, run, waitUntil } from './helpers/fleet.ts';

interface Cmd {
  id: string;
  state: string;
  createdAt: number;
  completedAt: number | null;
  errorMessage: string | null;
}

/** The most commands whose [created, completed] intervals overlap at any moment. */
function maxInFlight(cmds: Cmd[]): number {
  const edges = cmds.flatMap((c) => [
    { at: c.createdAt, d: 1 },
    { at: c.completedAt ?? Number.MAX_SAFE_INTEGER, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (cur += e.d));
  return max;
}

// Real hub, real agentd processes with placeholder children, real SQLite.
describe('fan-out runs with maxConcurrency and maxErrors', () => {
  const fleet = new TestFleet();
  const plane = 'fan';
  const names = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
  const commandsOf = async (r: Run): Promise<Cmd[]> =>
    Promise.all(r.targets.flatMap((t) => t.commands.map(async (c) => (await fleet.api<Cmd>('GET', `/v1/planes/${plane}/agents/${t.agent}/commands/${c.id}`)).body)));
  const restarts = async (name: string): Promise<number> => (await fleet.agent(plane, name)).heartbeat?.heartbeat.gateway?.restartCount ?? -1;
  const planes = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['bin/planes.js', ...args], { env: fleet.cliEnv() });

  beforeAll(async () => {
    await fleet.start();
    await fleet.createPlane(plane);
    for (const n of names) await fleet.addAgent(plane, n);
    for (const n of names) await fleet.waitFor(plane, n, (a) => a.health.color === 'green');
  });
  afterAll(() => fleet.destroy());

  it('restarts a plane never more than maxConcurrency agents at a time', async () => {
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', maxConcurrency: 2, waitSeconds: 60 });
    expect(r.status).toBe(202);
    expect(r.body.run.state).toBe('succeeded');
    expect(r.body.run.summary).toMatchObject({ total: 6, succeeded: 6, failed: 0, skipped: 0 });
    const cmds = await commandsOf(r.body.run);
    expect(cmds).toHaveLength(6);
    expect(cmds.every((c) => c.state === 'succeeded')).toBe(true);
    expect(maxInFlight(cmds)).toBe(2);

    // A share of the targets: 50 % of 6 is 3 at a time.
    const p = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'ping', maxConcurrency: '50%', waitSeconds: 60 });
    expect(p.body.run.maxConcurrency).toBe(3);
    expect(p.body.run.state).toBe('succeeded');
    expect(maxInFlight(await commandsOf(p.body.run))).toBeLessThanOrEqual(3);
  });

  it('stops once more than maxErrors agents failed, and reports the rest skipped (CLI, --json, exit 1)', async () => {
    // A paused agent refuses "restart": f3 and f4 will fail.
    for (const n of ['f3', 'f4']) expect((await fleet.api<{ command: Cmd }>('POST', `/v1/planes/${plane}/agents/${n}/pause`, { waitSeconds: 30 })).body.command.state).toBe('succeeded');
    const before = { f5: await restarts('f5'), f6: await restarts('f6') };

    const r = await planes('restart', '--plane', plane, '--max-concurrency', '1', '--max-errors', '1', '--json');
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { run: Omit<Run, 'targets'>; results: Target[] };
    expect(out.run.state).toBe('stopped');
    expect(out.run.stopReason).toMatch(/more than 1 agent\(s\) failed/);
    expect(out.results.map((t) => [t.agent, t.state])).toEqual([
      ['f1', 'succeeded'],
      ['f2', 'succeeded'],
      ['f3', 'failed'],
      ['f4', 'failed'],
      ['f5', 'skipped'],
      ['f6', 'skipped'],
    ]);
    expect(out.results.find((t) => t.agent === 'f3')?.error).toMatch(/paused/);
    // Skipped agents got no command, and nothing happened to them.
    expect(out.results.filter((t) => t.state === 'skipped').every((t) => t.commands.length === 0)).toBe(true);
    expect({ f5: await restarts('f5'), f6: await restarts('f6') }).toEqual(before);

    // The same as a table, for people.
    const table = await planes('restart', '--plane', plane, '--name', 'f3,f5', '--max-errors', '0');
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^AGENT\s+RESULT\s+DETAIL/m);
    expect(table.stdout).toMatch(/f3\s+failed\s+restart: agent is paused/);
    expect(table.stdout).toMatch(/run run_\S+ (stopped|failed)/);

    const resumed = await planes('resume', '--plane', plane, '--name', 'f3,f4', '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
  });

  it('withdraws a command an offline agent never received when its time runs out (not-delivered, nothing ran)', async () => {
    const f6 = await fleet.agent(plane, 'f6');
    await fleet.hub.localProvider.stop(f6.id);
    await fleet.waitFor(plane, 'f6', (a) => !a.connected);
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', agents: ['f6'], timeoutSeconds: 1, waitSeconds: 30 });
    expect(r.body.run.targets[0]).toMatchObject({ agent: 'f6', state: 'not-delivered' });
    expect(r.body.run.summary).toMatchObject({ notDelivered: 1, timedOut: 0 });
    expect(r.body.run.targets[0]?.error).toMatch(/not reachable within 1 s; the command was withdrawn, nothing ran/);
    const [cmd] = await commandsOf(r.body.run);
    expect(cmd?.state).toBe('expired');
    // When f6 comes back, the withdrawn restart does not run.
    await fleet.hub.localProvider.start(f6.id);
    const back = await fleet.waitFor(plane, 'f6', (a) => a.health.color === 'green');
    expect(back.heartbeat?.heartbeat.gateway?.restartCount).toBe(0);
  });

  it('cancels a run: agents not started are skipped, the run says cancelled', async () => {
    const r = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', maxConcurrency: 1 });
    const c = await fleet.api<{ run: Run }>('POST', `/v1/planes/${plane}/runs/${r.body.run.id}/cancel`, {});
    expect(c.status).toBe(202);
    const done = await fleet.api<Run>('GET', `/v1/planes/${plane}/runs/${r.body.run.id}?waitSeconds=30`);
    expect(done.body.state).toBe('cancelled');
    expect(done.body.summary.skipped).toBeGreaterThanOrEqual(1);
    expect(done.body.targets.every((t) => ['succeeded', 'skipped'].includes(t.state))).toBe(true);
    const audit = await fleet.api<{ events: Array<{ action: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&limit=50`);
    expect(audit.body.events.some((e) => e.action === 'run.restart' && e.detail['runId'] === r.body.run.id && e.detail['phase'] === 'cancel-requested')).toBe(true);
    expect(audit.body.events.some((e) => e.action === 'run.restart' && e.detail['runId'] === r.body.run.id && e.detail['state'] === 'cancelled')).toBe(true);
    // Listed, newest first.
    const listed = await fleet.api<{ runs: Run[] }>('GET', `/v1/planes/${plane}/runs?limit=1`);
    expect(listed.body.runs[0]?.id).toBe(r.body.run.id);
  });

  it('rotates secrets as a run, brain data key included, and the rotated agents reconnect with their new credentials', async () => {
    // A brain with history to re-encrypt.
    writeFileSync(join(fleet.workspaceDir(plane, 'f1'), 'NOTES.md'), 'before the rotation');
    expect((await fleet.api('POST', `/v1/planes/${plane}/agents/f1/sync`, { waitSeconds: 30 })).status).toBe(202);
    const secrets = fleet.hub.context.secrets;
    const oldKey = (await secrets.readForHub(plane, 'f1', 'brain-data-key')) ?? Buffer.alloc(0);
    expect(oldKey.length).toBe(32);
    const objects = (): Array<[string, Buffer]> => sealedObjects(join(fleet.dataDir, 'bucket'), `planes/${plane}/agents/f1`);
    const opens = (k: BrainKey): number => openedBy(objects(), k);
    expect(opens(new BrainKey(oldKey))).toBeGreaterThanOrEqual(2);

    const r = await planes('rotate-secrets', '--plane', plane, '--name', 'f1,f2', '--max-concurrency', '2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { results: Array<Target & { output: { credentialHash?: string; regenerated: string[]; dataKey?: { keyId: string; snapshots: number; chunks: number } } }> };
    expect(out.results.map((t) => [t.agent, t.state])).toEqual([
      ['f1', 'succeeded'],
      ['f2', 'succeeded'],
    ]);
    expect(out.results.every((t) => typeof t.output.credentialHash === 'string')).toBe(true);
    const rotation = (JSON.parse(r.stdout) as { run: { id: string; timeoutMs: number } }).run;
    expect(rotation.timeoutMs).toBe(900_000); // re-encrypting a brain's history gets more than the usual 120 s
    const table = await planes('runs', '--plane', plane, '--id', rotation.id);
    expect(table.stdout).toMatch(/^f1\s+succeeded\s+secrets \w+, gateway \w+, data key [0-9a-f]{16} \(\d+ snapshots, \d+ chunks re-encrypted\)/m);
    const f1 = out.results[0]?.output;
    expect(f1?.regenerated).toEqual(['agent-credential', 'gateway-token', 'brain-data-key']);
    expect(f1?.dataKey?.snapshots).toBeGreaterThanOrEqual(1);
    // The hub drops the old key once the agent reports every snapshot sealed with the new one.
    await waitUntil(async () => (await secrets.readForHub(plane, 'f1', 'brain-data-key'))?.length === 32, 10_000, 'the old data key to be dropped');
    const newKey = (await secrets.readForHub(plane, 'f1', 'brain-data-key')) ?? Buffer.alloc(0);
    expect(newKey.equals(oldKey)).toBe(false);
    expect(BrainKey.keyIdOf(newKey)).toBe(f1?.dataKey?.keyId);
    expect(opens(new BrainKey(oldKey))).toBe(0);
    expect(opens(new BrainKey(newKey))).toBe(objects().length);
    const verify = await fleet.api<{ ok: boolean; problems: unknown[] }>('POST', `/v1/planes/${plane}/agents/f1/verify-backup`, {});
    expect(verify.body, JSON.stringify(verify.body)).toMatchObject({ ok: true, problems: [] });
    const audit = await fleet.api<{ events: Array<{ action: string; outcome: string; detail: Record<string, unknown> }> }>('GET', `/v1/audit?plane=${plane}&agent=f1&limit=100`);
    expect(audit.body.events.some((e) => e.action === 'secret.generate' && e.detail['phase'] === 'staged')).toBe(true);
    expect(audit.body.events.some((e) => e.action === 'secret.rotate' && e.outcome === 'ok' && e.detail['phase'] === 'old data key destroyed')).toBe(true);
    for (const n of ['f1', 'f2']) {
      await fleet.hub.localProvider.restart((await fleet.agent(plane, n)).id);
      await fleet.waitFor(plane, n, (a) => a.connected && a.health.color === 'green');
    }
  });

  it('refuses limits that make no sense, naming the field', async () => {
    const r = await fleet.api<{ error: { where: string } }>('POST', `/v1/planes/${plane}/runs`, { kind: 'restart', maxConcurrency: '0%' });
    expect(r.status).toBe(400);
    expect(r.body.error.where).toBe('maxConcurrency');
  });
});
