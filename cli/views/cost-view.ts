/** `planes cost-report` as a table or CSV. */
import type { CostReport } from '../api.ts';
import { table } from '../format.ts';

const usd = (n: number): string => `$${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}`;

export function costTable(r: CostReport): string {
  const agentView = r.by === 'agent';
  const headers = [r.by.toUpperCase(), ...(agentView ? ['OWNER'] : ['AGENTS']), 'MACHINE', 'MODEL', 'TOTAL', 'TOKENS', 'MACHINE-H', ...(agentView ? ['BUDGET (THIS MONTH)'] : [])];
  const rows = r.rows.map((x) => [
    x.removed ? `${x.key} (removed)` : x.key,
    agentView ? (x.owner ?? '') : String(x.agents.length),
    usd(x.infraUsd) + (x.unpricedMachineTypes.length ? ` (no price: ${x.unpricedMachineTypes.join(', ')})` : ''),
    usd(x.modelUsd),
    usd(x.totalUsd),
    String(x.totalTokens),
    x.machineHours.toFixed(1),
    ...(agentView ? [x.budgetCapUsd === null || x.budgetCapUsd === undefined ? '-' : `${usd(x.monthToDateUsd ?? 0)} of $${x.budgetCapUsd} (${x.budgetUsedPct ?? 0}%)`] : []),
  ]);
  rows.push(['TOTAL', '', usd(r.totals.infraUsd), usd(r.totals.modelUsd), usd(r.totals.totalUsd), String(r.totals.totalTokens), r.totals.machineHours.toFixed(1), ...(agentView ? [''] : [])]);
  return `${r.plane}: ${r.period.from} .. ${r.period.to} (UTC), USD\n${table(headers, rows)}`;
}

export function costCsv(r: CostReport): string {
  const cell = (v: string | number | boolean | null | undefined): string => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = [r.by, 'agents', 'infra_usd', 'model_usd', 'total_usd', 'machine_hours', 'input_tokens', 'output_tokens', 'total_tokens', 'owner', 'budget_cap_usd', 'month_to_date_usd', 'budget_used_pct', 'period_from', 'period_to'];
  const lines = r.rows.map((x) =>
    [x.key, x.agents.join(' '), x.infraUsd, x.modelUsd, x.totalUsd, x.machineHours, x.inputTokens, x.outputTokens, x.totalTokens, x.owner, x.budgetCapUsd, x.monthToDateUsd, x.budgetUsedPct, r.period.from, r.period.to].map(cell).join(','),
  );
  return [head.join(','), ...lines].join('\n');
}
