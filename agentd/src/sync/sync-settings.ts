import type { ManifestReason } from '../../../common/src/brain/brain-manifest.ts';
import { DEFAULT_RETENTION, type RetentionPolicy } from '../../../common/src/brain/brain-retention.ts';
import type { RestoreFallback } from '../../../proto/index.ts';

export interface BrainSyncSettings {
  /** Quiet time after a change before it is pushed. */
  debounceMs: number;
  /** A change is pushed within this long even while writes continue. */
  maxWaitMs: number;
  /** Full rescan of the workspace (catches anything a watch missed). */
  reconcileCron: string;
  /** Consistent snapshots of the databases. */
  snapshotCron: string;
  /** The cheap check that the bucket still holds what was uploaded: HEAD as written, a sample of chunks. */
  checkCron: string;
  /** Chunks of the current snapshot looked at by each check. */
  checkSample: number;
  /** A sync that would delete more than this share of the files is refused ... */
  maxDeleteShare: number;
  /** ... once it deletes at least this many. */
  maxDeleteMinFiles: number;
  maxFileBytes: number;
  retention: RetentionPolicy;
}

export const DEFAULT_SYNC_SETTINGS: BrainSyncSettings = {
  debounceMs: 500,
  maxWaitMs: 1500,
  reconcileCron: '*/15 * * * *',
  snapshotCron: '*/5 * * * *',
  checkCron: '*/5 * * * *',
  checkSample: 8,
  maxDeleteShare: 0.5,
  maxDeleteMinFiles: 10,
  maxFileBytes: 64 * 1024 * 1024,
  retention: DEFAULT_RETENTION,
};

export interface PushOptions {
  reason: ManifestReason;
  /** Take fresh database snapshots (otherwise the last ones are kept). */
  databases?: boolean;
  /** Rescan the whole workspace instead of the changed paths. */
  full?: boolean;
  /** Let this sync delete more than the guard allows. */
  allowDeletes?: boolean;
}

export interface PushResult {
  committed: boolean;
  snapshot: string | null;
  uploadedFiles: number;
  deletedFiles: number;
  databases: number;
  ms: number;
  skipped?: string;
}

export interface BootResult {
  action: 'none' | 'current' | 'restored';
  snapshot: string | null;
  files: number;
  databases: number;
  ms: number;
  displacedTo?: string;
  /** The newest snapshot could not be restored in full: what was used instead, and what was not brought back. */
  fallback?: RestoreFallback;
}

/** What a repair push did: every chunk of the new snapshot uploaded again after the bucket was found changed. */
export interface RepairReport {
  reason: string;
  snapshot: string;
  files: number;
  databases: number;
  /** Entries kept from the last snapshot without local content whose chunks were gone: dropped. */
  lost: string[];
}
