import { type BrainStore, HeadChangedError } from '../../../common/src/brain/brain-store.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { exists } from './displace.ts';
import { writeLocalSnapshot } from './local-restore.ts';
import type { PushPlanner, PushWork } from './push-planner.ts';
import type { SnapshotBuilder } from './snapshot-build.ts';
import type { PushOptions, PushResult, RepairReport } from './sync-settings.ts';
import type { SyncState } from './sync-state.ts';

export interface PushContext {
  store: BrainStore;
  builder: SnapshotBuilder;
  planner: PushPlanner;
  state: SyncState;
  workspace: string;
  syncDir: string;
  fence: number | undefined;
  log: Logger;
  onRepair: (r: RepairReport) => void;
}

/**
 * One push: takes the waiting work from the planner (all of it when the
 * bucket is not trusted), builds the next snapshot and commits it. The work
 * goes back to the planner if the push fails. A push that finds HEAD moved
 * under it uploads everything again at once, as a repair.
 */
export async function runPush(c: PushContext, options: PushOptions): Promise<PushResult> {
  const started = Date.now();
  const { state, store } = c;
  if (state.stale) throw new PlaneError(ErrorCode.FailedPrecondition, state.lastError);
  if (!c.fence) {
    state.activity = 'waiting-lease';
    return { committed: false, snapshot: state.base?.id ?? null, uploadedFiles: 0, deletedFiles: 0, databases: 0, ms: 0, skipped: 'no writer lease from the hub yet' };
  }
  if (!(await exists(c.workspace))) {
    throw new PlaneError(ErrorCode.FailedPrecondition, `workspace ${c.workspace} is missing; refusing to sync that as a deletion of everything`);
  }
  // HEAD still as this writer left it? If not, what it uploaded may be gone: everything goes up again.
  await store.headAsExpected();
  const repair = store.untrusted;
  const work = c.planner.take({ full: options.full === true || !state.base || repair !== null, databases: options.databases === true || repair !== null });
  state.activity = 'syncing';
  try {
    let result: PushResult;
    try {
      result = await build(c, c.fence, options, work, started, repair);
    } catch (err) {
      // HEAD moved during this push: the snapshot was not committed; upload everything again, now.
      if (!(err instanceof HeadChangedError) || repair !== null) throw err;
      result = await build(c, c.fence, options, { ...work, full: true, databases: true }, started, store.untrusted ?? err.message);
    }
    state.pushed();
    return result;
  } catch (err) {
    c.planner.giveBack(work);
    throw err;
  }
}

/** One snapshot (see SnapshotBuilder), committed: the manifest, then HEAD by compare-and-swap. */
async function build(c: PushContext, fence: number, options: PushOptions, work: PushWork, started: number, repair: string | null): Promise<PushResult> {
  const { state, store } = c;
  const built = await c.builder.build({ base: state.base, dirty: work.dirty, full: work.full, databases: work.databases, repair, options });
  if (built.dbSnapshotMs) state.lastSnapshotMs = built.dbSnapshotMs;
  if (built.changedWhileRead.length > 0) {
    for (const p of built.changedWhileRead) c.planner.changed(p);
    c.planner.schedule();
  }
  if (!built.draft) return { committed: false, snapshot: state.base?.id ?? null, uploadedFiles: 0, deletedFiles: 0, databases: 0, ms: Date.now() - started };
  const manifest = await store.commit(built.draft, fence);
  state.base = manifest;
  writeLocalSnapshot(c.syncDir, manifest.id, store.keyId);
  const result: PushResult = {
    committed: true,
    snapshot: manifest.id,
    uploadedFiles: built.uploadedFiles,
    deletedFiles: built.deletedFiles,
    databases: built.databases,
    ms: Date.now() - started,
  };
  c.log.info('brain pushed', { ...result, reason: manifest.reason });
  if (repair !== null) {
    store.trustAgain();
    const report: RepairReport = { reason: repair, snapshot: manifest.id, files: manifest.stats.files, databases: Object.keys(manifest.databases).length, lost: built.lost };
    c.log.warn('brain repaired: every chunk of the current snapshot was uploaded again', { ...report, lost: built.lost.join(', ') });
    c.onRepair(report);
  }
  return result;
}
