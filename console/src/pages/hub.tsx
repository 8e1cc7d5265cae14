import { useEffect } from 'preact/hooks';
import { api } from '../api.ts';
import { ago, ErrorBox, Section, time, useLoad, useNow } from '../components.tsx';
import type { HubHealth } from '../types.ts';

const duration = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
};

/** The hub's own health, checked anew every 10 seconds while the page is open. */
export function HubPage() {
  const health = useLoad(() => api<HubHealth>('GET', '/v1/console/hub-health'), []);
  const now = useNow();
  useEffect(() => {
    const t = setInterval(health.reload, 10_000);
    return () => clearInterval(t);
  }, [health.reload]);
  const h = health.data;
  return (
    <div>
      <h1>Hub health {h ? <span class={`badge badge-${h.ok ? 'green' : 'red'}`}>{h.ok ? 'all checks pass' : 'problems'}</span> : null}</h1>
      <ErrorBox error={health.error} />
      {h ? (
        <>
          <p>
            Version {h.version}, pid {h.pid}, up {duration(h.uptimeMs)} (since {time(h.startedAt)}). Agents: {h.agents.connected} of {h.agents.total} connected. Console: {h.console.sessions} signed in, {h.console.streams} live streams.
          </p>
          <Section title="Checks">
            <table class="compact">
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Result</th>
                  <th scope="col">Detail</th>
                  <th scope="col">Took</th>
                </tr>
              </thead>
              <tbody>
                {h.checks.map((c) => (
                  <tr data-check={c.name}>
                    <td>{c.name}</td>
                    <td>
                      <span class={`badge badge-${c.ok ? 'green' : 'red'}`}>{c.ok ? 'ok' : 'FAIL'}</span>
                    </td>
                    <td>{c.detail}</td>
                    <td>{c.ms === null ? '' : `${c.ms} ms`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          <Section title="Scheduled jobs">
            <table class="compact">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Every</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Took</th>
                  <th scope="col">Runs</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {h.jobs.map((j) => (
                  <tr>
                    <td>{j.name}</td>
                    <td>{j.every}</td>
                    <td>{j.lastRunAt ? ago(j.lastRunAt, now) : 'not yet'}</td>
                    <td>{j.lastMs === null ? '' : `${j.lastMs} ms`}</td>
                    <td>{j.runs || ''}</td>
                    <td>{j.lastError ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        </>
      ) : null}
    </div>
  );
}
