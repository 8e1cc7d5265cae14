import { api, enc } from '../api.ts';
import { Action, ErrorBox, Section, time } from '../components.tsx';
import { useTopic } from '../feed.ts';
import { useIsAdmin } from '../session.ts';
import { runCounts, settledCount, targetStateText } from '../run-states.ts';
import type { Run } from '../types.ts';

export function RunProgress({ run }: { run: Run }) {
  const s = run.summary;
  const done = settledCount(s);
  return (
    <div>
      <p>
        <strong>{run.state}</strong> — {done} of {s.total} done: {runCounts(s)}
        {run.stopReason ? ` (${run.stopReason})` : ''}
      </p>
      {s.unknown > 0 ? (
        <p class="notice">
          {s.unknown === 1 ? '1 agent' : `${s.unknown} agents`}: unknown. The hub stopped while their commands were out, so
          whether they ran is not known yet; each agent's next report to the hub settles it (succeeded, failed or not
          delivered). Do not run them again before then.
        </p>
      ) : null}
      {s.notDelivered > 0 ? <p class="muted">Not delivered: the command never reached the agent, and nothing ran there.</p> : null}
      <progress max={s.total} value={done} aria-label="Agents done">
        {done} of {s.total}
      </progress>
    </div>
  );
}

/** One run, live: per-agent progress from the hub's run feed, and cancel while it runs. */
export function RunPage({ plane, id }: { plane: string; id: string }) {
  const admin = useIsAdmin();
  const { value: run, gone } = useTopic<Run>(`/v1/console/events?topic=run&plane=${enc(plane)}&run=${enc(id)}`, 'run');
  return (
    <div>
      <p class="crumbs">
        <a href="/console/actions">Actions</a> / {plane} /
      </p>
      <h1>
        Run {run ? `${run.kind}` : ''} <span class="mono small">{id}</span>
      </h1>
      <ErrorBox error={gone} />
      {run ? (
        <>
          <p class="muted">
            by {run.actor}, started {time(run.createdAt)}
            {run.finishedAt ? `, finished ${time(run.finishedAt)}` : ''} · at most {run.maxConcurrency} at a time, stops past {run.maxErrors} errors
            {run.waves ? ` · waves ${run.waves.join(', ')}` : ''}
          </p>
          <RunProgress run={run} />
          {admin && run.state === 'running' ? (
            <Action
              label="Cancel run"
              run={async () => {
                const r = await api<{ run: Run }>('POST', `/v1/planes/${enc(plane)}/runs/${enc(id)}/cancel`);
                return `cancel: ${r.run.state}`;
              }}
            />
          ) : null}
          <Section title="Agents">
            <div class="table-wrap">
              <table class="compact run-targets">
                <thead>
                  <tr>
                    <th scope="col">Agent</th>
                    {run.waves ? <th scope="col">Wave</th> : null}
                    <th scope="col">State</th>
                    <th scope="col">Started</th>
                    <th scope="col">Finished</th>
                    <th scope="col">Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {run.targets.map((t) => (
                    <tr data-agent={t.agent} data-state={t.state}>
                      <td>
                        <a href={`/console/agents/${plane}/${t.agent}`}>{t.agent}</a>
                      </td>
                      {run.waves ? <td>{t.wave === 0 ? 'canary' : (t.wave ?? '')}</td> : null}
                      <td>{targetStateText(t.state)}</td>
                      <td>{time(t.startedAt)}</td>
                      <td>{time(t.finishedAt)}</td>
                      <td class="result">{t.error ?? (t.output === null || t.output === undefined ? '' : JSON.stringify(t.output).slice(0, 160))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
        </>
      ) : gone ? null : (
        <p class="loading">Connecting…</p>
      )}
    </div>
  );
}
