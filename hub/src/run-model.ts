// Fan-out runs as stored and served: see command-runs.ts for how they execute.

/** What a run can do to each agent; `sync` is `sync-now`, `upgrade` is a snapshot then agentd's `upgrade`. */
export const RUN_KINDS = ['restart', 'pause', 'resume', 'ping', 'sync', 'rotate-secrets', 'upgrade'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** queued -> running -> succeeded | failed | timed-out; queued -> skipped when the run stops early. */
export type TargetState = 'queued' | 'running' | 'succeeded' | 'failed' | 'timed-out' | 'skipped';
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

