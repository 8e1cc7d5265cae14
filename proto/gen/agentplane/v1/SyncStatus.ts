// Original file: proto/agentplane/v1/agentplane.proto

import type { RestoreFallback as _agentplane_v1_RestoreFallback, RestoreFallback__Output as _agentplane_v1_RestoreFallback__Output } from '../../agentplane/v1/RestoreFallback.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * The agent's brain sync (workspace files and database snapshots to the bucket).
 */
export interface SyncStatus {
  /**
   * "idle" | "syncing" | "restoring" | "error" | "waiting-lease" | "stale" | "disabled"
   */
  'state'?: (string);
  /**
   * Last push that reached the bucket.
   */
  'lastSuccessMs'?: (number | string | Long);
  /**
   * Age of the oldest change not yet in the bucket; 0 when clean.
   */
  'lagMs'?: (number | string | Long);
  'pendingChanges'?: (number);
  'lastError'?: (string);
  /**
   * Id of the current snapshot in the bucket.
   */
  'snapshot'?: (string);
  'lastDbSnapshotMs'?: (number | string | Long);
  /**
   * Counted in the current snapshot (restore drills compare against these).
   */
  'memoryFiles'?: (number);
  'sessions'?: (number);
  'files'?: (number);
  /**
   * Workspace files left out of the brain now (symlinks, devices, oversize, unreadable, bad names).
   */
  'skippedFiles'?: (number);
  /**
   * Writer lease this agentd holds; 0 = none.
   */
  'fence'?: (number | string | Long);
  /**
   * skipped_files by reason: "invalid-name", "unsafe-name", "path-too-long", "too-deep", "symlink",
   * "fifo", "socket", "device", "not-regular", "too-large", "unreadable".
   */
  'skippedByReason'?: ({[key: string]: number});
  /**
   * Set when the last restore could not use the newest snapshot.
   */
  'restoreFallback'?: (_agentplane_v1_RestoreFallback | null);
  /**
   * Last cheap bucket check (HEAD as written, a sample of chunks there); 0 = none yet.
   */
  'lastCheckMs'?: (number | string | Long);
  /**
   * Why the bucket is not trusted to hold what was uploaded (HEAD moved or missing, a chunk gone);
   * the next push uploads every chunk again. Empty when trusted.
   */
  'untrusted'?: (string);
}

/**
 * The agent's brain sync (workspace files and database snapshots to the bucket).
 */
export interface SyncStatus__Output {
  /**
   * "idle" | "syncing" | "restoring" | "error" | "waiting-lease" | "stale" | "disabled"
   */
  'state': (string);
  /**
   * Last push that reached the bucket.
   */
  'lastSuccessMs': (number);
  /**
   * Age of the oldest change not yet in the bucket; 0 when clean.
   */
  'lagMs': (number);
  'pendingChanges': (number);
  'lastError': (string);
  /**
   * Id of the current snapshot in the bucket.
   */
  'snapshot': (string);
  'lastDbSnapshotMs': (number);
  /**
   * Counted in the current snapshot (restore drills compare against these).
   */
  'memoryFiles': (number);
  'sessions': (number);
  'files': (number);
  /**
   * Workspace files left out of the brain now (symlinks, devices, oversize, unreadable, bad names).
   */
  'skippedFiles': (number);
  /**
   * Writer lease this agentd holds; 0 = none.
   */
  'fence': (number);
  /**
   * skipped_files by reason: "invalid-name", "unsafe-name", "path-too-long", "too-deep", "symlink",
   * "fifo", "socket", "device", "not-regular", "too-large", "unreadable".
   */
  'skippedByReason': ({[key: string]: number});
  /**
   * Set when the last restore could not use the newest snapshot.
   */
  'restoreFallback': (_agentplane_v1_RestoreFallback__Output | null);
  /**
   * Last cheap bucket check (HEAD as written, a sample of chunks there); 0 = none yet.
   */
  'lastCheckMs': (number);
  /**
   * Why the bucket is not trusted to hold what was uploaded (HEAD moved or missing, a chunk gone);
   * the next push uploads every chunk again. Empty when trusted.
   */
  'untrusted': (string);
}
