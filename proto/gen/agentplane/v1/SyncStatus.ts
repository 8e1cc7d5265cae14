// Original file: proto/agentplane/v1/agentplane.proto

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
   * Workspace files skipped (symlinks, devices, oversize, unreadable).
   */
  'skippedFiles'?: (number);
  /**
   * Writer lease this agentd holds; 0 = none.
   */
  'fence'?: (number | string | Long);
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
   * Workspace files skipped (symlinks, devices, oversize, unreadable).
   */
  'skippedFiles': (number);
  /**
   * Writer lease this agentd holds; 0 = none.
   */
  'fence': (number);
}
