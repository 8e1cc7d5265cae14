import type { CostDaily } from '../types.ts';

const W = 720;
const H = 240;
const PAD = { l: 56, r: 12, t: 12, b: 28 };

/**
 * Spend per day as bars (machine and model stacked), the running total as a
 * line, and the budget at 80, 95 and 100 % as dashed lines when the period is
 * the budget's own (this month). SVG drawn by Preact: no chart library needed
 * for bars and lines; the numbers are in the table and the CSV.
 */
export function CostChart({ data }: { data: CostDaily }) {
  const byDay = new Map(data.days.map((d) => [d.day, d]));
  const days: string[] = [];
  for (let t = Date.parse(data.period.from); t <= Date.parse(data.period.to); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  let running = 0;
  const cumulative = days.map((d) => (running += byDay.get(d)?.totalUsd ?? 0));
  const budget = data.period.spec === 'mtd' ? data.budgetUsd : null;
  const top = Math.max(1e-9, running, ...(budget ? [budget] : []), ...data.days.map((d) => d.totalUsd)) * 1.08;
  const x = (i: number): number => PAD.l + ((W - PAD.l - PAD.r) * i) / Math.max(1, days.length);
  const bw = Math.max(1, (W - PAD.l - PAD.r) / Math.max(1, days.length) - 2);
  const y = (v: number): number => H - PAD.b - ((H - PAD.t - PAD.b) * v) / top;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const fmt = (v: number): string => (top < 10 ? `$${v.toFixed(2)}` : `$${Math.round(v)}`);
  const line = cumulative.map((v, i) => `${i ? 'L' : 'M'}${(x(i) + bw / 2).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Spend per day from ${data.period.from} to ${data.period.to}, ${fmt(running)} in all`}>
        {ticks.map((t) => (
          <g>
            <line class="grid-line" x1={PAD.l} x2={W - PAD.r} y1={y(t)} y2={y(t)} />
            <text class="axis" x={PAD.l - 6} y={y(t) + 4} text-anchor="end">
              {fmt(t)}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          const v = byDay.get(d);
          if (!v) return null;
          return (
            <g>
              <title>{`${d}: machine $${v.infraUsd.toFixed(2)}, model $${v.modelUsd.toFixed(2)}`}</title>
              <rect class="bar-infra" x={x(i)} width={bw} y={y(v.infraUsd)} height={Math.max(0, y(0) - y(v.infraUsd))} />
              <rect class="bar-model" x={x(i)} width={bw} y={y(v.totalUsd)} height={Math.max(0, y(v.infraUsd) - y(v.totalUsd))} />
            </g>
          );
        })}
        <path class="cumulative" d={line} />
        {budget
          ? [0.8, 0.95, 1].map((f) => (
              <g>
                <line class={`budget budget-${Math.round(f * 100)}`} x1={PAD.l} x2={W - PAD.r} y1={y(budget * f)} y2={y(budget * f)} />
                <text class="axis" x={W - PAD.r} y={y(budget * f) - 3} text-anchor="end">
                  {`${Math.round(f * 100)} % of budget`}
                </text>
              </g>
            ))
          : null}
        <text class="axis" x={PAD.l} y={H - 8}>
          {data.period.from}
        </text>
        <text class="axis" x={W - PAD.r} y={H - 8} text-anchor="end">
          {data.period.to}
        </text>
      </svg>
      <figcaption>
        <span class="key key-infra">machine</span> <span class="key key-model">model</span> <span class="key key-line">running total</span>
        {budget ? <span class="key key-budget">budget 80 / 95 / 100 %</span> : <span class="muted"> budget lines show with “this month”</span>}
      </figcaption>
    </figure>
  );
}
