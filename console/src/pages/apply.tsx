import { useState } from 'preact/hooks';
import { api, enc } from '../api.ts';
import { Action, ErrorBox, message, Section } from '../components.tsx';
import type { ApplyReport, Plan } from '../types.ts';

const show = (v: unknown): string => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

function PlanView({ plan }: { plan: Plan }) {
  return (
    <div class="plan" aria-label="Plan">
      <p>
        <strong>
          plan for {plan.plane}: {plan.summary.create} to create, {plan.summary.change} to change, {plan.summary.remove} to remove, {plan.unchanged.length} unchanged; plane: {plan.planeAction}
        </strong>
      </p>
      {plan.errors.length ? (
        <ul class="error" role="alert">
          {plan.errors.map((e) => (
            <li>
              {e.path}: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <ul class="changes">
        {plan.planeChanges.map((c) => (
          <li class="change">
            ~ plane {c.path}: {show(c.from)} → {show(c.to)}
          </li>
        ))}
        {plan.agents.map((a) => (
          <li class={`plan-${a.action}`}>
            {a.action === 'create' ? '+' : a.action === 'remove' ? '-' : '~'} {a.name}: {a.action}
            {a.policies.length ? ` (policies ${a.policies.join(', ')})` : ''}
            <ul>
              {a.changes.map((c) => (
                <li>
                  {c.field}: {show(c.from)} → {show(c.to)}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      {plan.unmanaged.length ? <p class="muted">Kept (not in the file; prune to remove): {plan.unmanaged.join(', ')}</p> : null}
    </div>
  );
}

/** planes.yaml in, its plan shown, then applied only after a confirm (typed when it removes agents). */
export function ApplyForm() {
  const [text, setText] = useState('');
  const [prune, setPrune] = useState(false);
  const [plan, setPlan] = useState<{ plan: Plan; document: unknown } | undefined>(undefined);
  const [report, setReport] = useState<ApplyReport | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const makePlan = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    setPlan(undefined);
    setReport(undefined);
    try {
      // The YAML parser loads only here: the other pages do not carry it.
      const { parse } = await import('yaml');
      const document = parse(text) as { metadata?: { name?: string } } | null;
      const name = document?.metadata?.name;
      if (!name) throw new Error('the file has no metadata.name: which plane is it?');
      const p = await api<Plan>('POST', `/v1/planes/${enc(name)}/plan`, { document, prune });
      setPlan({ plan: p, document });
    } catch (err) {
      setError(message(err));
    }
  };
  const apply = async (): Promise<string> => {
    if (!plan) return '';
    const r = await api<ApplyReport>('POST', `/v1/planes/${enc(plan.plan.plane)}/apply`, { document: plan.document, prune, fingerprint: plan.plan.fingerprint, waitSeconds: 60 });
    setReport(r);
    return `applied: ${r.summary.ok} ok, ${r.summary.pending} pending, ${r.summary.failed} failed`;
  };
  return (
    <Section title="Apply a planes.yaml">
      <form class="form" onSubmit={(e) => void makePlan(e)}>
        <label for="apply-file">
          File
          <input
            id="apply-file"
            type="file"
            accept=".yaml,.yml,text/yaml"
            onChange={(e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (f) void f.text().then(setText);
            }}
          />
        </label>
        <label for="apply-text">
          planes.yaml
          <textarea id="apply-text" rows={12} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        </label>
        <label class="inline">
          <input type="checkbox" checked={prune} onChange={(e) => setPrune((e.target as HTMLInputElement).checked)} /> Prune: remove agents that are not in the file
        </label>
        <button type="submit" disabled={!text.trim()}>
          Show the plan
        </button>
        <ErrorBox error={error} />
      </form>
      {plan ? <PlanView plan={plan.plan} /> : null}
      {plan && !plan.plan.empty && plan.plan.errors.length === 0 ? (
        <Action
          label="Apply this plan"
          danger={plan.plan.summary.remove > 0}
          {...(plan.plan.summary.remove > 0 ? { confirmText: plan.plan.plane, confirmPrompt: `This removes ${plan.plan.summary.remove} agent(s) and their brains. Type` } : {})}
          run={apply}
        />
      ) : plan?.plan.empty ? (
        <p>No changes.</p>
      ) : null}
      {report ? (
        <table class="compact">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Action</th>
              <th scope="col">Result</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {report.results.map((r) => (
              <tr>
                <td>{r.agent}</td>
                <td>{r.action}</td>
                <td>{r.outcome}</td>
                <td>{r.message ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
