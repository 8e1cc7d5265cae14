import { useMemo, useState } from 'preact/hooks';
import { api, download, enc, toCsv } from '../api.ts';
import { Action, ErrorBox, time, useLoad } from '../components.tsx';
import { useIsAdmin } from '../session.ts';
import type { AuditEvent, AuditVerify } from '../types.ts';

interface Filters {
  actor: string;
  plane: string;
  agent: string;
  action: string;
  since: string;
  until: string;
  limit: string;
}

const EMPTY: Filters = { actor: '', plane: '', agent: '', action: '', since: '', until: '', limit: '1000' };
/** A datetime-local value ("2026-03-14T10:00") as an instant in the browser's zone. */
const instant = (v: string): number | undefined => (v ? new Date(v).getTime() : undefined);

/**
 * REQ-WS-09: the audit log, filtered by actor, plane, agent, action and time,
 * with the hash chain's status and CSV/JSON export of what is shown. The hub
 * filters by actor, plane, agent and start time; action and end time are
 * applied here to what it returned.
 */
export function AuditPage() {
  const admin = useIsAdmin();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [f, setF] = useState<Filters>(EMPTY);
  const events = useLoad(async () => {
    if (!admin) return { events: [] as AuditEvent[] };
    const q = new URLSearchParams();
    if (f.actor) q.set('actor', f.actor);
    if (f.plane) q.set('plane', f.plane);
    if (f.agent) q.set('agent', f.agent);
    const since = instant(f.since);
    if (since !== undefined) q.set('since', new Date(since).toISOString());
    q.set('limit', f.limit || '1000');
    return api<{ events: AuditEvent[] }>('GET', `/v1/audit?${q.toString()}`);
  }, [f, admin]);
  const [verify, setVerify] = useState<AuditVerify | undefined>(undefined);
  const shown = useMemo(() => {
    const until = instant(f.until);
    const action = f.action.trim().toLowerCase();
    return (events.data?.events ?? []).filter((e) => (!action || e.action.toLowerCase().includes(action)) && (until === undefined || e.at <= until));
  }, [events.data, f.action, f.until]);
  if (!admin) {
    return (
      <div>
        <h1>Audit log</h1>
        <p class="muted">The audit log says who did what; reading it needs the admin role.</p>
      </div>
    );
  }
  const field = (k: keyof Filters, label: string, type = 'text') => (
    <label>
      {label}
      <input type={type} value={draft[k]} onInput={(e) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return (
    <div>
      <h1>Audit log</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setF(draft);
        }}
      >
        {field('actor', 'Actor')}
        {field('plane', 'Plane')}
        {field('agent', 'Agent')}
        {field('action', 'Action')}
        {field('since', 'From', 'datetime-local')}
        {field('until', 'To', 'datetime-local')}
        {field('limit', 'Limit', 'number')}
        <button type="submit">Filter</button>
      </form>
      <div class="row">
        <Action
          label="Verify the hash chain"
          run={async () => {
            const r = await api<AuditVerify>('POST', '/v1/audit/verify');
            setVerify(r);
            return r.ok ? `chain intact: ${r.rows} rows, head ${r.headHash?.slice(0, 16) ?? '—'}…` : `${r.problems.length} problem(s)`;
          }}
        />
        <button type="button" onClick={() => download(`audit-${stamp}.json`, 'application/json', `${JSON.stringify({ filters: f, events: shown }, null, 2)}\n`)}>
          Export JSON
        </button>
        <button
          type="button"
          onClick={() =>
            download(
              `audit-${stamp}.csv`,
              'text/csv',
              toCsv(
                ['id', 'time', 'actor', 'action', 'plane', 'agent', 'outcome', 'detail', 'hash'],
                shown.map((e) => [e.id, new Date(e.at).toISOString(), e.actor, e.action, e.plane, e.agent, e.outcome, e.detail, e.hash]),
              ),
            )
          }
        >
          Export CSV
        </button>
        <span class="shown" aria-live="polite">
          {events.loading ? 'loading…' : `${shown.length} events`}
        </span>
      </div>
      {verify && !verify.ok ? (
        <ul class="error" role="alert">
          {verify.problems.map((p) => (
            <li>
              row {p.id}: {p.problem}
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorBox error={events.error} />
      <div class="table-wrap">
        <table class="compact audit">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Plane</th>
              <th scope="col">Agent</th>
              <th scope="col">Outcome</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr>
                <td>{time(e.at)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.plane ?? ''}</td>
                <td>{e.agent ? <a href={`/console/agents/${enc(e.plane ?? '')}/${enc(e.agent)}`}>{e.agent}</a> : ''}</td>
                <td>{e.outcome}</td>
                <td class="result">{JSON.stringify(e.detail).slice(0, 200)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
