import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Heartbeat__Output } from '../../../proto/index.ts';
import { openDatabase } from '../db/database.ts';
import type { PlaneRecord, PlaneSpec } from '../model.ts';
import { AgentsStore } from '../store/agents-store.ts';
import type { HeartbeatRecord } from '../store/heartbeat-store.ts';
import { PlanesStore } from '../store/planes-store.ts';
import { CostLedger, splitByUtcDay } from './cost-ledger.ts';
import { parsePeriod } from './cost-report.ts';
import { resolvePriceTable } from './price-table.ts';

type Usage = NonNullable<Heartbeat__Output['usage']>;
const model = (name: string, input: number, output: number, cost: number): Usage['byModel'][number] => ({
  model: name,
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  totalTokens: input + output,
  totalCostUsd: cost,
});
const usage = (observedAtMs: number, ...byModel: Usage['byModel']): HeartbeatRecord => ({
  seq: 1,
  receivedAt: observedAtMs,
  heartbeat: { usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, totalTokens: 0, totalCostUsd: 0, byModel, observedAtMs } } as unknown as Heartbeat__Output,
});

describe('cost ledger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const T0 = Date.parse('2026-03-31T23:00:00Z');

  const setup = (costs?: PlaneSpec['costs']) => {
    const db = openDatabase(join(dir, `${Math.random()}.db`));
    const planes = new PlanesStore(db);
    const agents = new AgentsStore(db);
    const plane: PlaneRecord = planes.create('p', { infraProvider: 'local', identityProvider: 'none', secretsProvider: 'local', networkProvider: 'none', region: 'local', defaults: { machineType: 'e2-small', diskSizeGb: 20 }, ...(costs ? { costs } : {}) }, T0);
    const a = agents.create({ plane: 'p', name: 'a', owner: 'a@x.example', spec: { machineType: 'e2-medium', diskSizeGb: 20, modelTier: 'sonnet', group: 'eng', tools: [], channels: [] } }, T0);
    const b = agents.create({ plane: 'p', name: 'b', owner: 'b@x.example', spec: { machineType: 'odd-type', diskSizeGb: 10, modelTier: 'haiku', tools: [], channels: [] } }, T0);
    const ledger = new CostLedger(db);
    const map = new Map([['p', plane]]);
    const prices = (p: PlaneRecord) => resolvePriceTable(undefined, p.spec.costs?.prices);
    return { db, ledger, agents: [a, b], map, prices, a, b };
  };

  it('books only increases of the cumulative usage, per model, and never books a drop', () => {
    const { ledger, agents, map, prices, a } = setup();
    const hb = new Map<string, HeartbeatRecord>();
    const accrue = (now: number) => ledger.accrue(agents, map, prices, (id) => hb.get(id), now);
    hb.set(a.id, usage(T0 + 1000, model('fakeai/fake-1', 1000, 100, 0.5)));
    accrue(T0 + 1000);
    // Same report again (unchanged heartbeat): nothing new.
    accrue(T0 + 2000);
    hb.set(a.id, usage(T0 + 3000, model('fakeai/fake-1', 1500, 150, 0.75), model('other/m', 10, 0, 0.01)));
    accrue(T0 + 3000);
    // Old sessions leave OpenClaw's 30-day window: the total drops; nothing is booked or refunded.
    hb.set(a.id, usage(T0 + 4000, model('fakeai/fake-1', 200, 20, 0.1), model('other/m', 10, 0, 0.01)));
    accrue(T0 + 4000);
    // New use after the drop counts from the new cursor.
    hb.set(a.id, usage(T0 + 5000, model('fakeai/fake-1', 300, 30, 0.15), model('other/m', 10, 0, 0.01)));
    accrue(T0 + 5000);
    const [row] = ledger.report('p', '2026-03-31', '2026-03-31', 'agent').filter((r) => r.key === 'a');
    expect(row?.byModel.find((m) => m.model === 'fakeai/fake-1')).toEqual({ model: 'fakeai/fake-1', totalTokens: 1650 + 110, costUsd: expect.closeTo(0.75 + 0.05, 9) as unknown });
    expect(row?.byModel.find((m) => m.model === 'other/m')?.totalTokens).toBe(10);
    expect(row?.modelUsd).toBeCloseTo(0.81, 9);
    expect(row?.inputTokens).toBe(1500 + 100 + 10);
  });

  it('prices tokens itself when the price table lists the model, instead of the reported cost', () => {
    const { ledger, agents, map, prices, a } = setup({ prices: { modelPerMTokUsd: { 'fakeai/fake-1': { input: 3, output: 15 } } } });
    ledger.accrue(agents, map, prices, (id) => (id === a.id ? usage(T0 + 1000, model('fakeai/fake-1', 1_000_000, 100_000, 999)) : undefined), T0 + 1000);
    expect(ledger.report('p', '2026-03-31', '2026-03-31', 'agent').find((r) => r.key === 'a')?.modelUsd).toBeCloseTo(3 + 1.5, 9);
  });

  it('charges machine time per UTC day from creation, at the machine type and disk price; unpriced types are counted, not charged', () => {
    const { ledger, agents, map, prices } = setup();
    ledger.accrue(agents, map, prices, () => undefined, T0 + 1800_000); // 23:00 -> 23:30
    ledger.accrue(agents, map, prices, () => undefined, T0 + 7200_000); // -> 01:00 next day (April)
    const march = ledger.report('p', '2026-03-31', '2026-03-31', 'agent');
    const april = ledger.report('p', '2026-04-01', '2026-04-01', 'agent');
    const perHour = 0.0335 + 20 * (0.1 / 730);
    expect(march.find((r) => r.key === 'a')).toMatchObject({ machineHours: 1, infraUsd: expect.closeTo(perHour, 9) as unknown });
    expect(april.find((r) => r.key === 'a')).toMatchObject({ machineHours: 1, infraUsd: expect.closeTo(perHour, 9) as unknown });
    expect(april.find((r) => r.key === 'b')).toMatchObject({ machineHours: 1, infraUsd: 0, unpricedMachineTypes: ['odd-type'] });
    // The budget period is the UTC month: April so far is one hour.
    expect(ledger.monthToDate('p', T0 + 7200_000).get('a')?.infraUsd).toBeCloseTo(perHour, 9);
    // By group and owner.
    expect(ledger.report('p', '2026-03-31', '2026-04-01', 'group').map((r) => r.key).sort()).toEqual(['(none)', 'eng']);
    expect(ledger.report('p', '2026-03-31', '2026-04-01', 'owner').map((r) => r.key).sort()).toEqual(['a@x.example', 'b@x.example']);
  });

  it('sums spend per UTC day, of the whole plane or of some agents', () => {
    const { ledger, agents, map, prices } = setup();
    ledger.accrue(agents, map, prices, () => undefined, T0 + 7200_000); // 23:00 -> 01:00: one hour each day
    const perHour = 0.0335 + 20 * (0.1 / 730);
    const all = ledger.daily('p', '2026-03-30', '2026-04-01');
    expect(all.map((d) => d.day)).toEqual(['2026-03-31', '2026-04-01']);
    expect(all[0]).toMatchObject({ infraUsd: expect.closeTo(perHour, 9) as unknown, modelUsd: 0 });
    expect(ledger.daily('p', '2026-04-01', '2026-04-01', ['b'])).toEqual([{ day: '2026-04-01', infraUsd: 0, modelUsd: 0 }]);
    expect(ledger.daily('p', '2026-04-01', '2026-04-01', ['nobody'])).toEqual([]);
  });

  it('keeps a removed agent’s spend in past reports', () => {
    const { db, ledger, agents, map, prices, a } = setup();
    ledger.accrue(agents, map, prices, () => undefined, T0 + 3600_000);
    new AgentsStore(db).delete(a.id);
    expect(ledger.report('p', '2026-03-31', '2026-04-01', 'agent').map((r) => r.key).sort()).toEqual(['a', 'b']);
  });

  it('splits intervals at UTC midnight and parses report periods', () => {
    expect(splitByUtcDay(Date.parse('2026-01-01T23:30:00Z'), Date.parse('2026-01-03T00:15:00Z'))).toEqual([
      ['2026-01-01', 1800],
      ['2026-01-02', 86400],
      ['2026-01-03', 900],
    ]);
    const now = Date.parse('2026-03-14T10:00:00Z');
    expect(parsePeriod('30d', now)).toEqual({ from: '2026-02-13', to: '2026-03-14', days: 30 });
    expect(parsePeriod('1d', now)).toEqual({ from: '2026-03-14', to: '2026-03-14', days: 1 });
    expect(parsePeriod('mtd', now)).toEqual({ from: '2026-03-01', to: '2026-03-14', days: 14 });
    expect(() => parsePeriod('0d', now)).toThrow(/period '0d' is not valid/);
    expect(() => parsePeriod('400d', now)).toThrow(/not valid/);
  });
});
