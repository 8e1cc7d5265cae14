import { useEffect, useRef, useState } from 'preact/hooks';
import type { Heartbeat__Output } from '../../../proto/index.ts';
import { agentPath, api, enc } from '../api.ts';
import { Action, ago, bytes, commandResult, ErrorBox, HealthBadge, Section, time, useLoad, useNow } from '../components.tsx';
import { useTopic } from '../feed.ts';
import { useIsAdmin } from '../session.ts';
import type { Agent, AgentConfig, AuditEvent, Command, HealthHistory, SecretInfo, Snapshot, VerifyReport } from '../types.ts';
import { AgentLogs } from './agent-logs.tsx';

const heartbeatOf = (a: Agent | undefined): Heartbeat__Output | undefined => a?.heartbeat?.heartbeat as unknown as Heartbeat__Output | undefined;

/** The admin's buttons for one agent: the same REST calls the CLI makes. */
function AgentActions({ plane, name, paused, onDone }: { plane: string; name: string; paused: boolean; onDone: () => void }) {
  const p = agentPath(plane, name);
  const cmd = async (path: string, body: Record<string, unknown> = {}): Promise<string> => {
    const r = await api<{ command: Command | null; mode?: string }>('POST', `${p}/${path}`, { waitSeconds: 30, ...body });
    return `${path}: ${commandResult(r.command)}${r.mode === 'instance' ? ' (instance restarted)' : ''}`;
  };
  return (
    <div class="actions" aria-label="Actions">
      <Action label="Restart" run={() => cmd('restart')} onDone={onDone} />
      {paused ? <Action label="Resume" run={() => cmd('resume')} onDone={onDone} /> : <Action label="Pause" run={() => cmd('pause')} onDone={onDone} />}
      <Action label="Sync now" run={() => cmd('sync')} onDone={onDone} />
      <Action label="Back up" run={() => cmd('backup')} onDone={onDone} />
      <Action
        label="Rotate secrets"
        run={async () => {
          const r = await api<{ rotations: Array<{ command: Command }> }>('POST', `${p}/rotate-secrets`);
          return `rotate-secrets: ${r.rotations[0]?.command.state ?? 'sent'} (see commands below)`;
        }}
        onDone={onDone}
      />
      <Action
        label="Reprovision"
        confirmText={name}
        confirmPrompt="A fresh machine; the brain is restored from the bucket. Type"
        danger
        run={async () => {
          await api('POST', `${p}/reprovision`);
          return 'reprovisioning: a new machine is enrolling';
        }}
        onDone={onDone}
      />
      <Action
        label="Remove agent"
        confirmText={`remove ${name}`}
        confirmPrompt="This destroys the machine and the brain. Type"
        danger
        run={async () => {
          await api('DELETE', p);
          return `${name} removed`;
        }}
      />
    </div>
  );
}

function LiveState({ agent, beats }: { agent: Agent; beats: Array<{ at: number; hb: Heartbeat__Output }> }) {
  const now = useNow();
  const hb = heartbeatOf(agent);
  const gw = hb?.gateway;
  const usage = hb?.usage;
  return (
    <Section title="Live state">
      <dl class="facts">
        <dt>Health</dt>
        <dd>
          <HealthBadge color={agent.health.color} offline={!agent.connected} /> {agent.health.reason}
        </dd>
        <dt>Connected</dt>
        <dd>{agent.connected ? 'yes' : `no (since ${time(agent.lastDisconnectedAt)})`}</dd>
        <dt>Gateway</dt>
        <dd>
          {gw ? `${gw.state.replace('GATEWAY_STATE_', '').toLowerCase()}, ${gw.ready ? 'ready' : 'not ready'}${gw.failing.length ? ` (failing: ${gw.failing.join(', ')})` : ''}` : '—'}
        </dd>
        <dt>Runtime</dt>
        <dd>{gw ? `${gw.runtime} ${gw.version}, pid ${gw.pid}, ${gw.restartCount} restarts${gw.lastError ? `, last error: ${gw.lastError}` : ''}` : '—'}</dd>
        <dt>Missing secrets</dt>
        <dd>{gw?.degradedSecretOwners.length ? gw.degradedSecretOwners.join('; ') : 'none'}</dd>
        <dt>Resources</dt>
        <dd>
          {hb?.resources
            ? `CPU ${hb.resources.cpuPercent.toFixed(1)} %, agentd ${bytes(hb.resources.agentdRssBytes)}, gateway ${bytes(gw?.rssBytes)}, disk ${bytes(hb.resources.diskFreeBytes)} free of ${bytes(hb.resources.diskTotalBytes)}`
            : '—'}
        </dd>
        <dt>Brain sync</dt>
        <dd>{hb?.sync ? `${hb.sync.state || '—'}, lag ${Math.round(Number(hb.sync.lagMs) / 1000)} s, ${hb.sync.pendingChanges} pending, last ok ${ago(Number(hb.sync.lastSuccessMs) || null, now)}${hb.sync.lastError ? `, error: ${hb.sync.lastError}` : ''}` : '—'}</dd>
        <dt>Last heartbeat</dt>
        <dd>{ago(agent.heartbeat?.receivedAt ?? null, now)}</dd>
      </dl>
      <h3>Token usage by model</h3>
      {usage && usage.byModel.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Input</th>
              <th scope="col">Output</th>
              <th scope="col">Total</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {usage.byModel.map((m) => (
              <tr>
                <td>{m.model}</td>
                <td>{m.inputTokens}</td>
                <td>{m.outputTokens}</td>
                <td>{m.totalTokens}</td>
                <td>${m.totalCostUsd.toFixed(4)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No usage reported{gw?.runtime === 'placeholder' ? ' (placeholder runtime)' : ''}.</p>
      )}
      <h3>Latest heartbeats</h3>
      <table class="compact">
        <thead>
          <tr>
            <th scope="col">Received</th>
            <th scope="col">Seq</th>
            <th scope="col">Gateway</th>
            <th scope="col">CPU</th>
            <th scope="col">agentd RSS</th>
          </tr>
        </thead>
        <tbody>
          {beats.map((b) => (
            <tr>
              <td>{time(b.at)}</td>
              <td>{b.hb.seq}</td>
              <td>{b.hb.gateway ? `${b.hb.gateway.state.replace('GATEWAY_STATE_', '').toLowerCase()}${b.hb.gateway.ready ? ', ready' : ''}` : '—'}</td>
              <td>{b.hb.resources ? `${b.hb.resources.cpuPercent.toFixed(1)} %` : '—'}</td>
              <td>{bytes(b.hb.resources?.agentdRssBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

function History({ plane, name, refresh }: { plane: string; name: string; refresh: number }) {
  const admin = useIsAdmin();
  const p = agentPath(plane, name);
  const health = useLoad(() => api<HealthHistory>('GET', `/v1/console/planes/${enc(plane)}/agents/${enc(name)}/health-history`), [plane, name, refresh]);
  const commands = useLoad(() => api<{ commands: Command[] }>('GET', `/v1/console/planes/${enc(plane)}/agents/${enc(name)}/commands?limit=30`), [plane, name, refresh]);
  const snapshots = useLoad(() => api<{ snapshots: Snapshot[] }>('GET', `${p}/snapshots`), [plane, name, refresh]);
  const audit = useLoad(() => (admin ? api<{ events: AuditEvent[] }>('GET', `/v1/audit?plane=${enc(plane)}&agent=${enc(name)}&limit=50`) : Promise.resolve({ events: [] })), [plane, name, admin, refresh]);
  const [verify, setVerify] = useState<VerifyReport | undefined>(undefined);
  return (
    <>
      <Section title="Health history">
        <ErrorBox error={health.error} />
        <ol class="timeline">
          {(health.data?.transitions ?? []).map((t) => (
            <li>
              {time(t.at)}: {t.from} → <strong>{t.to}</strong> — {t.reason}
            </li>
          ))}
        </ol>
      </Section>
      <Section title="Commands">
        <ErrorBox error={commands.error} />
        <div class="table-wrap">
          <table class="compact" aria-label="Commands">
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Kind</th>
                <th scope="col">Actor</th>
                <th scope="col">State</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {(commands.data?.commands ?? []).map((c) => (
                <tr data-command={c.kind}>
                  <td>{time(c.createdAt)}</td>
                  <td>{c.kind}</td>
                  <td>{c.actor}</td>
                  <td>{c.state}</td>
                  <td class="result">{c.errorMessage ?? (c.output === null || c.output === undefined ? '' : JSON.stringify(c.output).slice(0, 200))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
      <Section title="Snapshots">
        <ErrorBox error={snapshots.error} />
        {admin ? (
          <Action
            label="Verify backup"
            run={async () => {
              const r = await api<VerifyReport>('POST', `${p}/verify-backup`);
              setVerify(r);
              return r.ok ? `verified ${r.snapshot}: ${r.files.restored} files, databases ${r.databases.map((d) => `${d.name} ${d.integrity}`).join(', ') || 'none'}` : `problems: ${r.problems.join('; ')}`;
            }}
          />
        ) : null}
        {verify ? <p class={verify.ok ? 'ok' : 'error'}>{verify.ok ? 'Restore drill passed' : 'Restore drill failed'} in {verify.restoreMs} ms.</p> : null}
        <table class="compact">
          <thead>
            <tr>
              <th scope="col">Taken</th>
              <th scope="col">Reason</th>
              <th scope="col">Id</th>
              {admin ? <th scope="col">Restore</th> : null}
            </tr>
          </thead>
          <tbody>
            {(snapshots.data?.snapshots ?? [])
              .slice()
              .reverse()
              .slice(0, 20)
              .map((s) => (
                <tr>
                  <td>
                    {s.at}
                    {s.current ? <span class="tag tag-plain">current</span> : null}
                  </td>
                  <td>{s.reason}</td>
                  <td class="mono">{s.id}</td>
                  {admin ? (
                    <td>
                      <Action
                        label="Restore"
                        danger
                        confirmText={name}
                        confirmPrompt="The gateway stops and the brain goes back to this snapshot. Type"
                        run={async () => {
                          const r = await api<{ command: Command }>('POST', `${p}/restore`, { snapshot: s.id, waitSeconds: 120 });
                          return `restore: ${commandResult(r.command)}`;
                        }}
                      />
                    </td>
                  ) : null}
                </tr>
              ))}
          </tbody>
        </table>
      </Section>
      <Section title="Audit trail">
        {admin ? (
          <>
            <ErrorBox error={audit.error} />
            <ul class="timeline">
              {(audit.data?.events ?? []).map((e) => (
                <li>
                  {time(e.at)} <strong>{e.action}</strong> by {e.actor}: {e.outcome}
                </li>
              ))}
            </ul>
          </>
        ) : (
          <p class="muted">The audit log needs the admin role.</p>
        )}
      </Section>
    </>
  );
}

function Configuration({ plane, name, refresh }: { plane: string; name: string; refresh: number }) {
  const cfg = useLoad(() => api<AgentConfig>('GET', `/v1/console/planes/${enc(plane)}/agents/${enc(name)}/config`), [plane, name, refresh]);
  const secrets = useLoad(() => api<{ provider: string; secrets: SecretInfo[] }>('GET', `${agentPath(plane, name)}/secrets`), [plane, name, refresh]);
  const c = cfg.data;
  const show = (v: unknown): string => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  const keys = c ? [...new Set([...Object.keys(c.runtime.desired), ...Object.keys(c.runtime.confirmed ?? {})])] : [];
  return (
    <>
      <Section title="Configuration">
        <ErrorBox error={cfg.error} />
        {c ? (
          <>
            <table class="compact">
              <thead>
                <tr>
                  <th scope="col">Setting</th>
                  <th scope="col">Desired</th>
                  <th scope="col">From</th>
                </tr>
              </thead>
              <tbody>
                {c.fields.map((f) => (
                  <tr>
                    <td>{f.field}</td>
                    <td class="mono">{show(f.desired)}</td>
                    <td>{f.source}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p>
              What the agent runs:{' '}
              <strong>{c.runtime.inSync ? 'confirmed, in sync' : c.runtime.pending ? `change pending (${c.runtime.pending.state})` : 'differs from what is desired'}</strong>
              {c.runtime.confirmedAt ? `, last confirmed ${time(c.runtime.confirmedAt)}` : ''}
            </p>
            <table class="compact">
              <thead>
                <tr>
                  <th scope="col">Runtime</th>
                  <th scope="col">Desired</th>
                  <th scope="col">Confirmed</th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => {
                  const d = show(c.runtime.desired[k]);
                  const conf = c.runtime.confirmed ? show(c.runtime.confirmed[k]) : 'as provisioned';
                  return (
                    <tr class={c.runtime.confirmed && d !== conf ? 'differs' : ''}>
                      <td>{k}</td>
                      <td class="mono">{d}</td>
                      <td class="mono">{conf}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <h3>Policies that apply</h3>
            {c.policies.length ? (
              <ul>
                {c.policies.map((p) => (
                  <li>
                    policy {p.index}: match {show(p.policy.match)} → {show(p.policy.spec)}
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">None: plane defaults and the agent's own values.</p>
            )}
          </>
        ) : null}
      </Section>
      <Section title="Secrets">
        <ErrorBox error={secrets.error} />
        <p class="muted">Names and versions only; values never leave the secrets store.</p>
        <table class="compact">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Version</th>
              <th scope="col">Kind</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {(secrets.data?.secrets ?? []).map((s) => (
              <tr>
                <td>{s.name}</td>
                <td>{s.version}</td>
                <td>{s.kind}</td>
                <td>{time(s.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

export function AgentPage({ plane, name }: { plane: string; name: string }) {
  const admin = useIsAdmin();
  const { value: agent, gone } = useTopic<Agent>(`/v1/console/events?topic=agent&plane=${enc(plane)}&agent=${enc(name)}`, 'agent');
  const [beats, setBeats] = useState<Array<{ at: number; hb: Heartbeat__Output }>>([]);
  const [refresh, setRefresh] = useState(0);
  const lastSeq = useRef<number | undefined>(undefined);
  useEffect(() => {
    const hb = heartbeatOf(agent);
    if (!agent?.heartbeat || !hb || hb.seq === lastSeq.current) return;
    lastSeq.current = hb.seq;
    setBeats((b) => [{ at: agent.heartbeat?.receivedAt ?? Date.now(), hb }, ...b].slice(0, 10));
  }, [agent]);
  const bump = (): void => setRefresh((n) => n + 1);
  return (
    <div class="agent">
      <p class="crumbs">
        <a href="/console/">Fleet</a> / {plane} /
      </p>
      <h1>
        {name} {agent ? <HealthBadge color={agent.health.color} offline={!agent.connected} /> : null}
      </h1>
      {agent ? (
        <p class="muted">
          {agent.owner} · {agent.spec.machineType} · {agent.spec.modelTier} · agentd {agent.agentdVersion ?? '—'} · {agent.desiredState}
        </p>
      ) : null}
      <ErrorBox error={gone} />
      {admin && agent ? <AgentActions plane={plane} name={name} paused={agent.desiredState === 'paused'} onDone={bump} /> : null}
      <div class="grid">
        {agent ? <LiveState agent={agent} beats={beats} /> : <p class="loading">Connecting…</p>}
        <AgentLogs plane={plane} name={name} />
      </div>
      <div class="grid">
        <div>
          <History plane={plane} name={name} refresh={refresh} />
        </div>
        <div>
          <Configuration plane={plane} name={name} refresh={refresh} />
        </div>
      </div>
    </div>
  );
}
