import { memo } from 'preact/compat';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ago, HealthBadge, useNow, usd } from '../components.tsx';
import { useFleet } from '../feed.ts';
import { runCounts, targetStateText } from '../run-states.ts';
import type { Row } from '../types.ts';

/** The count cards; each is also a filter of the table. */
const FILTERS = {
  green: { label: 'Green', test: (r: Row) => r.connected && r.health.color === 'green' },
  yellow: { label: 'Yellow', test: (r: Row) => r.connected && r.health.color === 'yellow' },
  red: { label: 'Red', test: (r: Row) => r.connected && r.health.color === 'red' },
  offline: { label: 'Offline', test: (r: Row) => !r.connected },
  outdated: { label: 'Outdated', test: (r: Row) => r.outdated },
  budget: { label: 'Over 80 % of budget', test: (r: Row) => (r.budgetPct ?? 0) >= 80 },
} as const;
type FilterKey = keyof typeof FILTERS;

const COLUMNS: Array<{ key: string; label: string; value: (r: Row) => string | number }> = [
  { key: 'plane', label: 'Plane', value: (r) => r.plane },
  { key: 'agent', label: 'Agent', value: (r) => r.name },
  { key: 'owner', label: 'Owner', value: (r) => r.owner },
  { key: 'health', label: 'Health', value: (r) => (r.connected ? { red: 0, yellow: 1, green: 2 }[r.health.color] : -1) },
  { key: 'gateway', label: 'Gateway', value: (r) => r.gateway ?? '' },
  { key: 'version', label: 'OpenClaw', value: (r) => r.version ?? '' },
  { key: 'heartbeat', label: 'Last heartbeat', value: (r) => -(r.lastHeartbeatAt ?? 0) },
  { key: 'sync', label: 'Sync lag', value: (r) => r.syncLagMs ?? -1 },
  { key: 'spend', label: 'Spend / budget', value: (r) => r.budgetPct ?? r.spendUsd / 1e9 },
  { key: 'run', label: 'Run', value: (r) => (r.run ? r.run.kind : '') },
];

/** Every row is this tall (CSS keeps it so): the table draws only the rows in view, so 1,000 agents cost what 30 do. */
const ROW_PX = 44;
const OVERSCAN = 10;

const lag = (ms: number | null): string => (ms === null ? '—' : ms < 1000 ? '<1s' : `${Math.round(ms / 1000)}s`);

const FleetRowView = memo(function FleetRowView({ r, now, index }: { r: Row; now: number; index: number }) {
  return (
    <tr data-agent={`${r.plane}/${r.name}`} data-health={r.connected ? r.health.color : 'offline'} aria-rowindex={index + 2}>
      <td>{r.plane}</td>
      <td>
        <a href={`/console/agents/${r.plane}/${r.name}`}>{r.name}</a>
      </td>
      <td class="owner">{r.owner}</td>
      <td class="health">
        <HealthBadge color={r.health.color} offline={!r.connected} />
        <span class="reason">{r.health.reason}</span>
        {r.breakerOpen ? <span class="tag tag-red">self-healing stopped</span> : null}
      </td>
      <td>{r.paused ? 'paused' : (r.gateway ?? '—')}</td>
      <td>
        {r.version ?? (r.runtime === 'placeholder' ? 'placeholder' : '—')}
        {r.outdated ? <span class="tag tag-yellow">outdated</span> : null}
      </td>
      <td>{ago(r.lastHeartbeatAt, now)}</td>
      <td>{lag(r.syncLagMs)}</td>
      <td>
        {usd(r.spendUsd)}
        {r.budgetUsd !== null ? ` of ${usd(r.budgetUsd)}` : ''}
        {r.budgetPct !== null ? <span class={`tag ${r.budgetPct >= 95 ? 'tag-red' : r.budgetPct >= 80 ? 'tag-yellow' : 'tag-plain'}`}>{r.budgetPct}%</span> : null}
      </td>
      <td>
        {r.run ? (
          <a href={`/console/runs/${r.plane}/${r.run.id}`} title={`${r.run.kind}: ${targetStateText(r.run.state)}`}>
            {`${r.run.kind} (${r.run.state})`}
          </a>
        ) : (
          ''
        )}
      </td>
    </tr>
  );
});

/** The slice of rows in view, from the scroll position of the table's box. */
function useWindow(total: number): { box: { current: HTMLDivElement | null }; start: number; end: number; onScroll: () => void } {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  const frame = useRef(0);
  const onScroll = (): void => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => {
      const el = box.current;
      if (el) setView({ top: el.scrollTop, height: el.clientHeight });
    });
  };
  useEffect(() => {
    onScroll();
    addEventListener('resize', onScroll);
    return () => removeEventListener('resize', onScroll);
  }, []);
  const start = Math.max(0, Math.floor(view.top / ROW_PX) - OVERSCAN);
  const end = Math.min(total, Math.ceil((view.top + view.height) / ROW_PX) + OVERSCAN);
  return { box, start, end, onScroll };
}

export function FleetPage() {
  const fleet = useFleet();
  const { query, route, path } = useLocation();
  const filter = (query['health'] ?? '') as FilterKey | '';
  const q = (query['q'] ?? '').toLowerCase();
  const plane = query['plane'] ?? '';
  const sort = query['sort'] ?? 'health';
  const dir = query['dir'] === 'desc' ? -1 : 1;
  // Ages tick on a heartbeat's rhythm; the rows themselves come from the feed.
  const now = useNow(Math.max(1000, fleet.heartbeatIntervalMs)) + fleet.skewMs;

  const set = (patch: Record<string, string>): void => {
    const next = new URLSearchParams({ ...query, ...patch });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    const s = next.toString();
    route(`${path}${s ? `?${s}` : ''}`, true);
  };

  const planes = useMemo(() => [...new Set(fleet.rows.map((r) => r.plane))].sort(), [fleet.rows]);
  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const k of Object.keys(FILTERS) as FilterKey[]) c[k] = fleet.rows.filter(FILTERS[k].test).length;
    return c;
  }, [fleet.rows]);
  const shown = useMemo(() => {
    const col = COLUMNS.find((c) => c.key === sort) ?? COLUMNS[3];
    const rows = fleet.rows.filter(
      (r) =>
        (!filter || FILTERS[filter]?.test(r)) &&
        (!plane || r.plane === plane) &&
        (!q || r.name.includes(q) || r.owner.toLowerCase().includes(q) || r.plane.includes(q) || r.health.reason.toLowerCase().includes(q)),
    );
    const v = col?.value ?? (() => 0);
    return rows.sort((a, b) => {
      const x = v(a);
      const y = v(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || a.plane.localeCompare(b.plane) || a.name.localeCompare(b.name);
    });
  }, [fleet.rows, filter, plane, q, sort, dir]);

  const win = useWindow(shown.length);
  useEffect(() => {
    // The benchmark reads when the first full table was on screen.
    if (fleet.ready && !performance.getEntriesByName('fleet-rendered').length) performance.mark('fleet-rendered', { detail: { rows: fleet.rows.length } });
  }, [fleet.ready, fleet.rows.length]);

  return (
    <div>
      <h1>
        Fleet <span class={`live ${fleet.live ? 'live-on' : 'live-off'}`}>{fleet.live ? 'live' : 'reconnecting…'}</span>
      </h1>
      <ul class="cards" aria-label="Agents by state">
        {(Object.keys(FILTERS) as FilterKey[]).map((k) => (
          <li>
            <a class={`count count-${k}`} href={`/console/?health=${k}`} aria-current={filter === k ? 'true' : undefined}>
              <span class="n">{counts[k]}</span> {FILTERS[k].label}
            </a>
          </li>
        ))}
      </ul>
      <div class="filters" role="search">
        <label>
          Search
          <input type="search" value={query['q'] ?? ''} placeholder="agent, owner, plane or reason" onInput={(e) => set({ q: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Plane
          <select value={plane} onChange={(e) => set({ plane: (e.target as HTMLSelectElement).value })}>
            <option value="">all</option>
            {planes.map((p) => (
              <option value={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          State
          <select value={filter} onChange={(e) => set({ health: (e.target as HTMLSelectElement).value })}>
            <option value="">all</option>
            {(Object.keys(FILTERS) as FilterKey[]).map((k) => (
              <option value={k}>{FILTERS[k].label}</option>
            ))}
          </select>
        </label>
        <span class="shown" aria-live="polite">
          {fleet.ready ? `${shown.length} of ${fleet.rows.length} agents` : 'loading…'}
        </span>
      </div>
      <div class="table-wrap fleet-box" ref={win.box} onScroll={win.onScroll} tabIndex={0} aria-label="Agents table (scrolls)">
        <table class="fleet" aria-rowcount={shown.length + 1}>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th scope="col" aria-sort={sort === c.key ? (dir === 1 ? 'ascending' : 'descending') : 'none'}>
                  <button type="button" class="sort" onClick={() => set({ sort: c.key, dir: sort === c.key && dir === 1 ? 'desc' : 'asc' })}>
                    {c.label}
                    <span aria-hidden="true">{sort === c.key ? (dir === 1 ? ' ▲' : ' ▼') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {win.start > 0 ? <tr class="spacer" aria-hidden="true" style={{ height: `${win.start * ROW_PX}px` }} /> : null}
            {shown.slice(win.start, win.end).map((r, i) => (
              <FleetRowView key={`${r.plane}/${r.name}`} r={r} now={now} index={win.start + i} />
            ))}
            {win.end < shown.length ? <tr class="spacer" aria-hidden="true" style={{ height: `${(shown.length - win.end) * ROW_PX}px` }} /> : null}
          </tbody>
        </table>
      </div>
      {fleet.runs.length > 0 ? (
        <section class="card">
          <h2>Runs</h2>
          <ul class="runs">
            {fleet.runs.map((r) => (
              <li>
                <a href={`/console/runs/${r.plane}/${r.id}`}>
                  {r.plane}: {r.kind}
                </a>{' '}
                {r.state} — {runCounts(r.summary)} of {r.summary['total'] ?? 0}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
