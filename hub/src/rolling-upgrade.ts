import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import type { CommandRuns, RunRecord, StartRunInput } from './command-runs.ts';
import { resolveLimit } from './command-runs.ts';

export interface UpgradeRequest {
  /** The OpenClaw release to move to; not with rollback. */
  version?: string;
  /** Return every agent the last upgrade moved to where it was before. */
  rollback?: boolean;
  /** Agents in the first wave (default 1). */
  canary?: number;
  /** Agents upgraded at once after the canary: a count or "N%" (default 1). */
  maxUnavailable?: number | string;
  agents?: string[];
  timeoutSeconds?: number;
}

const VERSION = /^\d{4}\.\d{1,2}\.\d{1,4}(-[0-9A-Za-z.]+)?$/;

/**
 * A rolling upgrade as a run: a canary wave, then waves of `maxUnavailable`,
 * each agent snapshotted before agentd installs the release beside the current
 * one, preflights its databases, switches and passes the health gate (or rolls
 * itself back). Any failure stops the rollout (maxErrors 0).
 *
 * A rollback is the same run aimed backwards: each agent the last upgrade moved
 * goes back to the release it came from, with that upgrade's pre-upgrade
 * snapshot as the fallback agentd restores if the newer databases cannot be
 * opened by the older release (OpenClaw does not support downgrading a schema).
 */
export function planUpgrade(runs: CommandRuns, plane: string, req: UpgradeRequest, agentCount: number): StartRunInput {
  const canary = req.canary ?? 1;
  if (!Number.isInteger(canary) || canary < 1) throw new PlaneError(ErrorCode.InvalidArgument, `canary ${String(canary)}: must be a whole number of at least 1`, { where: 'canary' });
  const common = {
    kind: 'upgrade' as const,
    maxErrors: 0,
    ...(req.timeoutSeconds ? { timeoutSeconds: req.timeoutSeconds } : {}),
  };
  const wavesFor = (n: number): number[] => [Math.min(canary, n), resolveLimit(req.maxUnavailable ?? 1, n, 'maxConcurrency')];
  if (req.rollback) {
    if (req.version) throw new PlaneError(ErrorCode.InvalidArgument, 'give either version or rollback, not both', { where: 'version' });
    const last = lastUpgrade(runs, plane);
    if (!last) throw new PlaneError(ErrorCode.FailedPrecondition, `plane '${plane}' has no upgrade to roll back`, { where: 'rollback' });
    const targetArgs: Record<string, Record<string, unknown>> = {};
    for (const t of last.targets) {
      const up = ((t.output ?? {}) as Record<string, unknown>)['upgrade'] as { changed?: boolean; from?: string; snapshot?: string } | undefined;
      // Agents whose upgrade failed rolled themselves back already; skipped ones were never touched.
      if (t.state !== 'succeeded' || !up?.changed || !up.from) continue;
      if (req.agents && !req.agents.includes(t.agent)) continue;
      targetArgs[t.agent] = { version: up.from, ...(up.snapshot ? { fallbackSnapshot: up.snapshot } : {}) };
    }
    const agents = Object.keys(targetArgs);
    if (agents.length === 0) throw new PlaneError(ErrorCode.FailedPrecondition, `the last upgrade of plane '${plane}' (${last.id}) moved no agent; nothing to roll back`, { where: 'rollback' });
    return { ...common, args: { rollback: true, rollbackOf: last.id }, agents, targetArgs, waves: wavesFor(agents.length) };
  }
  if (!req.version || !VERSION.test(req.version)) {
    throw new PlaneError(ErrorCode.InvalidArgument, `version ${JSON.stringify(req.version ?? '')}: an OpenClaw release like 2026.9.6 is required (or rollback)`, { where: 'version' });
  }
  return { ...common, args: { version: req.version }, ...(req.agents ? { agents: req.agents } : {}), waves: wavesFor(req.agents?.length ?? agentCount) };
}

/** The newest upgrade run of the plane that was not itself a rollback. */
function lastUpgrade(runs: CommandRuns, plane: string): RunRecord | undefined {
  return runs.list(plane, 200, 'upgrade').find((r) => r.args['rollback'] !== true && r.state !== 'running');
}
