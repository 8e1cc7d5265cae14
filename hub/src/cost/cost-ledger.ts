import type { Heartbeat__Output } from '../../../proto/index.ts';
import { type Db, statementCache } from '../db/database.ts';
import type { AgentRecord, PlaneRecord } from '../model.ts';
import type { HeartbeatRecord } from '../store/heartbeat-store.ts';
import { priceMachine, priceTokens, type PriceTable } from './price-table.ts';

export type CostGrouping = 'agent' | 'owner' | 'group';

/** One line of a cost report: an agent, an owner or a group. */
export interface CostRow {
  key: string;
  agents: string[];
  infraUsd: number;
  modelUsd: number;
  totalUsd: number;
  machineHours: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** Machine types without a price in the table: their time is counted, not charged. */
  unpricedMachineTypes: string[];
  byModel: Array<{ model: string; totalTokens: number; costUsd: number }>;
}

export interface SpendToDate {
  infraUsd: number;
  modelUsd: number;
  totalUsd: number;
}

interface Cursor {
  input: number;
  output: number;
  cache: number;
  total: number;
  cost: number;
}

const UTC_DAY_MS = 86_400_000;

/** "2026-03-14" for an instant (UTC). */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** "2026-03" for an instant (UTC): the budget period. */
export const utcMonth = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

/** [from, to) cut at UTC midnights: [day, seconds] per day touched. */
export function splitByUtcDay(from: number, to: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let t = from;
  while (t < to) {
    const end = Math.min(to, (Math.floor(t / UTC_DAY_MS) + 1) * UTC_DAY_MS);
    out.push([utcDay(t), (end - t) / 1000]);
    t = end;
  }
  return out;
}

/**
 * The hub's record of what each agent costs, per UTC day: machine time priced
 * from the price table, and model spend from the token usage in heartbeats.
 *
 * OpenClaw reports usage as totals over a rolling window (its last 30 days),
 * so the ledger keeps the last total seen per agent and model and books only
 * increases. A total that goes down (old sessions left the window, or a blank
 * agent started over) moves the cursor without booking anything: usage between
 * the last report and such a drop can be missed, never counted twice.
 */
export class CostLedger {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  /** observedAtMs of the last usage report booked per agent (skips unchanged heartbeats). */
  readonly #seen = new Map<string, number>();

  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
    for (const r of db.prepare('SELECT agent_id, MAX(observed_at) AS at FROM usage_cursors GROUP BY agent_id').all() as Array<{ agent_id: string; at: number }>) {
      this.#seen.set(r.agent_id, r.at);
    }
  }

  #book(a: AgentRecord, day: string, kind: 'model' | 'infra', item: string, v: { input?: number; output?: number; cache?: number; total?: number; seconds?: number; cost: number }): void {
    this.#q(
      `INSERT INTO cost_ledger (plane, agent, day, kind, item, owner, grp, input_tokens, output_tokens, cache_tokens, total_tokens, seconds, cost_usd)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (plane, agent, day, kind, item) DO UPDATE SET
         owner = excluded.owner, grp = excluded.grp,
         input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
         cache_tokens = cache_tokens + excluded.cache_tokens, total_tokens = total_tokens + excluded.total_tokens,
         seconds = seconds + excluded.seconds, cost_usd = cost_usd + excluded.cost_usd`,
    ).run(a.plane, a.name, day, kind, item, a.owner, a.spec.group ?? null, v.input ?? 0, v.output ?? 0, v.cache ?? 0, v.total ?? 0, v.seconds ?? 0, v.cost);
  }

  /**
   * Books everything new up to `now`, in one transaction: machine time since the
   * last charge (every agent in the database has a machine, paused or not) and
   * usage increases from each agent's latest heartbeat.
   */
  accrue(agents: readonly AgentRecord[], planes: ReadonlyMap<string, PlaneRecord>, prices: (plane: PlaneRecord) => PriceTable, heartbeat: (agentId: string) => HeartbeatRecord | undefined, now = Date.now()): void {
    this.#db.transaction(() => {
      for (const a of agents) {
        const plane = planes.get(a.plane);
        if (!plane) continue;
        const table = prices(plane);
        this.#accrueMachine(a, table, now);
        const usage = heartbeat(a.id)?.heartbeat.usage;
        if (usage && usage.observedAtMs > (this.#seen.get(a.id) ?? 0)) this.#accrueUsage(a, table, usage, now);
      }
    })();
  }

  #accrueMachine(a: AgentRecord, table: PriceTable, now: number): void {
    const row = this.#q('SELECT charged_until FROM infra_cursors WHERE agent_id = ?').get(a.id) as { charged_until: number } | undefined;
    const from = row?.charged_until ?? a.createdAt;
    if (now <= from) return;
    for (const [day, seconds] of splitByUtcDay(from, now)) {
      this.#book(a, day, 'infra', a.spec.machineType, { seconds, cost: priceMachine(table, a.spec.machineType, a.spec.diskSizeGb, seconds) ?? 0 });
    }
    this.#q('INSERT INTO infra_cursors (agent_id, charged_until) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET charged_until = excluded.charged_until').run(a.id, now);
  }

  #accrueUsage(a: AgentRecord, table: PriceTable, u: NonNullable<Heartbeat__Output['usage']>, now: number): void {
    const entries =
      u.byModel.length > 0
        ? u.byModel
        : u.totalTokens > 0 || u.totalCostUsd > 0
          ? [{ model: 'unattributed', inputTokens: u.inputTokens, outputTokens: u.outputTokens, cacheReadTokens: u.cacheReadTokens, cacheWriteTokens: u.cacheWriteTokens, totalTokens: u.totalTokens, totalCostUsd: u.totalCostUsd }]
          : [];
    const day = utcDay(now);
    for (const m of entries) {
      const prev = this.#q('SELECT input_tokens AS input, output_tokens AS output, cache_tokens AS cache, total_tokens AS total, cost_usd AS cost FROM usage_cursors WHERE agent_id = ? AND model = ?').get(a.id, m.model) as Cursor | undefined;
      const cur: Cursor = { input: m.inputTokens, output: m.outputTokens, cache: m.cacheReadTokens + m.cacheWriteTokens, total: m.totalTokens, cost: m.totalCostUsd };
      const d = (k: keyof Cursor): number => Math.max(0, cur[k] - (prev?.[k] ?? 0));
      const delta = { input: d('input'), output: d('output'), cache: d('cache'), total: d('total'), reported: d('cost') };
      // Split cache tokens back into read/write for pricing by their shares of the new totals.
      const listed = table.modelPerMTokUsd[m.model];
      const cacheShareRead = cur.cache > 0 ? m.cacheReadTokens / cur.cache : 1;
      const cost = listed
        ? priceTokens(listed, { inputTokens: delta.input, outputTokens: delta.output, cacheReadTokens: delta.cache * cacheShareRead, cacheWriteTokens: delta.cache * (1 - cacheShareRead) })
        : delta.reported;
      if (delta.total > 0 || cost > 0) this.#book(a, day, 'model', m.model, { input: delta.input, output: delta.output, cache: delta.cache, total: delta.total, cost });
      this.#q(
        `INSERT INTO usage_cursors (agent_id, model, input_tokens, output_tokens, cache_tokens, total_tokens, cost_usd, observed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, model) DO UPDATE SET input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, cache_tokens = excluded.cache_tokens,
           total_tokens = excluded.total_tokens, cost_usd = excluded.cost_usd, observed_at = excluded.observed_at`,
      ).run(a.id, m.model, cur.input, cur.output, cur.cache, cur.total, cur.cost, u.observedAtMs);
    }
    this.#seen.set(a.id, u.observedAtMs);
  }

  /** Spend per agent of a plane since the first day of `now`'s UTC month (the budget period). */
  monthToDate(plane: string, now = Date.now()): Map<string, SpendToDate> {
    const rows = this.#q(`SELECT agent, kind, SUM(cost_usd) AS usd FROM cost_ledger WHERE plane = ? AND day >= ? GROUP BY agent, kind`).all(plane, `${utcMonth(now)}-01`) as Array<{
      agent: string;
      kind: 'model' | 'infra';
      usd: number;
    }>;
    const out = new Map<string, SpendToDate>();
    for (const r of rows) {
      const s = out.get(r.agent) ?? { infraUsd: 0, modelUsd: 0, totalUsd: 0 };
      if (r.kind === 'infra') s.infraUsd += r.usd;
      else s.modelUsd += r.usd;
      s.totalUsd = s.infraUsd + s.modelUsd;
      out.set(r.agent, s);
    }
    return out;
  }

  /** Spend per UTC day of a plane over [fromDay, toDay], of some agents or all; days without spend are absent. */
  daily(plane: string, fromDay: string, toDay: string, agents?: readonly string[]): Array<{ day: string; infraUsd: number; modelUsd: number }> {
    const only = agents ? new Set(agents) : undefined;
    const rows = this.#q(`SELECT day, agent, kind, SUM(cost_usd) AS usd FROM cost_ledger WHERE plane = ? AND day >= ? AND day <= ? GROUP BY day, agent, kind ORDER BY day`).all(plane, fromDay, toDay) as Array<{
      day: string;
      agent: string;
      kind: 'model' | 'infra';
      usd: number;
    }>;
    const byDay = new Map<string, { day: string; infraUsd: number; modelUsd: number }>();
    for (const r of rows) {
      if (only && !only.has(r.agent)) continue;
      const d = byDay.get(r.day) ?? { day: r.day, infraUsd: 0, modelUsd: 0 };
      if (r.kind === 'infra') d.infraUsd += r.usd;
      else d.modelUsd += r.usd;
      byDay.set(r.day, d);
    }
    return [...byDay.values()];
  }

  /** Cost of a plane over the UTC days [fromDay, toDay], one row per agent, owner or group. */
  report(plane: string, fromDay: string, toDay: string, by: CostGrouping): CostRow[] {
    const rows = this.#q(
      `SELECT agent, owner, grp, kind, item, SUM(input_tokens) AS input, SUM(output_tokens) AS output, SUM(total_tokens) AS total, SUM(seconds) AS seconds, SUM(cost_usd) AS usd
       FROM cost_ledger WHERE plane = ? AND day >= ? AND day <= ? GROUP BY agent, owner, grp, kind, item`,
    ).all(plane, fromDay, toDay) as Array<{ agent: string; owner: string; grp: string | null; kind: 'model' | 'infra'; item: string; input: number; output: number; total: number; seconds: number; usd: number }>;
    const byKey = new Map<string, CostRow>();
    for (const r of rows) {
      const key = by === 'agent' ? r.agent : by === 'owner' ? r.owner : (r.grp ?? '(none)');
      let row = byKey.get(key);
      if (!row) {
        row = { key, agents: [], infraUsd: 0, modelUsd: 0, totalUsd: 0, machineHours: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, unpricedMachineTypes: [], byModel: [] };
        byKey.set(key, row);
      }
      if (!row.agents.includes(r.agent)) row.agents.push(r.agent);
      if (r.kind === 'infra') {
        row.infraUsd += r.usd;
        row.machineHours += r.seconds / 3600;
        if (r.usd === 0 && r.seconds > 0 && !row.unpricedMachineTypes.includes(r.item)) row.unpricedMachineTypes.push(r.item);
      } else {
        row.modelUsd += r.usd;
        row.inputTokens += r.input;
        row.outputTokens += r.output;
        row.totalTokens += r.total;
        const m = row.byModel.find((x) => x.model === r.item);
        if (m) {
          m.totalTokens += r.total;
          m.costUsd += r.usd;
        } else row.byModel.push({ model: r.item, totalTokens: r.total, costUsd: r.usd });
      }
      row.totalUsd = row.infraUsd + row.modelUsd;
    }
    return [...byKey.values()].sort((a, b) => b.totalUsd - a.totalUsd || a.key.localeCompare(b.key));
  }
}
