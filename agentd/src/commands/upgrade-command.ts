import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { OpenClawRuntime } from '../runtime/openclaw-runtime.ts';
import { assertSafeOpenclaw, validateOpenclawVersion } from '../../../common/src/runtime/runtime-versions.ts';
import type { ChildSupervisor } from '../supervisor/child-supervisor.ts';
import type { BrainSync } from '../sync/brain-sync.ts';
import { findDatabases, snapshotDatabase } from '../sync/db-snapshot.ts';

export interface BrainCounts {
  sessions: number;
  memoryFiles: number;
}

export interface UpgradeDeps {
  runtime: OpenClawRuntime;
  supervisor: ChildSupervisor;
  brain: () => BrainSync;
  /** Sessions in the live databases and memory files in the workspace. */
  counts: () => Promise<BrainCounts>;
  /** Persists the release this agent runs (agentd's journal), so a restarted agentd starts the same one. */
  persistVersion: (version: string, previous: string) => void;
  paused: () => boolean;
  /** OpenClaw's state dir (its databases) and a scratch dir for preflight copies. */
  openclawStateDir: string;
  scratchDir: string;
  log: Logger;
  onChange: () => void;
}

/** Preflight outcomes that mean the target release can open the databases (after its own migration, if any). */
const PREFLIGHT_OK = new Set(['exact', 'startup-repairable', 'migration-required']);

/**
 * Fault injection for rollback drills and tests: a comma-separated list of
 * releases whose health gate is reported failed after a real switch and start,
 * so the rollback path runs for real. Never set in production.
 */
export const FAULT_UPGRADE_GATE_ENV = 'AGENTD_FAULT_UPGRADE_GATE';

/**
 * The `upgrade` command: install the release beside the current one, preflight
 * the databases with it, stop the gateway, snapshot the quiet brain (the
 * rollback point), switch, `doctor --fix`, start, and check the health gate:
 * started and ready, and no fewer sessions or memory files than before. A
 * failed gate rolls back: the previous release and the snapshot, itself
 * continuity-checked, and the command fails with what happened.
 *
 * `fallbackSnapshot` (a rollback to an older release): when the older release
 * cannot open the newer databases (OpenClaw does not downgrade a schema), that
 * snapshot is restored instead of keeping the current databases.
 */
export async function upgradeOpenClaw(d: UpgradeDeps, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const target = validateOpenclawVersion(args['version']);
  assertSafeOpenclaw(target);
  const fallback = typeof args['fallbackSnapshot'] === 'string' && args['fallbackSnapshot'] ? args['fallbackSnapshot'] : undefined;
  const rt = d.runtime;
  const sup = d.supervisor;
  const from = rt.version;
  if (target === from) return { changed: false, from, to: target };
  const brain = d.brain(); // no brain sync, no rollback point: refuse before touching anything
  const log = d.log.child('upgrade', { from, to: target });

  log.info('installing the target release beside the current one');
  const paths = await rt.installRelease(target);
  const preflight = await rt.preflight(paths, await findDatabases(d.openclawStateDir), snapshotDatabase, d.scratchDir).finally(() => rmSync(d.scratchDir, { recursive: true, force: true }));
  const blocked = preflight.filter((p) => !PREFLIGHT_OK.has(p.status));
  if (blocked.length > 0 && !fallback) {
    throw new PlaneError(
      ErrorCode.FailedPrecondition,
      `openclaw ${target} cannot open this agent's databases: ${blocked.map((b) => `${b.database}: ${b.status}${b.detail ? ` (${b.detail})` : ''}`).join('; ')}; nothing was changed (still on ${from})`,
    );
  }
  const restoreFallback = blocked.length > 0 ? fallback : undefined;

  const before = await d.counts();
  await sup.stop();
  // The gateway is down, so its databases are quiet: this snapshot is exactly what a rollback restores.
  let snapshot: string;
  try {
    const pushed = await brain.push({ reason: 'manual', databases: true, full: true });
    if (!pushed.snapshot || pushed.skipped) throw new PlaneError(ErrorCode.Unavailable, `no pre-upgrade snapshot: ${pushed.skipped ?? 'the push made none'}`);
    snapshot = pushed.snapshot;
  } catch (err) {
    if (!d.paused()) await sup.start();
    throw new PlaneError(ErrorCode.Unavailable, `${PlaneError.from(err).message}; nothing was changed (still on ${from})`);
  }
  log.info('pre-upgrade snapshot taken; switching', { snapshot, ...before });

  const switched = { from, to: target, snapshot, preflight, before };
  d.persistVersion(target, from);
  rt.use(target);
  d.onChange();
  let expected: BrainCounts = before;
  let failure = '';
  let doctor = { code: 0, out: '' };
  let gateway = 'stopped (paused)';
  let after: BrainCounts = before;
  try {
    if (restoreFallback) {
      const r = await brain.restoreSnapshot(restoreFallback);
      expected = { sessions: r.sessions, memoryFiles: r.memoryFiles };
      log.info('restored the fallback snapshot: the older release cannot open the newer databases', { fallback: restoreFallback });
    }
    doctor = await rt.doctorFix();
    if (doctor.code !== 0) failure = `openclaw doctor --fix exited ${doctor.code}: ${doctor.out.trim().slice(-300)}`;
    if (!failure && !d.paused()) {
      const s = await sup.start();
      gateway = s.kind === 'failed' ? `failed: ${s.reason}` : s.kind;
      if (s.kind !== 'running') failure = `the gateway did not become ready (/startupz, /readyz): ${gateway}`;
    }
    if (!failure) {
      after = await d.counts();
      if (after.sessions < expected.sessions || after.memoryFiles < expected.memoryFiles) {
        failure = `continuity: sessions ${after.sessions} (before ${expected.sessions}), memory files ${after.memoryFiles} (before ${expected.memoryFiles})`;
      }
    }
    const faulty = (process.env[FAULT_UPGRADE_GATE_ENV] ?? '').split(',').map((v) => v.trim());
    if (!failure && faulty.includes(target)) failure = `health gate failed by fault injection (${FAULT_UPGRADE_GATE_ENV} names ${target})`;
  } catch (err) {
    failure = PlaneError.from(err).message;
  }
  if (!failure) {
    log.info('upgrade passed its health gate', { gateway, ...after });
    d.onChange();
    return { changed: true, ...switched, ...(restoreFallback ? { restoredFallback: restoreFallback } : {}), doctor: doctor.code, gateway, continuity: { before: expected, after } };
  }

  // Roll back: the previous release and the pre-upgrade snapshot (a newer release may have migrated the databases).
  log.error('upgrade failed its health gate; rolling back', { failure });
  await sup.stop();
  d.persistVersion(from, target);
  rt.use(from);
  d.onChange();
  const r = await brain.restoreSnapshot(snapshot);
  let back = 'stopped (paused)';
  if (!d.paused()) {
    const s = await sup.start();
    back = s.kind === 'failed' ? `failed: ${s.reason}` : s.kind;
  }
  const found = await d.counts();
  const intact = found.sessions === r.sessions && found.memoryFiles === r.memoryFiles && !back.startsWith('failed');
  const rollback = { rolledBack: true, to: from, snapshot, intact, gateway: back, continuity: { sessions: { expected: r.sessions, found: found.sessions }, memoryFiles: { expected: r.memoryFiles, found: found.memoryFiles } }, ...(r.displacedTo ? { displacedTo: r.displacedTo } : {}) };
  log.info('rolled back', rollback);
  d.onChange();
  const e = new PlaneError(
    ErrorCode.FailedPrecondition,
    `upgrade to openclaw ${target} failed its health gate (${failure}); rolled back to ${from} with snapshot ${snapshot}: ${intact ? 'continuity intact' : 'CONTINUITY CHECK FAILED'} (sessions ${found.sessions}/${r.sessions}, memory files ${found.memoryFiles}/${r.memoryFiles}, gateway ${back})`,
  );
  (e as PlaneError & { output?: unknown }).output = { changed: false, ...switched, failure, rollback };
  throw e;
}

/** Where preflight copies go: under agentd's state dir, removed after each preflight. */
export function preflightScratch(stateDir: string): string {
  return join(stateDir, 'run', 'preflight');
}
