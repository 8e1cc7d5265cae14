import type { FSWatcher } from 'chokidar';
import { schedule, type ScheduledTask } from 'node-cron';
import { join } from 'node:path';
import type { BrainKey } from '../../../common/src/brain/brain-crypto.ts';
import type { BrainManifest } from '../../../common/src/brain/brain-manifest.ts';
import { type BrainStore, StaleWriterError } from '../../../common/src/brain/brain-store.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { SyncStatus } from '../../../proto/index.ts';
import { exists } from './displace.ts';
import { bootRestore, readLocalSnapshot, restoreChosen, writeLocalSnapshot } from './local-restore.ts';
import { classifyPushFailure, PushPlanner } from './push-planner.ts';
import { runPush } from './push-run.ts';
import { SkipTracker } from './skip-tracker.ts';
import { SnapshotBuilder } from './snapshot-build.ts';
import { SyncLifecycle, type SyncPhase } from './sync-lifecycle.ts';
import { SyncState } from './sync-state.ts';
import { type BootResult, type BrainSyncSettings, DEFAULT_SYNC_SETTINGS, type PushOptions, type PushResult, type RepairReport } from './sync-settings.ts';
import type { Skipped } from './workspace-scan.ts';
import { watchWorkspace } from './workspace-watch.ts';

export * from './sync-settings.ts';
export { SyncStateError, type SyncPhase } from './sync-lifecycle.ts';

/**
 * Keeps one agent's brain in its bucket. On boot it restores the current
 * snapshot before the gateway starts; while running it watches the workspace
 * and pushes changed files within seconds, takes database snapshots on a
 * schedule and on demand, reconciles the whole tree on a schedule, checks that
 * the bucket still holds what it uploaded, and makes a final push at shutdown
 * after the gateway has stopped. Pushes are serial. Nothing local is ever
 * deleted because of the bucket: a restore moves what it replaces aside under
 * <stateDir>/sync/displaced/.
 *
 * Its life (sync-lifecycle.ts): restoreOnBoot, then start, then stop; a call
 * its phase does not allow throws SyncStateError. What to push and when is
 * the PushPlanner's, a push runPush's (push-run.ts), restores local-restore.ts',
 * and what it knows and shows is its SyncState.
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
  readonly #life: SyncLifecycle;
  readonly #planner: PushPlanner;
  readonly #skips: SkipTracker;
  readonly #builder: SnapshotBuilder;
  /** Resolves when stop begins: a start still waiting for its watcher gives up. */
  readonly #halted: Promise<void>;
  #halt: () => void = () => undefined;
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #state = new SyncState();
  #chain: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | undefined;
  #tasks: ScheduledTask[] = [];
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
    this.#life = new SyncLifecycle(this.#log);
    this.#planner = new PushPlanner({ debounceMs: this.#settings.debounceMs, maxWaitMs: this.#settings.maxWaitMs, push: () => this.push({ reason: 'push' }) });
    this.#skips = new SkipTracker(this.#log);
    this.#builder = new SnapshotBuilder({ store: this.#store, workspace: this.#workspace, dbDir: this.#dbDir, tmpDir: join(this.#dir, 'tmp'), settings: this.#settings, skips: this.#skips, log: this.#log });
    this.#halted = new Promise((resolve) => {
      this.#halt = resolve;
    });
  }

  get phase(): SyncPhase {
    return this.#life.phase;
  }

  get stale(): boolean {
    return this.#state.stale;
  }

  get current(): BrainManifest | null {
    return this.#state.base;
  }

  /** What the heartbeat carries. */
  status(): SyncStatus {
    return this.#state.status({
      lagMs: this.#planner.lagMs,
      pendingChanges: this.#planner.pending,
      skippedFiles: this.#skips.count,
      skippedByReason: this.#skips.byKind(),
      fence: this.#fence() ?? 0,
      untrusted: this.#store.untrusted ?? '',
    });
  }

  /** Files left out of the brain now, with why (for `agentd status`; heartbeats carry only counts). */
  skippedFiles(limit = 50): Skipped[] {
    return this.#skips.list(limit);
  }

  /**
   * Before the gateway starts: take HEAD over for this lease, then bring the
   * machine to its brain (see bootRestore): keep what it has when it is on the
   * current snapshot or newer than anything restorable, else restore the newest
   * snapshot the bucket holds in full (restore: false never swaps files under a
   * running gateway). A machine that keeps its files pushes them on top.
   * Once only; a boot that failed may be tried again.
   */
  async restoreOnBoot(options: { restore?: boolean; onProgress?: (message: string) => void } = {}): Promise<BootResult> {
    this.#life.check('restoreOnBoot');
    this.#life.to('booting');
    try {
      const result = await this.#boot(options);
      if (this.#life.is('booting')) this.#life.to('booted');
      return result;
    } catch (err) {
      if (this.#life.is('booting')) this.#life.to('new');
      throw err;
    }
  }

  async #boot(options: { restore?: boolean; onProgress?: (message: string) => void }): Promise<BootResult> {
    const started = Date.now();
    ensureDir(this.#dir, 0o700);
    const fence = this.#fence();
    if (fence) await this.#claim(fence);
    const head = await this.#store.readHead();
    const haveWorkspace = await exists(this.#workspace);
    const local = haveWorkspace ? readLocalSnapshot(this.#dir) : null;
    this.#state.activity = 'restoring';
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
      this.#state.activity = 'idle';
    });
    if (outcome.kind !== 'restored') {
      this.#state.base = outcome.kind === 'keep-local' ? outcome.base : null;
      this.#checkAllAtStart = outcome.kind === 'keep-local' && outcome.base !== null && this.#store.untrusted === null;
      this.#planner.needFull(outcome.kind === 'none' || this.#store.untrusted !== null);
      const action = outcome.kind === 'none' ? 'none' : 'current';
      return { action, snapshot: this.#state.base?.id ?? null, files: 0, databases: 0, ms: Date.now() - started };
    }
    writeLocalSnapshot(this.#dir, outcome.current.id, this.#store.keyId);
    this.#state.base = outcome.current;
    this.#state.fallback = outcome.fallback;
    this.#state.lastSuccessMs = Date.now();
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
    if (!this.#state.stale) this.#log.error('writer lease lost; no further pushes from this agentd', { reason: err.message });
    this.#state.stale = true;
    this.#state.lastError = err.message;
    this.#planner.halt();
    this.#onChange();
  }

  /** Called when the hub grants (or re-grants) the writer lease. */
  async leaseGranted(fence: number): Promise<void> {
    this.#life.check('leaseGranted');
    await this.#enqueue(async () => {
      await this.#claim(fence);
      this.#planner.markDirty();
      this.#planner.schedule();
    });
  }

  /**
   * Starts watching and the schedules. Resolves once the watcher is ready:
   * every change from then on is seen. A second call returns the first.
   */
  async start(): Promise<void> {
    if (!this.#started || !this.#life.is('starting', 'running')) {
      this.#life.check('start');
      this.#life.to('starting');
      this.#started = this.#watch();
    }
    return this.#started;
  }

  async #watch(): Promise<void> {
    const s = this.#settings;
    const { watcher, ready } = watchWorkspace({
      workspace: this.#workspace,
      skips: this.#skips,
      log: this.#log,
      onPath: (rel) => {
        this.#planner.changed(rel);
        this.#planner.schedule();
      },
      onRescan: () => {
        this.#planner.needFull();
        this.#planner.schedule();
      },
    });
    this.#watcher = watcher;
    const task = (expr: string, name: string, fn: () => Promise<unknown>): ScheduledTask =>
      schedule(
        expr,
        async () => {
          await fn().catch(() => undefined);
        },
        { name, noOverlap: true, unref: true },
      );
    // Anything found at boot (a new brain, unpushed local changes) goes up now, not at the next cron.
    if (this.#planner.due) this.#planner.schedule();
    if (this.#checkAllAtStart) this.check({ all: true }).catch(() => undefined);
    this.#tasks = [
      task(s.reconcileCron, 'brain-reconcile', async () => {
        await this.push({ reason: 'push', full: true });
        if (Date.now() - this.#lastPruneMs > 6 * 3600_000) await this.prune();
      }),
      task(s.snapshotCron, 'brain-snapshot', () => this.push({ reason: 'snapshot', databases: true })),
      task(s.checkCron, 'brain-check', () => this.check()),
    ];
    await Promise.race([ready, this.#halted]);
    if (this.#life.is('starting')) this.#life.to('running');
  }

  /**
   * The cheap check (sync.checkCron): HEAD as this writer left it, the current
   * snapshot's manifest and a sample of its chunks in the bucket. A change
   * found makes the next push upload every chunk again (it is scheduled now);
   * a bucket that is missing or unreachable is an error in status until a
   * push or check succeeds. Returns what is wrong, or null.
   */
  async check(options: { all?: boolean } = {}): Promise<string | null> {
    this.#life.check('check');
    return this.#enqueue(async () => {
      if (this.#state.stale || this.#life.halted || !this.#fence()) return null;
      let problem: string | null;
      try {
        problem = options.all && this.#state.base ? ((await this.#store.headAsExpected()) ? await this.#store.checkAll(this.#state.base) : this.#store.untrusted) : await this.#store.check(this.#state.base, this.#settings.checkSample);
      } catch (err) {
        const e = PlaneError.from(err);
        this.#state.failed(e.message, 'check');
        this.#log.error('brain check failed', { reason: e.message, code: e.code });
        this.#planner.retryLater();
        this.#onChange();
        return e.message;
      }
      this.#state.checked();
      if (problem) {
        this.#log.error('the bucket no longer holds what this agent uploaded; uploading every chunk again', { reason: problem });
        this.#planner.needFull(true);
        this.#planner.schedule();
      }
      this.#onChange();
      return problem;
    });
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Pushes now (serially after any push under way). Throws when it could not. */
  async push(options: PushOptions): Promise<PushResult> {
    this.#life.check('push');
    return this.#enqueue(async () => {
      try {
        const r = await runPush(
          { store: this.#store, builder: this.#builder, planner: this.#planner, state: this.#state, workspace: this.#workspace, syncDir: this.#dir, fence: this.#fence(), log: this.#log, onRepair: this.#onRepair },
          options,
        );
        this.#planner.succeeded();
        this.#onChange();
        return r;
      } catch (err) {
        const e = err instanceof StaleWriterError ? err : PlaneError.from(err);
        if (e instanceof StaleWriterError) this.#becomeStale(e);
        else {
          this.#state.failed(e.message, 'push');
          this.#log.error('brain push failed; local files are untouched and the push will be retried', { reason: e.message, code: e.code });
          if (classifyPushFailure(e) === 'retry') this.#planner.retryLater();
          this.#onChange();
        }
        throw e;
      }
    });
  }

  /** Applies the retention policy (lease holder only). */
  async prune(): Promise<void> {
    this.#life.check('prune');
    await this.#enqueue(async () => {
      if (this.#state.stale || !this.#fence()) return;
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
    this.#life.check('finalSync');
    await this.stop();
    if (this.#state.stale || !this.#fence()) return { failed: this.#state.stale ? this.#state.lastError : 'no writer lease' };
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

  /** Stops watching and the schedules without a final push. Allowed in any phase; every call returns the one stop. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#life.to('stopping');
    this.#halt();
    this.#planner.halt();
    for (const t of this.#tasks) await t.destroy();
    this.#tasks = [];
    await this.#watcher?.close();
    this.#watcher = undefined;
    this.#life.to('stopped');
  }

  /**
   * Data key rotation: from now on the store seals with the ring's first key,
   * and every snapshot still under an older key is rewritten with it (see
   * BrainStore.reencrypt). Runs in the sync queue, so no push interleaves.
   */
  async rekey(ring: BrainKey, onProgress?: (message: string) => void): Promise<{ snapshots: number; rewritten: number; chunks: number; deleted: number; keyId: string; ms: number }> {
    this.#life.check('rekey');
    return this.#enqueue(async () => {
      const fence = this.#fence();
      if (!fence || this.#state.stale) throw new PlaneError(ErrorCode.FailedPrecondition, 'this agentd does not hold the writer lease; cannot rotate the brain data key');
      const started = Date.now();
      this.#store.useKey(ring);
      const r = await this.#store.reencrypt((p) => onProgress?.(`re-encrypting snapshot ${p.snapshots}/${p.total}, ${p.chunks} chunks`));
      // The next push builds on the rewritten current snapshot: its chunk names are the new key's.
      const head = await this.#store.readHead();
      if (head) {
        this.#state.base = await this.#store.readManifest(head.manifest);
        writeLocalSnapshot(this.#dir, head.manifest, this.#store.keyId);
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
    this.#life.check('restoreSnapshot');
    return this.#enqueue(async () => {
      const fence = this.#fence();
      if (!fence || this.#state.stale) throw new PlaneError(ErrorCode.FailedPrecondition, 'this agentd does not hold the writer lease; cannot restore');
      this.#state.activity = 'restoring';
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
        this.#state.activity = 'idle';
      });
      this.#state.base = current;
      writeLocalSnapshot(this.#dir, current.id, this.#store.keyId);
      this.#planner.clear();
      this.#state.lastSuccessMs = Date.now();
      const { files, databases, stats } = manifest;
      return { restored: id, current: current.id, files: Object.keys(files).length, databases: Object.keys(databases).length, sessions: stats.sessions, memoryFiles: stats.memoryFiles, ...(displacedTo ? { displacedTo } : {}) };
    });
  }
}
