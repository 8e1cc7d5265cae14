import type { BrainManifest } from '../../../common/src/brain/brain-manifest.ts';
import type { RestoreFallback, SyncStatus } from '../../../proto/index.ts';

/** What the sync is doing, as its status shows it (a lease lost shows as `stale` over all of these). */
export type SyncActivity = 'idle' | 'restoring' | 'syncing' | 'error' | 'waiting-lease';

/**
 * What one BrainSync knows and shows: the snapshot it builds on, what it is
 * doing, and how its last push and check went. Shared by its parts (the push,
 * the restores, the checks); the heartbeat reads it through status().
 */
export class SyncState {
  /** The snapshot the next push builds on: the last one this machine pushed or restored. */
  base: BrainManifest | null = null;
  activity: SyncActivity = 'idle';
  lastSuccessMs = 0;
  lastSnapshotMs = 0;
  lastCheckMs = 0;
  lastError = '';
  /** The last error came from a check (cleared by the next good check), not from a push. */
  errorFromCheck = false;
  /** The writer lease went to a newer writer: this sync never pushes again. */
  stale = false;
  fallback: RestoreFallback | null = null;

  pushed(): void {
    this.activity = 'idle';
    this.lastError = '';
    this.errorFromCheck = false;
    this.lastSuccessMs = Date.now();
  }

  failed(message: string, from: 'push' | 'check'): void {
    this.lastError = message;
    this.errorFromCheck = from === 'check';
    this.activity = 'error';
  }

  /** A check ran: an error a check left behind is gone. */
  checked(): void {
    this.lastCheckMs = Date.now();
    if (!this.errorFromCheck) return;
    this.errorFromCheck = false;
    this.lastError = '';
    if (this.activity === 'error') this.activity = 'idle';
  }

  status(more: Pick<SyncStatus, 'lagMs' | 'pendingChanges' | 'skippedFiles' | 'skippedByReason' | 'fence' | 'untrusted'>): SyncStatus {
    const base = this.base;
    return {
      state: this.stale ? 'stale' : this.activity,
      lastSuccessMs: this.lastSuccessMs,
      lagMs: more.lagMs,
      pendingChanges: more.pendingChanges,
      lastError: this.lastError,
      snapshot: base?.id ?? '',
      lastDbSnapshotMs: this.lastSnapshotMs,
      memoryFiles: base?.stats.memoryFiles ?? 0,
      sessions: base?.stats.sessions ?? -1,
      files: base?.stats.files ?? 0,
      skippedFiles: more.skippedFiles,
      fence: more.fence,
      skippedByReason: more.skippedByReason,
      restoreFallback: this.fallback,
      lastCheckMs: this.lastCheckMs,
      untrusted: more.untrusted,
    };
  }
}
