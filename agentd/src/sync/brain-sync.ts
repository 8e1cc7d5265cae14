import type { FSWatcher } from 'chokidar';
import { schedule, type ScheduledTask } from 'node-cron';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backoff } from '../../../common/src/backoff.ts';
import type { BrainManifest } from '../../../common/src/brain/brain-manifest.ts';
import { type BrainStore, HeadChangedError, StaleWriterError } from '../../../common/src/brain/brain-store.ts';
import type { BrainKey } from '../../../common/src/brain/brain-crypto.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { RestoreFallback, SyncStatus } from '../../../proto/index.ts';
import { bootRestore, restoreChosen } from './local-restore.ts';
import { exists } from './displace.ts';
import { SkipTracker } from './skip-tracker.ts';
import { SnapshotBuilder } from './snapshot-build.ts';
import { type BootResult, type BrainSyncSettings, DEFAULT_SYNC_SETTINGS, type PushOptions, type PushResult, type RepairReport } from './sync-settings.ts';
import type { Skipped } from './workspace-scan.ts';
import { watchWorkspace } from './workspace-watch.ts';

export * from './sync-settings.ts';

interface LocalState {
  snapshot: string;
  keyId: string;
}

/**
 * Keeps one agent's brain in its bucket. On boot it restores the current
 * snapshot before the gateway starts; while running it watches the workspace
 * and pushes changed files within seconds, takes database snapshots on a
 * schedule and on demand, reconciles the whole tree on a schedule, checks that
 * the bucket still holds what it uploaded, and makes a final push at shutdown
 * after the gateway has stopped. Pushes are serial. Nothing local is ever
 * deleted because of the bucket: a restore moves what it replaces aside under
 * <stateDir>/sync/displaced/.
 */
export class BrainSync {
  readonly #store: BrainStore;
  readonly #workspace: string;
  readonly #dbDir: string;
  readonly #dir: string;
  readonly #fence: () => number | undefined;
  readonly #log: Logger;
  readonly #settings: BrainSyncSettings;
  readonly #onChange: () => void;
  readonly #onRepair: (r: RepairReport) => void;
  #base: BrainManifest | null = null;
  #dirty = new Set<string>();
  #fullPending = false;
  #dbPending = false;
  #firstDirtyAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #retry = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000 });
  #chain: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | undefined;
  #tasks: ScheduledTask[] = [];
  #state = 'idle';
  #lastSuccessMs = 0;
  #lastSnapshotMs = 0;
  #lastCheckMs = 0;
  #lastError = '';
  /** The last error came from a check (cleared by the next good check), not from a push. */
  #errorFromCheck = false;
  #stale = false;
  #stopped = false;
  readonly #skips: SkipTracker;
  readonly #builder: SnapshotBuilder;
  #fallback: RestoreFallback | null = null;
  /** The boot kept the local brain on a snapshot nobody restored from: check all its chunks once running. */
  #checkAllAtStart = false;
  #lastPruneMs = 0;

  constructor(options: {
    store: BrainStore;
    workspaceDir: string;
    databaseDir: string;
    stateDir: string;
    fence: () => number | undefined;
    log: Logger;
    settings?: Partial<BrainSyncSettings>;
    onChange?: () => void;
    onRepair?: (r: RepairReport) => void;
  }) {
    this.#store = options.store;
    this.#workspace = options.workspaceDir;
    this.#dbDir = options.databaseDir;
    this.#dir = join(options.stateDir, 'sync');
    this.#fence = options.fence;
    this.#log = options.log.child('sync');
    this.#settings = { ...DEFAULT_SYNC_SETTINGS, ...options.settings };
    this.#onChange = options.onChange ?? (() => undefined);
    this.#onRepair = options.onRepair ?? (() => undefined);
    this.#skips = new SkipTracker(this.#log);
    this.#builder = new SnapshotBuilder({ store: this.#store, workspace: this.#workspace, dbDir: this.#dbDir, tmpDir: join(this.#dir, 'tmp'), settings: this.#settings, skips: this.#skips, log: this.#log });
  }

  get stale(): boolean {
    return this.#stale;
  }

  get current(): BrainManifest | null {
    return this.#base;
  }

  /** What the heartbeat carries. */
  status(): SyncStatus {
    const base = this.#base;
    return {
      state: this.#stale ? 'stale' : this.#state,
      lastSuccessMs: this.#lastSuccessMs,
      lagMs: this.#firstDirtyAt === undefined ? 0 : Date.now() - this.#firstDirtyAt,
      pendingChanges: this.#dirty.size + (this.#fullPending ? 1 : 0),
      lastError: this.#lastError,
      snapshot: base?.id ?? '',
      lastDbSnapshotMs: this.#lastSnapshotMs,
      memoryFiles: base?.stats.memoryFiles ?? 0,
      sessions: base?.stats.sessions ?? -1,
      files: base?.stats.files ?? 0,
      skippedFiles: this.#skips.count,
      fence: this.#fence() ?? 0,
      skippedByReason: this.#skips.byKind(),
      restoreFallback: this.#fallback,
      lastCheckMs: this.#lastCheckMs,
      untrusted: this.#store.untrusted ?? '',
    };
  }

  /** Files left out of the brain now, with why (for `agentd status`; heartbeats carry only counts). */
  skippedFiles(limit = 50): Skipped[] {
    return this.#skips.list(limit);
  }

  #readLocal(): LocalState | null {
    try {
      return JSON.parse(readFileSync(join(this.#dir, 'state.json'), 'utf8')) as LocalState;
    } catch {
      return null;
    }
  }

  #writeLocal(snapshot: string): void {
    writeFileAtomic(join(this.#dir, 'state.json'), JSON.stringify({ snapshot, keyId: this.#store.keyId } satisfies LocalState));
  }

  /**
   * Before the gateway starts: take HEAD over for this lease, then bring the
   * machine to its brain (see bootRestore): keep what it has when it is on the
   * current snapshot or newer than anything restorable, else restore the newest
   * snapshot the bucket holds in full (restore: false never swaps files under a
   * running gateway). A machine that keeps its files pushes them on top.
   */
  async restoreOnBoot(options: { restore?: boolean; onProgress?: (message: string) => void } = {}): Promise<BootResult> {
    const started = Date.now();
    ensureDir(this.#dir, 0o700);
    const fence = this.#fence();
    if (fence) await this.#claim(fence);
    const head = await this.#store.readHead();
    const haveWorkspace = await exists(this.#workspace);
    const local = haveWorkspace ? (this.#readLocal()?.snapshot ?? null) : null;
    this.#state = 'restoring';
    const outcome = await bootRestore({
      store: this.#store,
      fence,
      head,
      local,
      haveWorkspace,
      restore: options.restore !== false,
      workspace: this.#workspace,
      dbDir: this.#dbDir,
      syncDir: this.#dir,
      log: this.#log,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    }).finally(() => {
      this.#state = 'idle';
    });
    if (outcome.kind !== 'restored') {
      this.#base = outcome.kind === 'keep-local' ? outcome.base : null;
      this.#checkAllAtStart = outcome.kind === 'keep-local' && outcome.base !== null && this.#store.untrusted === null;
      this.#fullPending = true;
      this.#dbPending ||= outcome.kind === 'none' || this.#store.untrusted !== null;
      this.#markDirty();
      const action = outcome.kind === 'none' ? 'none' : 'current';
      return { action, snapshot: this.#base?.id ?? null, files: 0, databases: 0, ms: Date.now() - started };
    }
    this.#writeLocal(outcome.current.id);
    this.#base = outcome.current;
    this.#fallback = outcome.fallback;
    this.#lastSuccessMs = Date.now();
    const result: BootResult = {
      action: 'restored',
      snapshot: outcome.restored.id,
      files: Object.keys(outcome.current.files).length,
      databases: Object.keys(outcome.current.databases).length,
      ms: Date.now() - started,
      ...(outcome.displacedTo ? { displacedTo: outcome.displacedTo } : {}),
      ...(outcome.fallback ? { fallback: outcome.fallback } : {}),
    };
    this.#log.info('brain restored', { ...result, fallback: outcome.fallback ? outcome.fallback.used : undefined });
    return result;
  }

  async #claim(fence: number): Promise<void> {
    try {
      await this.#store.claim(fence);
    } catch (err) {
      if (err instanceof StaleWriterError) this.#becomeStale(err);
      throw err;
    }
  }

  #becomeStale(err: StaleWriterError): void {
    if (!this.#stale) this.#log.error('writer lease lost; no further pushes from this agentd', { reason: err.message });
    this.#stale = true;
    this.#lastError = err.message;
    this.#clearTimers();
    this.#onChange();
  }

  /** Called when the hub grants (or re-grants) the writer lease. */
  async leaseGranted(fence: number): Promise<void> {
    await this.#enqueue(async () => {
      await this.#claim(fence);
      this.#markDirty();
      this.#schedule();
    });
  }

  /** Starts watching and the schedules. */
  start(): void {
    const s = this.#settings;
    this.#watcher = watchWorkspace({
      workspace: this.#workspace,
      skips: this.#skips,
      log: this.#log,
      onPath: (rel) => {
        this.#dirty.add(rel);
        this.#markDirty();
        this.#schedule();
      },
      onRescan: () => {
        this.#fullPending = true;
        this.#markDirty();
        this.#schedule();
      },
    });
    const task = (expr: string, name: string, fn: () => Promise<unknown>): ScheduledTask =>
      schedule(
        expr,
        async () => {
          await fn().catch(() => undefined);
        },
        { name, noOverlap: true, unref: true },
      );
    // Anything found at boot (a new brain, unpushed local changes) goes up now, not at the next cron.
    if (this.#firstDirtyAt !== undefined) this.#schedule();
    if (this.#checkAllAtStart) void this.check({ all: true });
    this.#tasks = [
      task(s.reconcileCron, 'brain-reconcile', async () => {
        this.#fullPending = true;
        await this.push({ reason: 'push', full: true });
        if (Date.now() - this.#lastPruneMs > 6 * 3600_000) await this.prune();
      }),
      task(s.snapshotCron, 'brain-snapshot', () => this.push({ reason: 'snapshot', databases: true })),
      task(s.checkCron, 'brain-check', () => this.check()),
    ];
  }

  /**
   * The cheap check (sync.checkCron): HEAD as this writer left it, the current
   * snapshot's manifest and a sample of its chunks in the bucket. A change
   * found makes the next push upload every chunk again (it is scheduled now);
   * a bucket that is missing or unreachable is an error in status until a
   * push or check succeeds. Returns what is wrong, or null.
   */
  async check(options: { all?: boolean } = {}): Promise<string | null> {
    return this.#enqueue(async () => {
      if (this.#stale || this.#stopped || !this.#fence()) return null;
      let problem: string | null;
      try {
        problem = options.all && this.#base ? ((await this.#store.headAsExpected()) ? await this.#store.checkAll(this.#base) : this.#store.untrusted) : await this.#store.check(this.#base, this.#settings.checkSample);
      } catch (err) {
        const e = PlaneError.from(err);
        this.#lastError = e.message;
        this.#errorFromCheck = true;
        this.#state = 'error';
        this.#log.error('brain check failed', { reason: e.message, code: e.code });
        this.#scheduleRetry();
        this.#onChange();
        return e.message;
      }
      this.#lastCheckMs = Date.now();
      if (this.#errorFromCheck) {
        this.#errorFromCheck = false;
        this.#lastError = '';
        if (this.#state === 'error') this.#state = 'idle';
      }
      if (problem) {
        this.#log.error('the bucket no longer holds what this agent uploaded; uploading every chunk again', { reason: problem });
        this.#fullPending = true;
        this.#dbPending = true;
        this.#markDirty();
        this.#schedule();
      }
      this.#onChange();
      return problem;
    });
  }

  #markDirty(): void {
    this.#firstDirtyAt ??= Date.now();
  }

  #schedule(): void {
    if (this.#stopped || this.#stale) return;
    const s = this.#settings;
    const waited = Date.now() - (this.#firstDirtyAt ?? Date.now());
    const delay = Math.max(0, Math.min(s.debounceMs, s.maxWaitMs - waited));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.push({ reason: 'push' }).catch(() => undefined);
    }, delay);
    this.#timer.unref();
  }

  #clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#timer = undefined;
    this.#retryTimer = undefined;
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Pushes now (serially after any push under way). Throws when it could not. */
  push(options: PushOptions): Promise<PushResult> {
    return this.#enqueue(async () => {
      try {
        const r = await this.#push(options);
        this.#retry.reset();
        return r;
      } catch (err) {
        const e = err instanceof StaleWriterError ? err : PlaneError.from(err);
        if (e instanceof StaleWriterError) this.#becomeStale(e);
        else {
          this.#lastError = e.message;
          this.#errorFromCheck = false;
          this.#state = 'error';
          this.#log.error('brain push failed; local files are untouched and the push will be retried', { reason: e.message, code: e.code });
          if (e.code === ErrorCode.Unavailable || e.code === ErrorCode.Internal || e.code === ErrorCode.Aborted) this.#scheduleRetry();
          this.#onChange();
        }
        throw e;
      }
    });
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#stale || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.push({ reason: 'push' }).catch(() => undefined);
    }, this.#retry.next());
    this.#retryTimer.unref();
  }

  async #push(options: PushOptions): Promise<PushResult> {
    const started = Date.now();
    if (this.#stale) throw new PlaneError(ErrorCode.FailedPrecondition, this.#lastError);
    const fence = this.#fence();
    if (!fence) {
      this.#state = 'waiting-lease';
      return { committed: false, snapshot: this.#base?.id ?? null, uploadedFiles: 0, deletedFiles: 0, databases: 0, ms: 0, skipped: 'no writer lease from the hub yet' };
    }
    if (!(await exists(this.#workspace))) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `workspace ${this.#workspace} is missing; refusing to sync that as a deletion of everything`);
    }
    // HEAD still as this writer left it? If not, what it uploaded may be gone: everything goes up again.
    await this.#store.headAsExpected();
    const repair = this.#store.untrusted;
    // Take the work items; put them back if this push fails.
    const dirty = this.#dirty;
    const full = options.full === true || this.#fullPending || !this.#base || repair !== null;
    const databases = options.databases === true || this.#dbPending || repair !== null;
    const since = this.#firstDirtyAt;
    this.#dirty = new Set();
    this.#fullPending = false;
    this.#dbPending = false;
    this.#firstDirtyAt = undefined;
    this.#state = 'syncing';
    try {
      let result: PushResult;
      try {
        result = await this.#build(fence, options, dirty, full, databases, started, repair);
      } catch (err) {
        // HEAD moved during this push: the snapshot was not committed; upload everything again, now.
        if (!(err instanceof HeadChangedError) || repair !== null) throw err;
        result = await this.#build(fence, options, dirty, true, true, started, this.#store.untrusted ?? err.message);
      }
      this.#state = 'idle';
      this.#lastError = '';
      this.#errorFromCheck = false;
      this.#lastSuccessMs = Date.now();
      this.#onChange();
      return result;
    } catch (err) {
      for (const d of dirty) this.#dirty.add(d);
      this.#fullPending ||= full;
      this.#dbPending ||= databases;
      if (since !== undefined) this.#firstDirtyAt = Math.min(since, this.#firstDirtyAt ?? since);
      throw err;
    }
  }

  /** One snapshot (see SnapshotBuilder), committed: the manifest, then HEAD by compare-and-swap. */
  async #build(fence: number, options: PushOptions, dirty: Set<string>, full: boolean, databases: boolean, started: number, repair: string | null): Promise<PushResult> {
    const built = await this.#builder.build({ base: this.#base, dirty, full, databases, repair, options });
    if (built.dbSnapshotMs) this.#lastSnapshotMs = built.dbSnapshotMs;
    if (built.changedWhileRead.length > 0) {
      for (const p of built.changedWhileRead) this.#dirty.add(p);
      this.#markDirty();
      this.#schedule();
    }
    const base = this.#base;
    if (!built.draft) return { committed: false, snapshot: base?.id ?? null, uploadedFiles: 0, deletedFiles: 0, databases: 0, ms: Date.now() - started };
    const manifest = await this.#store.commit(built.draft, fence);
    this.#base = manifest;
    this.#writeLocal(manifest.id);
    const result: PushResult = {
      committed: true,
      snapshot: manifest.id,
      uploadedFiles: built.uploadedFiles,
      deletedFiles: built.deletedFiles,
      databases: built.databases,
      ms: Date.now() - started,
    };
    this.#log.info('brain pushed', { ...result, reason: manifest.reason });
    if (repair !== null) {
      this.#store.trustAgain();
      const report: RepairReport = { reason: repair, snapshot: manifest.id, files: manifest.stats.files, databases: Object.keys(manifest.databases).length, lost: built.lost };
      this.#log.warn('brain repaired: every chunk of the current snapshot was uploaded again', { ...report, lost: built.lost.join(', ') });
      this.#onRepair(report);
    }
    return result;
  }

  /** Applies the retention policy (lease holder only). */
  async prune(): Promise<void> {
    await this.#enqueue(async () => {
      if (this.#stale || !this.#fence()) return;
      const r = await this.#store.prune(this.#settings.retention);
      this.#lastPruneMs = Date.now();
      this.#log.info('brain snapshots pruned', { ...r });
    });
  }

  /**
   * The last push, after the gateway has stopped: a full rescan and fresh
   * database snapshots, bounded by the deadline. Returns what happened.
   */
  async finalSync(deadlineMs: number): Promise<PushResult | { timedOut: true } | { failed: string }> {
    await this.stop();
    if (this.#stale || !this.#fence()) return { failed: this.#stale ? this.#lastError : 'no writer lease' };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ timedOut: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), Math.max(0, deadlineMs));
    });
    try {
      return await Promise.race([this.push({ reason: 'shutdown', databases: true, full: true }), timeout]);
    } catch (err) {
      return { failed: PlaneError.from(err).message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops watching and the schedules without a final push. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    for (const t of this.#tasks) await t.destroy();
    this.#tasks = [];
    await this.#watcher?.close();
    this.#watcher = undefined;
  }

  /**
   * Data key rotation: from now on the store seals with the ring's first key,
   * and every snapshot still under an older key is rewritten with it (see
   * BrainStore.reencrypt). Runs in the sync queue, so no push interleaves.
   */
  async rekey(ring: BrainKey, onProgress?: (message: string) => void): Promise<{ snapshots: number; rewritten: number; chunks: number; deleted: number; keyId: string; ms: number }> {
    return this.#enqueue(async () => {
      const fence = this.#fence();
      if (!fence || this.#stale) throw new PlaneError(ErrorCode.FailedPrecondition, 'this agentd does not hold the writer lease; cannot rotate the brain data key');
      const started = Date.now();
      this.#store.useKey(ring);
      const r = await this.#store.reencrypt((p) => onProgress?.(`re-encrypting snapshot ${p.snapshots}/${p.total}, ${p.chunks} chunks`));
      // The next push builds on the rewritten current snapshot: its chunk names are the new key's.
      const head = await this.#store.readHead();
      if (head) {
        this.#base = await this.#store.readManifest(head.manifest);
        this.#writeLocal(head.manifest);
      }
      return { ...r, ms: Date.now() - started };
    });
  }

  /** Drops the old keys of a finished rotation from memory. */
  useKey(key: BrainKey): void {
    this.#store.useKey(key);
  }

  /**
   * Replaces the local brain with a snapshot (the gateway must be stopped):
   * moves the current files aside, restores, and makes that snapshot current
   * again with a new `restore` snapshot so history stays linear.
   */
  async restoreSnapshot(id: string, onProgress?: (message: string) => void): Promise<{ restored: string; current: string; files: number; databases: number; sessions: number; memoryFiles: number; displacedTo?: string }> {
    return this.#enqueue(async () => {
      const fence = this.#fence();
      if (!fence || this.#stale) throw new PlaneError(ErrorCode.FailedPrecondition, 'this agentd does not hold the writer lease; cannot restore');
      this.#state = 'restoring';
      const { manifest, current, displacedTo } = await restoreChosen({
        store: this.#store,
        id,
        fence,
        workspace: this.#workspace,
        dbDir: this.#dbDir,
        syncDir: this.#dir,
        log: this.#log,
        ...(onProgress ? { onProgress } : {}),
      }).finally(() => {
        this.#state = 'idle';
      });
      this.#base = current;
      this.#writeLocal(current.id);
      this.#dirty.clear();
      this.#firstDirtyAt = undefined;
      this.#lastSuccessMs = Date.now();
      const { files, databases, stats } = manifest;
      return { restored: id, current: current.id, files: Object.keys(files).length, databases: Object.keys(databases).length, sessions: stats.sessions, memoryFiles: stats.memoryFiles, ...(displacedTo ? { displacedTo } : {}) };
    });
  }
}
