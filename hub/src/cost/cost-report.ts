import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { HubContext } from '../hub-context.ts';
import { costLabels } from './cost-labels.ts';
import { type CostGrouping, type CostRow, utcDay, utcMonth } from './cost-ledger.ts';
import type { PriceTable } from './price-table.ts';

export interface CostReportRow extends CostRow {
  /** by=agent only: who and what the agent is now (or was, if removed). */
  owner?: string;
  group?: string | null;
  machineType?: string;
  modelTier?: string;
  removed?: boolean;
  /** The labels a cloud provider attaches to the agent's resources. */
  labels?: Record<string, string>;
  /** by=agent only: the monthly cap, spend this UTC month, and the share used. */
  budgetCapUsd?: number | null;
  monthToDateUsd?: number;
  budgetUsedPct?: number | null;
}

export interface CostReport {
  plane: string;
  by: CostGrouping;
  currency: 'USD';
  period: { spec: string; from: string; to: string; days: number };
  rows: CostReportRow[];
  totals: { infraUsd: number; modelUsd: number; totalUsd: number; machineHours: number; totalTokens: number };
  prices: { machineHourlyUsd: Record<string, number>; diskGbMonthUsd: number; modelPerMTokUsd: PriceTable['modelPerMTokUsd'] };
  generatedAt: string;
}

const DAY_MS = 86_400_000;

/** "30d" → the last 30 UTC days including today; "mtd" → since the 1st of this UTC month. */
export function parsePeriod(spec: string, now: number): { from: string; to: string; days: number } {
  const to = utcDay(now);
  if (spec === 'mtd') {
    const from = `${utcMonth(now)}-01`;
    return { from, to, days: Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS) + 1 };
  }
  const m = /^([1-9]\d{0,2})d$/.exec(spec);
  const days = m ? Number(m[1]) : NaN;
  if (!m || days > 366) throw new PlaneError(ErrorCode.InvalidArgument, `period '${spec}' is not valid: use Nd with N from 1 to 366 (e.g. 30d), or mtd`, { where: 'period' });
  return { from: utcDay(now - (days - 1) * DAY_MS), to, days };
}

const roundUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;

/** REQ-INFRA-07: what a plane cost over a period, per agent, owner or group, from the hub's ledger. */
export function buildCostReport(ctx: HubContext, planeName: string, periodSpec: string, by: CostGrouping, now = Date.now()): CostReport {
  const plane = ctx.planes.get(planeName);
  const period = parsePeriod(periodSpec, now);
  const rows: CostReportRow[] = ctx.ledger.report(planeName, period.from, period.to, by);
  if (by === 'agent') {
    const mtd = ctx.ledger.monthToDate(planeName, now);
    const agents = ctx.agents.list(planeName);
    for (const a of agents) {
      if (!rows.some((r) => r.key === a.name)) {
        rows.push({ key: a.name, agents: [a.name], infraUsd: 0, modelUsd: 0, totalUsd: 0, machineHours: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, unpricedMachineTypes: [], byModel: [] });
      }
    }
    for (const r of rows) {
      const a = agents.find((x) => x.name === r.key);
      const spent = mtd.get(r.key)?.totalUsd ?? 0;
      const cap = a?.spec.budgetCap;
      Object.assign(r, {
        removed: !a,
        monthToDateUsd: roundUsd(spent),
        budgetCapUsd: cap ?? null,
        budgetUsedPct: cap === undefined ? null : cap > 0 ? Math.round((spent / cap) * 1000) / 10 : spent > 0 ? 100 : 0,
        ...(a ? { owner: a.owner, group: a.spec.group ?? null, machineType: a.spec.machineType, modelTier: a.spec.modelTier, labels: costLabels(a) } : {}),
      });
    }
  }
  for (const r of rows) {
    r.infraUsd = roundUsd(r.infraUsd);
    r.modelUsd = roundUsd(r.modelUsd);
    r.totalUsd = roundUsd(r.totalUsd);
    r.machineHours = Math.round(r.machineHours * 1e6) / 1e6;
    for (const m of r.byModel) m.costUsd = roundUsd(m.costUsd);
  }
  const table = ctx.prices(plane);
  const types = new Set(ctx.agents.list(planeName).map((a) => a.spec.machineType));
  return {
    plane: planeName,
    by,
    currency: 'USD',
    period: { spec: periodSpec, ...period },
    rows,
    totals: {
      infraUsd: roundUsd(rows.reduce((s, r) => s + r.infraUsd, 0)),
      modelUsd: roundUsd(rows.reduce((s, r) => s + r.modelUsd, 0)),
      totalUsd: roundUsd(rows.reduce((s, r) => s + r.totalUsd, 0)),
      machineHours: Math.round(rows.reduce((s, r) => s + r.machineHours, 0) * 1e6) / 1e6,
      totalTokens: rows.reduce((s, r) => s + r.totalTokens, 0),
    },
    prices: {
      machineHourlyUsd: Object.fromEntries([...types].sort().filter((t) => table.machineHourlyUsd[t] !== undefined).map((t) => [t, table.machineHourlyUsd[t] as number])),
      diskGbMonthUsd: table.diskGbMonthUsd,
      modelPerMTokUsd: table.modelPerMTokUsd,
    },
    generatedAt: new Date(now).toISOString(),
  };
}
