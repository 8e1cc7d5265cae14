import { type FSWatcher, watch } from 'chokidar';
import { schedule, type ScheduledTask } from 'node-cron';
import { existsSync, promises as fs, readFileSync, type Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Backoff } from '../../../common/src/backoff.ts';
import {
  type BrainManifest,
  type BrainStore,
  type DatabaseEntry,
  DEFAULT_RETENTION,
  type FileEntry,
  type ManifestReason,
  mapLimit,
  type RetentionPolicy,
  StaleWriterError,
} from '../../../common/src/brain/brain-store.ts';
import type { BrainKey } from '../../../common/src/brain/brain-crypto.ts';
import { countSessions } from '../../../common/src/brain/sqlite-checks.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { SyncStatus } from '../../../proto/index.ts';
import { findDatabases, snapshotDatabase } from './db-snapshot.ts';
import { excludedReason, type ScanEntry, scanTree, skipReason } from './workspace-scan.ts';
import { isMemoryFile } from '../../../common/src/brain/brain-paths.ts';

export interface BrainSyncSettings {
  /** Quiet time after a change before it is pushed. */
  debounceMs: number;
  /** A change is pushed within this long even while writes continue. */
  maxWaitMs: number;
  /** Full rescan of the workspace (catches anything a watch missed). */
  reconcileCron: string;
  /** Consistent snapshots of the databases. */
  snapshotCron: string;
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
}

interface LocalState {
  snapshot: string;
  keyId: string;
}

const TOMBSTONE_KEEP_MS = 30 * 86_400_000;

/**
 * Keeps one agent's brain in its bucket. On boot it restores the current
 * snapshot before the gateway starts; while running it watches the workspace
 * and pushes changed files within seconds, takes database snapshots on a
 * schedule and on demand, reconciles the whole tree on a schedule, and makes a
 * final push at shutdown after the gateway has stopped. Pushes are serial.
 * Nothing local is ever deleted because of the bucket: a restore moves what it
 * replaces aside under <stateDir>/sync/displaced/.
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
  #lastError = '';
  #stale = false;
  #stopped = false;
  readonly #reportedSkips = new Set<string>();
  #skippedCount = 0;
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
  }) {
    this.#store = options.store;
    this.#workspace = options.workspaceDir;
    this.#dbDir = options.databaseDir;
    this.#dir = join(options.stateDir, 'sync');
    this.#fence = options.fence;
    this.#log = options.log.child('sync');
    this.#settings = { ...DEFAULT_SYNC_SETTINGS, ...options.settings };
    this.#onChange = options.onChange ?? (() => undefined);
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
      skippedFiles: this.#skippedCount,
      fence: this.#fence() ?? 0,
    };
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
   * machine to the current snapshot unless it already is there (or restore is
   * false). A machine that
   * is current keeps its files (and a full rescan pushes anything it had not
   * pushed yet).
   */
  async restoreOnBoot(options: { restore?: boolean; onProgress?: (message: string) => void } = {}): Promise<BootResult> {
    const onProgress = options.onProgress;
    const started = Date.now();
    ensureDir(this.#dir, 0o700);
    const fence = this.#fence();
    if (fence) await this.#claim(fence);
    const head = await this.#store.readHead();
    const local = this.#readLocal();
    if (!head) {
      this.#fullPending = true;
      this.#dbPending = true;
      this.#markDirty();
      return { action: 'none', snapshot: null, files: 0, databases: 0, ms: Date.now() - started };
    }
    const manifest = await this.#store.readManifest(head.manifest);
    // restore: false is for a gateway already running on its local brain (the hub was late):
    // never swap files under it; push what it has on top (the bucket keeps the older snapshot).
    if ((local?.snapshot === head.manifest || options.restore === false) && (await exists(this.#workspace))) {
      this.#base = manifest;
      this.#fullPending = true;
      this.#markDirty();
      return { action: 'current', snapshot: manifest.id, files: 0, databases: 0, ms: Date.now() - started };
    }
    this.#state = 'restoring';
    const displacedTo = await this.#displace(manifest);
    const total = Object.keys(manifest.files).length + Object.keys(manifest.databases).length;
    onProgress?.(`restoring brain: 0/${total} files`);
    ensureDir(this.#workspace, 0o700);
    await this.#store.restore(manifest, { workspaceDir: this.#workspace, databaseDir: this.#dbDir }, { onProgress: (p) => onProgress?.(`restoring brain: ${p.done}/${p.total} files, ${Math.round(p.bytes / 1048576)} MiB`) });
    this.#writeLocal(manifest.id);
    this.#base = manifest;
    this.#state = 'idle';
    this.#lastSuccessMs = Date.now();
    const result: BootResult = {
      action: 'restored',
      snapshot: manifest.id,
      files: Object.keys(manifest.files).length,
      databases: Object.keys(manifest.databases).length,
      ms: Date.now() - started,
      ...(displacedTo ? { displacedTo } : {}),
    };
    this.#log.info('brain restored', { ...result });
    return result;
  }

  /** Moves what a restore would overwrite aside, so nothing local is lost. Keeps the last 3. */
  async #displace(manifest: BrainManifest): Promise<string | undefined> {
    const dbs = new Set([...Object.keys(manifest.databases), ...(await findDatabases(this.#dbDir))]);
    const workspaceHasFiles = (await fs.readdir(this.#workspace).catch(() => [])).length > 0;
    if (!workspaceHasFiles && ![...dbs].some((d) => existsSync(join(this.#dbDir, d)))) return undefined;
    const root = join(this.#dir, 'displaced');
    const dest = join(root, new Date().toISOString().replace(/[:.]/g, '-'));
    ensureDir(dest, 0o700);
    if (workspaceHasFiles) await move(this.#workspace, join(dest, 'workspace'));
    for (const d of dbs) {
      for (const suffix of ['', '-wal', '-shm', '-journal']) {
        const from = join(this.#dbDir, d + suffix);
        if (await exists(from)) {
          await fs.mkdir(join(dest, 'databases', d, '..'), { recursive: true });
          await move(from, join(dest, 'databases', d + suffix));
        }
      }
    }
    const all = (await fs.readdir(root)).sort();
    for (const old of all.slice(0, Math.max(0, all.length - 3))) await fs.rm(join(root, old), { recursive: true, force: true });
    this.#log.warn('moved local brain aside before restoring', { to: dest });
    return dest;
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
    this.#watcher = watch(this.#workspace, {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      ignored: (path: string, stats?: Stats) => {
        const rel = relative(this.#workspace, path).split(sep).join('/');
        if (rel === '' || rel.startsWith('..')) return false;
        return excludedReason(rel, stats?.isDirectory() ?? false) !== null;
      },
    });
    const onPath = (path: string): void => {
      const rel = relative(this.#workspace, path).split(sep).join('/');
      if (!rel || rel.startsWith('..')) return;
      this.#dirty.add(rel);
      this.#markDirty();
      this.#schedule();
    };
    for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) this.#watcher.on(ev, onPath);
    this.#watcher.on('error', (err) => {
      this.#log.warn('workspace watch error; a full rescan follows', { reason: (err as Error).message });
      this.#fullPending = true;
      this.#markDirty();
      this.#schedule();
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
    this.#tasks = [
      task(s.reconcileCron, 'brain-reconcile', async () => {
        this.#fullPending = true;
        await this.push({ reason: 'push', full: true });
        if (Date.now() - this.#lastPruneMs > 6 * 3600_000) await this.prune();
      }),
      task(s.snapshotCron, 'brain-snapshot', () => this.push({ reason: 'snapshot', databases: true })),
    ];
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
          this.#state = 'error';
          this.#log.error('brain push failed; local files are untouched and the push will be retried', { reason: e.message, code: e.code });
          if (e.code === ErrorCode.Unavailable || e.code === ErrorCode.Internal) this.#scheduleRetry();
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
    // Take the work items; put them back if this push fails.
    const dirty = this.#dirty;
    const full = options.full === true || this.#fullPending || !this.#base;
    const databases = options.databases === true || this.#dbPending;
    const since = this.#firstDirtyAt;
    this.#dirty = new Set();
    this.#fullPending = false;
    this.#dbPending = false;
    this.#firstDirtyAt = undefined;
    this.#state = 'syncing';
    try {
      const result = await this.#build(fence, options, dirty, full, databases, started);
      this.#state = 'idle';
      this.#lastError = '';
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

  async #build(fence: number, options: PushOptions, dirty: Set<string>, full: boolean, takeDbs: boolean, started: number): Promise<PushResult> {
    const base = this.#base;
    const baseFiles = new Map(Object.entries(base?.files ?? {}));
    const next = new Map<string, FileEntry>();
    const candidates = new Map<string, ScanEntry>();
    const opts = { maxFileBytes: this.#settings.maxFileBytes };
    if (full) {
      const scan = await scanTree(this.#workspace, '', opts);
      this.#reportSkips(scan.skipped);
      for (const [p, st] of scan.files) candidates.set(p, st);
      // A file we cannot read now (permissions, grew past the limit) keeps its last synced version.
      for (const s of scan.skipped) {
        const b = baseFiles.get(s.path);
        if (b) next.set(s.path, b);
      }
    } else {
      for (const [p, e] of baseFiles) next.set(p, e);
      for (const rel of dirty) {
        let st: Stats | null = null;
        try {
          st = await fs.lstat(join(this.#workspace, rel));
        } catch {
          st = null;
        }
        if (!st || st.isDirectory()) {
          for (const p of [...next.keys()]) if (p === rel || p.startsWith(rel + '/')) next.delete(p);
          if (st) {
            const scan = await scanTree(this.#workspace, rel, opts);
            this.#reportSkips(scan.skipped);
            for (const [p, e] of scan.files) candidates.set(p, e);
          }
          continue;
        }
        next.delete(rel);
        const reason = skipReason(rel, st, opts);
        if (reason === null) candidates.set(rel, { size: st.size, mode: st.mode & 0o777, mtimeMs: Math.floor(st.mtimeMs) });
        else if (!excludedReason(rel, false)) {
          this.#reportSkips([{ path: rel, reason }]);
          const b = baseFiles.get(rel);
          if (b && !st.isSymbolicLink()) next.set(rel, b);
        }
      }
    }
    // Only content that changed goes up.
    const upload: [string, ScanEntry][] = [];
    for (const [p, st] of candidates) {
      const b = baseFiles.get(p);
      if (b && b.size === st.size && b.mtimeMs === st.mtimeMs && b.mode === st.mode) next.set(p, b);
      else upload.push([p, st]);
    }
    await mapLimit(upload, 8, async ([p, st]) => {
      try {
        const { chunks, size } = await this.#store.putFile(join(this.#workspace, p), st.size);
        const after = await fs.lstat(join(this.#workspace, p));
        if (after.size !== size || Math.floor(after.mtimeMs) !== st.mtimeMs) {
          // Written to while we read it: push this version, and the next one soon.
          this.#dirty.add(p);
          this.#markDirty();
        }
        next.set(p, { size, mode: st.mode, mtimeMs: st.mtimeMs, chunks });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (err instanceof PlaneError) throw err;
        if (code === 'ENOENT') return; // gone since the scan; the unlink event follows
        this.#reportSkips([{ path: p, reason: `unreadable (${code ?? String(err)})` }]);
        const b = baseFiles.get(p);
        if (b) next.set(p, b);
      }
    });
    if (this.#dirty.size > 0) this.#schedule();

    const deleted = [...baseFiles.keys()].filter((p) => !next.has(p));
    const s = this.#settings;
    if (!options.allowDeletes && deleted.length >= s.maxDeleteMinFiles && deleted.length > s.maxDeleteShare * baseFiles.size) {
      throw new PlaneError(
        ErrorCode.FailedPrecondition,
        `refusing to delete ${deleted.length} of ${baseFiles.size} workspace files in one sync (limit ${Math.round(s.maxDeleteShare * 100)}%); ` +
          'nothing was deleted from the bucket. If this is intended, run `planes sync --allow-deletes`',
      );
    }

    let dbs: Record<string, DatabaseEntry> = base?.databases ?? {};
    let sessions = base?.stats.sessions ?? -1;
    if (takeDbs) ({ dbs, sessions } = await this.#snapshotDatabases());

    const now = Date.now();
    const tombstones: Record<string, number> = {};
    for (const [p, at] of Object.entries(base?.tombstones ?? {})) if (now - at < TOMBSTONE_KEEP_MS && !next.has(p)) tombstones[p] = at;
    for (const p of deleted) tombstones[p] = now;

    const unchanged =
      base !== null && !takeDbs && deleted.length === 0 && next.size === baseFiles.size && [...next].every(([p, e]) => baseFiles.get(p) === e);
    if (unchanged && options.reason !== 'manual') {
      return { committed: false, snapshot: base.id, uploadedFiles: 0, deletedFiles: 0, databases: 0, ms: Date.now() - started };
    }
    const sorted = Object.fromEntries([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let bytes = 0;
    let memoryFiles = 0;
    for (const [p, e] of next) {
      bytes += e.size;
      if (isMemoryFile(p)) memoryFiles++;
    }
    const manifest = await this.#store.commit(
      { reason: options.reason, files: sorted, databases: dbs, tombstones, stats: { files: next.size, bytes, memoryFiles, sessions } },
      fence,
    );
    this.#base = manifest;
    this.#writeLocal(manifest.id);
    const result: PushResult = {
      committed: true,
      snapshot: manifest.id,
      uploadedFiles: upload.length,
      deletedFiles: deleted.length,
      databases: takeDbs ? Object.keys(dbs).length : 0,
      ms: Date.now() - started,
    };
    this.#log.info('brain pushed', { ...result, reason: options.reason });
    return result;
  }

  async #snapshotDatabases(): Promise<{ dbs: Record<string, DatabaseEntry>; sessions: number }> {
    const tmp = join(this.#dir, 'tmp');
    await fs.rm(tmp, { recursive: true, force: true });
    ensureDir(tmp, 0o700);
    const dbs: Record<string, DatabaseEntry> = {};
    let sessions = -1;
    try {
      for (const rel of await findDatabases(this.#dbDir)) {
        const copy = join(tmp, rel.replace(/\//g, '__'));
        const takenAtMs = Date.now();
        await snapshotDatabase(join(this.#dbDir, rel), copy);
        const n = countSessions(copy);
        if (n >= 0) sessions = Math.max(0, sessions) + n;
        const { chunks, size } = await this.#store.putFile(copy);
        dbs[rel] = { size, chunks, takenAtMs };
      }
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
    this.#lastSnapshotMs = Date.now();
    return { dbs, sessions };
  }

  #reportSkips(skips: { path: string; reason: string }[]): void {
    for (const s of skips) {
      const key = `${s.path}\0${s.reason}`;
      if (this.#reportedSkips.has(key)) continue;
      this.#reportedSkips.add(key);
      this.#skippedCount++;
      this.#log.warn('workspace file not synced', { file: s.path, reason: s.reason });
    }
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
      const manifest = await this.#store.readManifest(id);
      this.#state = 'restoring';
      const displacedTo = await this.#displace(manifest);
      ensureDir(this.#workspace, 0o700);
      await this.#store.restore(manifest, { workspaceDir: this.#workspace, databaseDir: this.#dbDir }, { onProgress: (p) => onProgress?.(`restoring ${p.done}/${p.total}`) });
      const current = await this.#store.commit(
        { reason: 'restore', files: manifest.files, databases: manifest.databases, tombstones: manifest.tombstones, stats: manifest.stats },
        fence,
      );
      this.#base = current;
      this.#writeLocal(current.id);
      this.#dirty.clear();
      this.#firstDirtyAt = undefined;
      this.#state = 'idle';
      this.#lastSuccessMs = Date.now();
      return {
        restored: id,
        current: current.id,
        files: Object.keys(manifest.files).length,
        databases: Object.keys(manifest.databases).length,
        sessions: manifest.stats.sessions,
        memoryFiles: manifest.stats.memoryFiles,
        ...(displacedTo ? { displacedTo } : {}),
      };
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** rename, or copy and remove across filesystems. */
async function move(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await fs.cp(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await fs.rm(from, { recursive: true, force: true });
  }
}
