import { useMemo, useState } from 'preact/hooks';
import { api, download, enc, toCsv } from '../api.ts';
import { ErrorBox, usd, useLoad } from '../components.tsx';
import { useFleet } from '../feed.ts';
import type { CostDaily, CostReport, Plane } from '../types.ts';
import { CostChart } from './cost-chart.tsx';

type By = 'agent' | 'owner' | 'group' | 'ou';
interface Line {
  key: string;
  agents: string[];
  infraUsd: number;
  modelUsd: number;
  totalUsd: number;
  totalTokens: number;
  budgetCapUsd: number | null;
  monthToDateUsd: number | null;
}

/** Spend by agent, owner, group or OU over a period: the hub's cost report, a chart per day, and CSV. */
export function CostPage() {
  const planes = useLoad(() => api<{ planes: Plane[] }>('GET', '/v1/planes'), []);
  const [planeSel, setPlane] = useState('');
  const [period, setPeriod] = useState('mtd');
  const [by, setBy] = useState<By>('agent');
  const [pick, setPick] = useState<string | null>(null);
  const plane = planeSel || planes.data?.planes[0]?.name || '';
  // OU is not a grouping of the hub's report: rows by agent are summed by each agent's OU here.
  const report = useLoad(
    () => (plane ? api<CostReport>('GET', `/v1/planes/${enc(plane)}/cost-report?period=${enc(period)}&by=${by === 'ou' ? 'agent' : by}`) : Promise.resolve(undefined)),
    [plane, period, by],
  );
  const fleet = useFleet();
  const lines = useMemo((): Line[] => {
    const rows = report.data?.rows ?? [];
    const base = rows.map((r) => ({ key: r.key, agents: r.agents, infraUsd: r.infraUsd, modelUsd: r.modelUsd, totalUsd: r.totalUsd, totalTokens: r.totalTokens, budgetCapUsd: r.budgetCapUsd ?? null, monthToDateUsd: r.monthToDateUsd ?? null }));
    if (by !== 'ou') return base;
    const ouOf = new Map(fleet.rows.filter((r) => r.plane === plane).map((r) => [r.name, r.ou ?? '(none)']));
    const out = new Map<string, Line>();
    for (const r of base) {
      const k = ouOf.get(r.key) ?? '(removed)';
      const l = out.get(k) ?? { key: k, agents: [], infraUsd: 0, modelUsd: 0, totalUsd: 0, totalTokens: 0, budgetCapUsd: null, monthToDateUsd: null };
      l.agents.push(...r.agents);
      l.infraUsd += r.infraUsd;
      l.modelUsd += r.modelUsd;
      l.totalUsd += r.totalUsd;
      l.totalTokens += r.totalTokens;
      if (r.budgetCapUsd !== null) l.budgetCapUsd = (l.budgetCapUsd ?? 0) + r.budgetCapUsd;
      if (r.monthToDateUsd !== null) l.monthToDateUsd = (l.monthToDateUsd ?? 0) + r.monthToDateUsd;
      out.set(k, l);
    }
    return [...out.values()].sort((a, b) => b.totalUsd - a.totalUsd);
  }, [report.data, by, fleet.rows, plane]);
  const selected = lines.find((l) => l.key === pick);
  const daily = useLoad(
    () => (plane ? api<CostDaily>('GET', `/v1/console/planes/${enc(plane)}/cost-daily?period=${enc(period)}${selected ? `&agents=${enc(selected.agents.join(','))}` : ''}`) : Promise.resolve(undefined)),
    [plane, period, selected?.key],
  );
  const csv = (): void => {
    const p = report.data?.period;
    download(
      `cost-${plane}-${by}-${p?.from ?? ''}-${p?.to ?? ''}.csv`,
      'text/csv',
      toCsv(
        [by, 'agents', 'infra_usd', 'model_usd', 'total_usd', 'total_tokens', 'budget_cap_usd', 'month_to_date_usd', 'period_from', 'period_to'],
        lines.map((l) => [l.key, l.agents.join(' '), l.infraUsd, l.modelUsd, l.totalUsd, l.totalTokens, l.budgetCapUsd, l.monthToDateUsd, p?.from, p?.to]),
      ),
    );
  };
  return (
    <div>
      <h1>Cost</h1>
      <ErrorBox error={planes.error ?? report.error} />
      <div class="filters">
        <label>
          Plane
          <select value={plane} onChange={(e) => (setPlane((e.target as HTMLSelectElement).value), setPick(null))}>
            {(planes.data?.planes ?? []).map((p) => (
              <option value={p.name}>{p.name}</option>
            ))}
          </select>
        </label>
        <label>
          Period
          <select value={period} onChange={(e) => setPeriod((e.target as HTMLSelectElement).value)}>
            <option value="mtd">this month</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
            <option value="90d">last 90 days</option>
          </select>
        </label>
        <label>
          By
          <select value={by} onChange={(e) => (setBy((e.target as HTMLSelectElement).value as By), setPick(null))}>
            <option value="agent">agent</option>
            <option value="owner">owner</option>
            <option value="group">group</option>
            <option value="ou">OU</option>
          </select>
        </label>
        <button type="button" onClick={csv} disabled={!lines.length}>
          Export CSV
        </button>
      </div>
      <h2>
        {selected ? `${by} ${selected.key}` : `plane ${plane}`}: {usd(selected ? selected.totalUsd : (report.data?.totals.totalUsd ?? null))}
        {selected ? (
          <button type="button" class="link" onClick={() => setPick(null)}>
            show the whole plane
          </button>
        ) : null}
      </h2>
      <ErrorBox error={daily.error} />
      {daily.data ? <CostChart data={daily.data} /> : null}
      <div class="table-wrap">
        <table class="compact cost">
          <thead>
            <tr>
              <th scope="col">{by === 'ou' ? 'OU' : by}</th>
              <th scope="col">Machine</th>
              <th scope="col">Model</th>
              <th scope="col">Total</th>
              <th scope="col">Tokens</th>
              <th scope="col">Budget this month</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((l) => (
              <tr aria-selected={l.key === pick}>
                <td>
                  <button type="button" class="link" onClick={() => setPick(l.key)}>
                    {l.key}
                  </button>
                </td>
                <td>{usd(l.infraUsd)}</td>
                <td>{usd(l.modelUsd)}</td>
                <td>{usd(l.totalUsd)}</td>
                <td>{l.totalTokens}</td>
                <td>{l.budgetCapUsd !== null ? `${usd(l.monthToDateUsd)} of ${usd(l.budgetCapUsd)} (${l.budgetCapUsd > 0 ? Math.round(((l.monthToDateUsd ?? 0) / l.budgetCapUsd) * 100) : 0}%)` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
