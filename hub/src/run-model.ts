// Fan-out runs as stored and served: see command-runs.ts for how they execute.
import type { CommandRecord } from './model.ts';
import { TERMINAL_COMMAND_STATES } from './model.ts';

/** What a run can do to each agent; `sync` is `sync-now`, `upgrade` is a snapshot then agentd's `upgrade`. */
export const RUN_KINDS = ['restart', 'pause', 'resume', 'ping', 'sync', 'rotate-secrets', 'upgrade'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/**
 * queued -> running -> succeeded | failed | timed-out | not-delivered; queued ->
 * skipped when the run stops early. `unknown`: the hub stopped while a command
 * of this target was out; the agent's report (at its next Hello) settles it as
 * succeeded, failed or not-delivered. A run record never says a command did not
 * run when it may have.
 */
export type TargetState = 'queued' | 'running' | 'succeeded' | 'failed' | 'timed-out' | 'not-delivered' | 'unknown' | 'skipped';
/**
 * succeeded: every agent succeeded. failed: it ran to the end and some failed.
 * stopped: the error limit was exceeded, the rest skipped. cancelled: an admin
 * cancelled it. interrupted: the hub stopped while it ran.
 */
export type RunState = 'running' | 'succeeded' | 'failed' | 'stopped' | 'cancelled' | 'interrupted';

export interface RunTarget {
  agent: string;
  state: TargetState;
  /** Upgrade runs: the wave (0 = canary). */
  wave: number | null;
  /** Per-agent command arguments on top of the run's (a rollback's target version and snapshot). */
  args?: Record<string, unknown>;
  commands: Array<{ kind: string; id: string }>;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  output: unknown;
}

export interface RunSummary {
  total: number;
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  notDelivered: number;
  unknown: number;
  skipped: number;
}

export interface RunRecord {
  id: string;
  plane: string;
  kind: RunKind;
  args: Record<string, unknown>;
  actor: string;
  state: RunState;
  /** The limits as asked (a number or "N%") and as resolved for this many agents. */
  requested: { maxConcurrency: string; maxErrors: string };
  maxConcurrency: number;
  maxErrors: number;
  /** Per agent, for all of its steps together. */
  timeoutMs: number;
  /** Wave sizes (upgrades): each wave starts when the previous one finished; null = a sliding window. */
  waves: number[] | null;
  createdAt: number;
  finishedAt: number | null;
  stopReason: string | null;
  summary: RunSummary;
  targets: RunTarget[];
}

/** Target states that count against maxErrors. */
export const ERROR_STATES: ReadonlySet<TargetState> = new Set(['failed', 'timed-out', 'not-delivered']);

const SUMMARY_KEY: Record<TargetState, keyof RunSummary> = {
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  'timed-out': 'timedOut',
  'not-delivered': 'notDelivered',
  unknown: 'unknown',
  skipped: 'skipped',
};

export function summarize(targets: RunTarget[]): RunSummary {
  const s: RunSummary = { total: targets.length, queued: 0, running: 0, succeeded: 0, failed: 0, timedOut: 0, notDelivered: 0, unknown: 0, skipped: 0 };
  for (const t of targets) s[SUMMARY_KEY[t.state]]++;
  return s;
}

export interface Step {
  kind: 'sync-now' | 'upgrade' | 'rotate-secrets' | 'restart' | 'pause' | 'resume' | 'ping';
  args: Record<string, unknown>;
}

/** The commands a run sends one agent, in order. */
export function runSteps(run: Pick<RunRecord, 'kind' | 'args'>, t: Pick<RunTarget, 'args'>): Step[] {
  const args = { ...run.args, ...(t.args ?? {}) };
  switch (run.kind) {
    case 'sync':
      return [{ kind: 'sync-now', args: { databases: args['databases'] !== false, allowDeletes: args['allowDeletes'] === true } }];
    case 'upgrade':
      // The brain first (files and consistent database copies): an upgrade never starts without a fresh snapshot.
      return [
        { kind: 'sync-now', args: { databases: true } },
        { kind: 'upgrade', args },
      ];
    case 'rotate-secrets':
      return [{ kind: 'rotate-secrets', args: {} }];
    default:
      return [{ kind: run.kind, args: {} }];
  }
}

/** A finished command that did not succeed, as its target's state and error. */
export function failedStep(cmd: CommandRecord): { state: 'failed' | 'not-delivered'; error: string } {
  const why = cmd.errorMessage ?? cmd.state;
  // expired: it never started on the agent (not sent in time, withdrawn, or arrived after its deadline).
  if (cmd.state === 'expired') return { state: 'not-delivered', error: `${cmd.kind}: not delivered, nothing ran: ${why}` };
  return { state: 'failed', error: `${cmd.kind}: ${cmd.state === 'failed' ? '' : `${cmd.state}: `}${why}` };
}

export interface TargetOutcome {
  state: TargetState;
  error: string | null;
  output: unknown;
}

/**
 * What a target's stored commands say happened, for a run whose engine is gone
 * (the hub stopped). No command: it was never started. A command still out:
 * `unknown` until the agent reports. All steps done: the run's own verdict.
 */
export function targetOutcome(run: Pick<RunRecord, 'kind' | 'args'>, t: Pick<RunTarget, 'args'>, cmds: CommandRecord[]): TargetOutcome {
  if (cmds.length === 0) return { state: 'skipped', error: 'not started: the hub stopped before this agent was started', output: null };
  const outputs: Record<string, unknown> = {};
  const shape = (): unknown => (run.kind === 'upgrade' ? outputs : (Object.values(outputs).at(-1) ?? null));
  for (const cmd of cmds) {
    if (!TERMINAL_COMMAND_STATES.has(cmd.state)) {
      return {
        state: 'unknown',
        error: `${cmd.kind}: the hub stopped while command ${cmd.id} was ${cmd.state === 'pending' ? 'stored for the agent' : 'out'}; the agent's report settles it`,
        output: null,
      };
    }
    outputs[cmd.kind] = cmd.output;
    if (cmd.state !== 'succeeded') return { ...failedStep(cmd), output: shape() };
  }
  const steps = runSteps(run, t);
  const next = steps[cmds.length];
  if (next) return { state: 'not-delivered', error: `${next.kind}: never sent: the hub stopped after ${cmds.at(-1)?.kind ?? 'the previous step'} succeeded`, output: shape() };
  return { state: 'succeeded', error: null, output: shape() };
}
