import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Heartbeat__Output } from '../proto/index.ts';
import { run, TestFleet, waitUntil } from './helpers/fleet.ts';
import { WebhookSink } from './helpers/webhook-sink.ts';
import { webhookSignature } from '../hub/src/cost/webhook.ts';

const SIGNING_SECRET = 'whsec-test-3f9a0c7e51d2b846';

interface AuditJson {
  events: Array<{ actor: string; action: string; agent: string | null; outcome: string; detail: Record<string, unknown> }>;
}

/**
 * Budget thresholds on a real hub with real (placeholder) agents. The model
 * usage is booked into the hub's ledger the way heartbeats would be: these
 * agents run no model; test/budget-gateway.test.ts drives real usage end to end.
 */
describe('budgets', () => {
  const sink = new WebhookSink(1);
  let fleet: TestFleet;
  const plane = 'spend';
  let totals = 0;
  let clock = 0;
  /** Each report newer than the last, as agentd's are (two in one millisecond would look like a repeat). */
  const observedAt = (): number => (clock = Math.max(clock + 1, Date.now()));

  /** The agent's gateway reports this much cumulative model spend (USD). */
  const spend = (name: string, usd: number): void => {
    totals += 1000;
    const ctx = fleet.hub.context;
    const agent = ctx.agents.get(plane, name);
    const heartbeat = {
      usage: { inputTokens: totals, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, totalTokens: totals, totalCostUsd: usd, observedAtMs: observedAt(), byModel: [{ model: 'fakeai/fake-1', inputTokens: totals, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, totalTokens: totals, totalCostUsd: usd }] },
    } as unknown as Heartbeat__Output;
    ctx.ledger.accrue([agent], new Map([[plane, ctx.planes.get(plane)]]), (p) => ctx.prices(p), () => ({ seq: 0, receivedAt: Date.now(), heartbeat }));
  };
  const alerts = async (name: string) =>
    (await fleet.api<AuditJson>('GET', `/v1/audit?plane=${plane}&agent=${name}&limit=500`)).body.events.filter((e) => e.action === 'budget.threshold').reverse();

  beforeAll(async () => {
    const url = await sink.start();
    fleet = new TestFleet({ costIntervalMs: 200, budgetWebhook: { url, timeoutMs: 2000, retries: 2, signingSecret: SIGNING_SECRET } });
    await fleet.start();
    await fleet.createPlane(plane);
    for (const [name, cap] of [['capped', 10], ['uncapped', undefined]] as const) {
      const r = await fleet.api('POST', `/v1/planes/${plane}/agents`, { name, ownerEmail: `${name}@example.com`, group: 'research', ...(cap !== undefined ? { budgetCap: cap } : {}) });
      expect(r.status).toBe(201);
      await fleet.waitFor(plane, name, (a) => a.health.color === 'green');
    }
    const lenient = await fleet.api('POST', '/v1/planes', { name: 'lenient', infraProvider: 'local', costs: { budgetEnforcement: 'alert-only', prices: { machineHourlyUsd: { 'e2-small': 0 }, diskGbMonthUsd: 0 } } });
    expect(lenient.status).toBe(201);
  });
  afterAll(async () => {
    await fleet.destroy();
    await sink.close();
  });

  it('alerts at 80 and 95 %, each once, then pauses the agent at 100 %', async () => {
    spend('capped', 8.2);
    await waitUntil(async () => (await alerts('capped')).length === 1, 10_000, 'the 80 % alert');
    spend('capped', 8.3); // more spend below the next threshold: no new alert
    spend('capped', 9.6);
    await waitUntil(async () => (await alerts('capped')).length === 2, 10_000, 'the 95 % alert');
    await new Promise((r) => setTimeout(r, 600)); // several checks later, still two
    expect((await alerts('capped')).map((e) => e.detail['threshold'])).toEqual([80, 95]);
    expect((await fleet.agent(plane, 'capped')).heartbeat?.heartbeat.paused).toBe(false);

    spend('capped', 10.4);
    await waitUntil(async () => (await alerts('capped')).length === 3, 10_000, 'the 100 % alert');
    const last = (await alerts('capped'))[2];
    expect(last).toMatchObject({ actor: 'hub:budget', detail: { threshold: 100, capUsd: 10, enforcement: 'pause', action: 'paused' } });
    expect(last?.detail['costUsd']).toBeGreaterThanOrEqual(10.4);
    const paused = await fleet.waitFor(plane, 'capped', (a) => a.health.reason.startsWith('paused') && a.heartbeat?.heartbeat.paused === true);
    expect(paused.health.color).toBe('yellow');
    const pauses = (await fleet.api<AuditJson>('GET', `/v1/audit?plane=${plane}&agent=capped`)).body.events.filter((e) => e.action === 'command.pause');
    expect(pauses.map((e) => e.actor)).toEqual(['hub:budget']);

    // The webhook got all three (its first delivery failed once and was retried); the URL's path is not logged.
    await waitUntil(() => sink.received.length === 3, 10_000, 'three webhook deliveries');
    expect(sink.attempts).toBe(4);
    expect(sink.received.map((b) => (b as { threshold: number }).threshold).sort((a, b) => a - b)).toEqual([80, 95, 100]);
    expect(sink.received).toContainEqual(expect.objectContaining({ type: 'budget.threshold', plane, agent: 'capped', owner: 'capped@example.com', threshold: 100, capUsd: 10, action: 'paused' }));
    expect(fleet.logs.some((l) => l.msg === 'budget webhook delivery failed')).toBe(true);
    expect(JSON.stringify(fleet.logs)).not.toContain('budget-secret-path');
    // Signed: each attempt carries a delivery id (the same on a retry), a timestamp, and an HMAC over both
    // that the receiver can check with the shared secret; a forged body does not match.
    for (const r of sink.requests) {
      const ts = Number(r.headers['x-agents-plane-timestamp']);
      expect(Math.abs(Date.now() / 1000 - ts)).toBeLessThan(60);
      expect(r.headers['x-agents-plane-signature']).toBe(webhookSignature(SIGNING_SECRET, ts, r.body));
      expect(r.headers['x-agents-plane-signature']).not.toBe(webhookSignature(SIGNING_SECRET, ts, r.body.replace('"capped"', '"other"')));
    }
    const ids = sink.requests.map((r) => String(r.headers['x-agents-plane-delivery']));
    expect(new Set(ids).size).toBe(3);
    const retried = sink.requests.find((r) => !r.accepted);
    expect(sink.requests.filter((r) => r.headers['x-agents-plane-delivery'] === retried?.headers['x-agents-plane-delivery']).map((r) => r.accepted)).toEqual([false, true]);
    expect(JSON.stringify(fleet.logs)).not.toContain(SIGNING_SECRET);

    // An admin resumes it within the month: the budget does not pause it again.
    const resumed = await fleet.api<{ command: { state: string } }>('POST', `/v1/planes/${plane}/agents/capped/resume`, { waitSeconds: 30 });
    expect(resumed.body.command.state).toBe('succeeded');
    spend('capped', 12);
    await new Promise((r) => setTimeout(r, 800));
    expect((await fleet.agent(plane, 'capped')).heartbeat?.heartbeat.paused).toBe(false);
    expect(await alerts('capped')).toHaveLength(3);
    // A new cap is a new budget: its thresholds fire afresh (80 % of $20), and 12 of 20 fired nothing.
    const raised = await fleet.api('PATCH', `/v1/planes/${plane}/agents/capped`, { budgetCap: 20 });
    expect(raised.status).toBe(200);
    await new Promise((r) => setTimeout(r, 600));
    expect(await alerts('capped')).toHaveLength(3);
    spend('capped', 16.5);
    await waitUntil(async () => (await alerts('capped')).length === 4, 10_000, 'the 80 % alert of the new cap');
    expect((await alerts('capped'))[3]?.detail).toMatchObject({ threshold: 80, capUsd: 20, action: 'none' });
    // No cap, no alerts, however much it spends.
    spend('uncapped', 500);
    await new Promise((r) => setTimeout(r, 600));
    expect(await alerts('uncapped')).toEqual([]);
  });

  it('only alerts at 100 % on a plane configured alert-only', async () => {
    const r = await fleet.api('POST', '/v1/planes/lenient/agents', { name: 'free', ownerEmail: 'free@example.com', budgetCap: 1 });
    expect(r.status).toBe(201);
    await fleet.waitFor('lenient', 'free', (a) => a.health.color === 'green');
    const ctx = fleet.hub.context;
    const agent = ctx.agents.get('lenient', 'free');
    const heartbeat = { usage: { inputTokens: 5, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, totalTokens: 5, totalCostUsd: 2, observedAtMs: observedAt(), byModel: [] } } as unknown as Heartbeat__Output;
    ctx.ledger.accrue([agent], new Map([['lenient', ctx.planes.get('lenient')]]), (p) => ctx.prices(p), () => ({ seq: 0, receivedAt: Date.now(), heartbeat }));
    const events = async () => (await fleet.api<AuditJson>('GET', '/v1/audit?plane=lenient&agent=free')).body.events.filter((e) => e.action === 'budget.threshold');
    await waitUntil(async () => (await events()).length === 3, 10_000, 'three alerts');
    expect((await events()).find((e) => e.detail['threshold'] === 100)?.detail).toMatchObject({ enforcement: 'alert-only', action: 'none' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await fleet.agent('lenient', 'free')).heartbeat?.heartbeat.paused).toBe(false);
    // Usage without a per-model breakdown is reported as "unattributed"; the plane's zero prices show.
    const report = await fleet.api<{ rows: Array<{ key: string; infraUsd: number; machineHours: number; byModel: Array<{ model: string }> }>; prices: { machineHourlyUsd: Record<string, number> } }>('GET', '/v1/planes/lenient/cost-report?period=mtd');
    expect(report.body.rows[0]).toMatchObject({ key: 'free', infraUsd: 0, byModel: [{ model: 'unattributed', totalTokens: 5, costUsd: 2 }] });
    expect(report.body.rows[0]?.machineHours).toBeGreaterThan(0);
    expect(report.body.prices.machineHourlyUsd).toEqual({ 'e2-small': 0 });
  });

  it('reports cost per agent, owner and group, as JSON and CSV, through REST and the CLI', async () => {
    const planes = (args: string[]) =>
      run(process.execPath, ['bin/planes.js', ...args], { env: fleet.cliEnv() });
    const json = await planes(['cost-report', '--plane', plane, '--period', '30d', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as {
      by: string;
      period: { days: number };
      rows: Array<{ key: string; modelUsd: number; infraUsd: number; totalUsd: number; budgetCapUsd: number | null; monthToDateUsd: number; budgetUsedPct: number | null; labels: Record<string, string> }>;
      totals: { totalUsd: number };
    };
    expect(r).toMatchObject({ by: 'agent', period: { days: 30 } });
    const capped = r.rows.find((x) => x.key === 'capped');
    expect(capped?.modelUsd).toBeCloseTo(16.5, 6);
    expect(capped?.infraUsd).toBeGreaterThan(0);
    expect(capped).toMatchObject({ budgetCapUsd: 20, labels: { 'agents-plane': plane, agent: 'capped', owner: 'capped_example_com', 'model-tier': 'sonnet', group: 'research' } });
    expect(capped?.budgetUsedPct).toBeGreaterThanOrEqual(82.5);
    expect(r.rows.find((x) => x.key === 'uncapped')).toMatchObject({ budgetCapUsd: null, budgetUsedPct: null });
    expect(r.totals.totalUsd).toBeCloseTo(r.rows.reduce((s, x) => s + x.totalUsd, 0), 5);

    const byGroup = await planes(['cost-report', '--plane', plane, '--by', 'group', '--json']);
    expect((JSON.parse(byGroup.stdout) as { rows: Array<{ key: string; agents: string[] }> }).rows).toEqual([expect.objectContaining({ key: 'research', agents: expect.arrayContaining(['capped', 'uncapped']) as unknown })]);

    const csv = await planes(['cost-report', '--plane', plane, '--by', 'owner', '--csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const [head, ...lines] = csv.stdout.trim().split('\n');
    expect(head).toBe('owner,agents,infra_usd,model_usd,total_usd,machine_hours,input_tokens,output_tokens,total_tokens,owner,budget_cap_usd,month_to_date_usd,budget_used_pct,period_from,period_to');
    expect(lines.map((l) => l.split(',')[0]).sort()).toEqual(['capped@example.com', 'uncapped@example.com']);

    const table = await planes(['cost-report', '--plane', plane]);
    expect(table.stdout).toMatch(/capped\s+capped@example\.com\s+\$\S+\s+\$16\.50\s+\$16\.\d\d\s+\d+\s+[\d.]+\s+\$16\.\d+ of \$20 \(\d+(\.\d)?%\)/);

    const bad = await planes(['cost-report', '--plane', plane, '--period', 'forever']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/period/);
  });
});
