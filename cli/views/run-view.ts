/** How a fan-out run, and a single command, are shown. */
import { ExitCode } from '../../common/src/errors.ts';
import type { Command, Run, RunTarget } from '../api.ts';
import { table } from '../format.ts';
import type { Out } from '../verb.ts';

/** What a succeeded agent's output says, in a few words, per kind. */
function runDetail(kind: string, t: RunTarget): string {
  if (t.state !== 'succeeded') return t.error ?? '';
  const o = (t.output ?? {}) as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  switch (kind) {
    case 'sync':
      return `snapshot ${str(o['snapshot'])}: ${str(o['uploadedFiles'])} files up, ${str(o['databases'])} databases`;
    case 'rotate-secrets': {
      const k = o['dataKey'] as Record<string, unknown> | undefined;
      const brain = k ? `, data key ${str(k['keyId'])} (${str(k['rewritten'])} snapshots, ${str(k['chunks'])} chunks re-encrypted)` : '';
      return `secrets ${str(o['revision'])}, gateway ${str(o['gateway'])}${brain}`;
    }
    case 'upgrade': {
      const u = (o['upgrade'] ?? {}) as Record<string, unknown>;
      return u['changed'] === false ? `already on ${str(u['to'])}` : `${str(u['from'])} -> ${str(u['to'])} (snapshot ${str(u['snapshot'])})`;
    }
    default:
      return o['gateway'] !== undefined ? `gateway ${str(o['gateway'])}` : '';
  }
}

/** The live line on stderr while a run goes on. */
export function runProgress(run: Run, cancelling: boolean): string {
  const s = run.summary;
  const done = s.succeeded + s.failed + s.timedOut + s.notDelivered + s.unknown + s.skipped;
  const bad = s.failed + s.timedOut;
  const wave = run.waves ? ` wave ${Math.max(0, ...run.targets.filter((t) => t.state !== 'queued').map((t) => t.wave ?? 0))}` : '';
  return `${run.kind}${wave} [${done}/${s.total} done] ${s.succeeded} ok, ${bad} failed${s.timedOut ? ` (${s.timedOut} timed out)` : ''}, ${s.running} running${cancelling ? ', cancelling' : ''}`;
}

/** A run's per-agent table and summary line (or, with --json, the run and its results). */
export function printRun(run: Run, out: Out): void {
  if (out.json) {
    const { targets, ...rest } = run;
    out.printJson({ run: rest, results: targets });
    return;
  }
  const waves = run.waves !== null;
  out.print(
    table(
      ['AGENT', 'RESULT', ...(waves ? ['WAVE'] : []), 'DETAIL'],
      run.targets.map((t) => [t.agent, t.state, ...(waves ? [t.wave === 0 ? 'canary' : String(t.wave ?? '')] : []), runDetail(run.kind, t)]),
    ),
  );
  const s = run.summary;
  // Shown only when there are any: not delivered (nothing ran), unknown (waiting for the agent's report).
  const more = `${s.notDelivered ? `, ${s.notDelivered} not delivered` : ''}${s.unknown ? `, ${s.unknown} unknown` : ''}`;
  out.print(`\nrun ${run.id} ${run.state}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.timedOut} timed out${more}, ${s.skipped} skipped${run.stopReason ? ` (${run.stopReason})` : ''}`);
}

export function describeCommand(agent: string, c: Command): string {
  if (c.state === 'succeeded') return `${agent}: ok`;
  if (c.state === 'pending' || c.state === 'delivered' || c.state === 'accepted') return `${agent}: ${c.state} (command ${c.id}; the agent will apply it when reachable)`;
  return `${agent}: ${c.state}${c.errorMessage ? `: ${c.errorMessage}` : ''}`;
}

/** Prints a command's outcome; exit 0 when it succeeded, 1 when it ran and failed or is still pending. */
export function reportCommand(out: Out, agent: string, c: Command, ok: (output: Record<string, unknown>) => string): number {
  if (out.json) out.printJson({ command: c });
  else out.print(c.state === 'succeeded' ? `${agent}: ${ok((c.output ?? {}) as Record<string, unknown>)}` : describeCommand(agent, c));
  return c.state === 'succeeded' ? ExitCode.Ok : ExitCode.PartialFailure;
}
