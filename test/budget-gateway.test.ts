import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentTurn, openclawFleet } from './helpers/gateway.ts';
import { type AgentJson, run, type TestFleet, waitUntil } from './helpers/fleet.ts';
import { LlmStub } from './helpers/llm-stub.ts';
import { WebhookSink } from './helpers/webhook-sink.ts';

interface AuditJson {
  events: Array<{ actor: string; action: string; outcome: string; detail: Record<string, unknown> }>;
}

// One real OpenClaw gateway; the model is the loopback stub, reporting a large prompt.
describe('budget enforcement from real usage', () => {
  // 50,000 prompt tokens at $30/M and 40 completion tokens at $60/M: $1.5024 per turn, as OpenClaw prices it.
  const stub = new LlmStub({ promptTokens: 50_000, completionTokens: 40, reply: 'Expensive hello.' });
  const sink = new WebhookSink();
  let fleet: TestFleet;
  const plane = 'budget-gw';

  beforeAll(async () => {
    const { baseUrl } = await stub.start();
    const hook = await sink.start();
    fleet = await openclawFleet(plane, baseUrl, 'sk-budget-test-key', { cost: { input: 30, output: 60 } }, { costIntervalMs: 500, budgetWebhook: { url: hook, timeoutMs: 2000, retries: 1 } });
  }, 60_000);
  afterAll(async () => {
    await fleet.destroy();
    await stub.close();
    await sink.close();
  });

  it('one turn over a $1 cap: alerts at 80, 95 and 100 % once each, and the agent is paused', async () => {
    const created = await fleet.api('POST', `/v1/planes/${plane}/agents`, { name: 'spender', ownerEmail: 'spender@example.com', budgetCap: 1 });
    expect(created.status).toBe(201);
    expect((await fleet.api('PUT', `/v1/planes/${plane}/agents/spender/secrets/FAKEAI_API_KEY`, { value: 'sk-budget-test-key' })).status).toBe(200);
    const a = (await fleet.waitFor(plane, 'spender', (x) => x.health.color === 'green', 150_000)) as AgentJson & { heartbeat: { heartbeat: { gateway: { pid: number } } } };
    const port = fleet.gatewayPort(plane, 'spender');

    const turn = await agentTurn(a.heartbeat.heartbeat.gateway.pid, port, 'hello');
    expect(turn.code, turn.stderr).toBe(0);
    expect(turn.json?.status).toBe('ok');

    // OpenClaw caches sessions.usage for ~30 s, and agentd polls it: allow a couple of minutes.
    const alerts = async () => (await fleet.api<AuditJson>('GET', `/v1/audit?plane=${plane}&agent=spender&limit=500`)).body.events.filter((e) => e.action === 'budget.threshold');
    await waitUntil(async () => (await alerts()).some((e) => e.detail['threshold'] === 100), 180_000, 'the 100 % budget alert');
    const paused = await fleet.waitFor(plane, 'spender', (x) => x.heartbeat?.heartbeat.paused === true && x.health.reason === 'paused', 60_000);
    expect(paused.health.color).toBe('yellow');

    await new Promise((r) => setTimeout(r, 1500)); // more checks: nothing fires twice
    const fired = await alerts();
    expect(fired.map((e) => e.detail['threshold']).sort((x, y) => Number(x) - Number(y))).toEqual([80, 95, 100]);
    expect(fired.find((e) => e.detail['threshold'] === 100)?.detail).toMatchObject({ capUsd: 1, enforcement: 'pause', action: 'paused' });
    await waitUntil(() => sink.received.length === 3, 10_000, 'three webhook deliveries');

    // The cost report has the model spend OpenClaw computed from the configured prices, and the tokens.
    const report = await run(process.execPath, ['bin/planes.js', 'cost-report', '--plane', plane, '--period', '1d', '--json'], {
      env: fleet.cliEnv(),
    });
    expect(report.code, report.stderr).toBe(0);
    const row = (JSON.parse(report.stdout) as { rows: Array<{ key: string; modelUsd: number; inputTokens: number; outputTokens: number; byModel: Array<{ model: string; costUsd: number }>; budgetUsedPct: number }> }).rows.find((r) => r.key === 'spender');
    const turns = stub.requests.filter((r) => r.path === '/v1/chat/completions').length;
    expect(turns).toBeGreaterThanOrEqual(1);
    expect(row?.inputTokens).toBe(50_000 * turns);
    expect(row?.outputTokens).toBe(40 * turns);
    expect(row?.modelUsd).toBeCloseTo(1.5024 * turns, 4);
    expect(row?.byModel).toEqual([{ model: 'fakeai/fake-1', totalTokens: 50_040 * turns, costUsd: expect.closeTo(1.5024 * turns, 4) as unknown }]);
    expect(row?.budgetUsedPct).toBeGreaterThanOrEqual(150);
  }, 400_000);
});
