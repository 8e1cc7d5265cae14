import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, enc } from '../api.ts';
import { ErrorBox, message, Section, time, useLoad } from '../components.tsx';
import { useIsAdmin } from '../session.ts';
import { runCounts } from '../run-states.ts';
import type { Plane, Run } from '../types.ts';
import { ApplyForm } from './apply.tsx';

const RUN_KINDS = ['restart', 'pause', 'resume', 'sync', 'rotate-secrets', 'ping'] as const;

const names = (s: string): string[] | undefined => {
  const list = s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
  return list.length ? list : undefined;
};
/** "25%" stays a share, "3" becomes a count, as the API takes them. */
const limit = (s: string): string | number | undefined => (s.trim() === '' ? undefined : /^\d+$/.test(s.trim()) ? Number(s.trim()) : s.trim());

function Field({ label, value, set, help, id }: { label: string; value: string; set: (v: string) => void; help?: string; id: string }) {
  return (
    <label for={id}>
      {label}
      <input id={id} value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} aria-describedby={help ? `${id}-help` : undefined} />
      {help ? (
        <span class="help" id={`${id}-help`}>
          {help}
        </span>
      ) : null}
    </label>
  );
}

function RunForm({ plane }: { plane: string }) {
  const { route } = useLocation();
  const [kind, setKind] = useState<(typeof RUN_KINDS)[number]>('restart');
  const [agents, setAgents] = useState('');
  const [conc, setConc] = useState('');
  const [errs, setErrs] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const start = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      const body = { kind, agents: names(agents), maxConcurrency: limit(conc), maxErrors: limit(errs) };
      const r = await api<{ run: Run }>('POST', `/v1/planes/${enc(plane)}/runs`, JSON.parse(JSON.stringify(body)) as unknown);
      route(`/console/runs/${plane}/${r.run.id}`);
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <Section title="Run a command over agents">
      <form onSubmit={(e) => void start(e)} class="form">
        <label for="run-kind">
          Command
          <select id="run-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as typeof kind)}>
            {RUN_KINDS.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
        </label>
        <Field id="run-agents" label="Agents" value={agents} set={setAgents} help="names, comma-separated; empty: every agent" />
        <Field id="run-conc" label="Max concurrency" value={conc} set={setConc} help="a count or N% (default 50)" />
        <Field id="run-errs" label="Max errors" value={errs} set={setErrs} help="a count or N% (default 0)" />
        <button type="submit">Start run</button>
        <ErrorBox error={error} />
      </form>
    </Section>
  );
}

function UpgradeForm({ plane }: { plane: string }) {
  const { route } = useLocation();
  const [version, setVersion] = useState('');
  const [canary, setCanary] = useState('1');
  const [unavail, setUnavail] = useState('1');
  const [agents, setAgents] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const go = async (rollback: boolean): Promise<void> => {
    setError(undefined);
    try {
      const body = rollback ? { rollback: true, agents: names(agents) } : { version: version.trim(), canary: Number(canary), maxUnavailable: limit(unavail), agents: names(agents) };
      const r = await api<{ run: Run }>('POST', `/v1/planes/${enc(plane)}/upgrade`, JSON.parse(JSON.stringify(body)) as unknown);
      route(`/console/runs/${plane}/${r.run.id}`);
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <Section title="Upgrade OpenClaw">
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void go(false);
        }}
      >
        <Field id="up-version" label="Version" value={version} set={setVersion} help="e.g. 2026.9.6" />
        <Field id="up-canary" label="Canary agents" value={canary} set={setCanary} />
        <Field id="up-unavail" label="Max unavailable" value={unavail} set={setUnavail} help="a count or N% per wave after the canary" />
        <Field id="up-agents" label="Agents" value={agents} set={setAgents} help="empty: every agent" />
        <button type="submit" disabled={!version.trim()}>
          Start upgrade
        </button>
        <button type="button" onClick={() => void go(true)}>
          Roll back the last upgrade
        </button>
        <ErrorBox error={error} />
      </form>
    </Section>
  );
}

function RecentRuns({ plane }: { plane: string }) {
  const runs = useLoad(() => api<{ runs: Run[] }>('GET', `/v1/planes/${enc(plane)}/runs?limit=20`), [plane]);
  return (
    <Section title="Recent runs">
      <ErrorBox error={runs.error} />
      <table class="compact">
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">Kind</th>
            <th scope="col">Actor</th>
            <th scope="col">State</th>
            <th scope="col">Agents</th>
          </tr>
        </thead>
        <tbody>
          {(runs.data?.runs ?? []).map((r) => (
            <tr>
              <td>
                <a href={`/console/runs/${plane}/${r.id}`}>{time(r.createdAt)}</a>
              </td>
              <td>{r.kind}</td>
              <td>{r.actor}</td>
              <td>{r.state}</td>
              <td>
                {runCounts(r.summary)} of {r.summary.total}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

/** Plane-wide actions: runs, upgrades, applying a planes.yaml. Each is the REST call the CLI makes. */
export function ActionsPage() {
  const admin = useIsAdmin();
  const { query, route } = useLocation();
  const planes = useLoad(() => api<{ planes: Plane[] }>('GET', '/v1/planes'), []);
  const plane = query['plane'] ?? planes.data?.planes[0]?.name ?? '';
  return (
    <div>
      <h1>Actions</h1>
      <ErrorBox error={planes.error} />
      <label>
        Plane{' '}
        <select value={plane} onChange={(e) => route(`/console/actions?plane=${enc((e.target as HTMLSelectElement).value)}`, true)}>
          {(planes.data?.planes ?? []).map((p) => (
            <option value={p.name}>
              {p.name} ({p.agentCount} agents)
            </option>
          ))}
        </select>
      </label>
      {!admin ? <p class="muted">Actions need the admin role; you can follow runs below.</p> : null}
      {plane ? (
        <div class="grid">
          {admin ? (
            <div>
              <RunForm plane={plane} />
              <UpgradeForm plane={plane} />
            </div>
          ) : null}
          <div>
            <RecentRuns plane={plane} />
          </div>
        </div>
      ) : null}
      {admin ? <ApplyForm /> : null}
    </div>
  );
}
