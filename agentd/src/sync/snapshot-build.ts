import { promises as fs, type Stats } from 'node:fs';
import { join } from 'node:path';
import { isMemoryFile } from '../../../common/src/brain/brain-paths.ts';
import type { BrainManifest, DatabaseEntry, FileEntry, ManifestDraft } from '../../../common/src/brain/brain-manifest.ts';
import type { BrainStore } from '../../../common/src/brain/brain-store.ts';
import { mapLimit } from '../../../common/src/brain/map-limit.ts';
import { countSessions } from '../../../common/src/brain/sqlite-checks.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { findDatabases, snapshotDatabase } from './db-snapshot.ts';
import type { SkipTracker } from './skip-tracker.ts';
import type { BrainSyncSettings, PushOptions } from './sync-settings.ts';
import { errnoSkip, excludedReason, pathSkip, type ScanEntry, scanTree, skipOf } from './workspace-scan.ts';

const TOMBSTONE_KEEP_MS = 30 * 86_400_000;

export interface BuildInput {
  base: BrainManifest | null;
  /** Changed paths (ignored when full). */
  dirty: ReadonlySet<string>;
  full: boolean;
  databases: boolean;
  /** Why the bucket is not trusted: then every file is read and every chunk uploaded again. */
  repair: string | null;
  options: PushOptions;
}

export interface Built {
  /** The next snapshot, or null when nothing changed. */
  draft: ManifestDraft | null;
  uploadedFiles: number;
  deletedFiles: number;
  databases: number;
  /** Written to while being read: pushed as read, and due again. */
  changedWhileRead: string[];
  /** In a repair: entries kept without local content whose chunks were gone, left out. */
  lost: string[];
  /** When fresh database snapshots were taken. */
  dbSnapshotMs?: number;
}

/**
 * Builds the next snapshot of a workspace against the last one: scans all of
 * it or the changed paths, uploads only content whose size, mtime or mode
 * changed (everything in a repair), takes database snapshots when asked, and
 * applies the mass-delete guard. Records what it leaves out in the tracker.
 */
export interface BuilderOptions {
  store: BrainStore;
  workspace: string;
  dbDir: string;
  /** Scratch space for database snapshots. */
  tmpDir: string;
  settings: BrainSyncSettings;
  skips: SkipTracker;
  log: Logger;
}

export class SnapshotBuilder {
  readonly #o: BuilderOptions;

  constructor(o: BuilderOptions) {
    this.#o = o;
  }

  async build(input: BuildInput): Promise<Built> {
    const { store, workspace, settings, skips } = this.#o;
    const { base, repair } = input;
    const baseFiles = new Map(Object.entries(base?.files ?? {}));
    const next = new Map<string, FileEntry>();
    const candidates = new Map<string, ScanEntry>();
    if (input.full) {
      const scan = await scanTree(workspace, '', { maxFileBytes: settings.maxFileBytes });
      skips.replaceAll(scan.skipped);
      for (const [p, st] of scan.files) candidates.set(p, st);
      // A file we cannot read now (permissions, grew past the limit) keeps its last synced version.
      for (const sk of scan.skipped) {
        const b = baseFiles.get(sk.path);
        if (b) next.set(sk.path, b);
      }
    } else {
      for (const [p, e] of baseFiles) next.set(p, e);
      for (const rel of input.dirty) await this.#rescanPath(rel, baseFiles, next, candidates);
    }
    // Only content that changed goes up (all of it in a repair).
    const upload: [string, ScanEntry][] = [];
    for (const [p, st] of candidates) {
      const b = baseFiles.get(p);
      if (repair === null && b && b.size === st.size && b.mtimeMs === st.mtimeMs && b.mode === st.mode) next.set(p, b);
      else upload.push([p, st]);
    }
    const changedWhileRead: string[] = [];
    await mapLimit(upload, 8, async ([p, st]) => {
      try {
        const { chunks, size } = await store.chunks.putFile(join(workspace, p), st.size);
        const after = await fs.lstat(join(workspace, p));
        if (after.size !== size || Math.floor(after.mtimeMs) !== st.mtimeMs) changedWhileRead.push(p);
        next.set(p, { size, mode: st.mode, mtimeMs: st.mtimeMs, chunks });
      } catch (err) {
        if (err instanceof PlaneError) throw err;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // gone since the scan; the unlink event follows
        skips.add({ path: p, ...errnoSkip(err, 'unreadable') });
        const b = baseFiles.get(p);
        if (b) next.set(p, b);
      }
    });
    const lost = repair === null ? [] : await this.#dropLost(next, baseFiles);

    const deleted = [...baseFiles.keys()].filter((p) => !next.has(p) && !lost.includes(p));
    if (!input.options.allowDeletes && deleted.length >= settings.maxDeleteMinFiles && deleted.length > settings.maxDeleteShare * baseFiles.size) {
      throw new PlaneError(
        ErrorCode.FailedPrecondition,
        `refusing to delete ${deleted.length} of ${baseFiles.size} workspace files in one sync (limit ${Math.round(settings.maxDeleteShare * 100)}%); ` +
          'nothing was deleted from the bucket. If this is intended, run `planes sync --allow-deletes`',
      );
    }

    let dbs: Record<string, DatabaseEntry> = base?.databases ?? {};
    let sessions = base?.stats.sessions ?? -1;
    let dbSnapshotMs: number | undefined;
    if (input.databases) {
      ({ dbs, sessions } = await this.#snapshotDatabases());
      dbSnapshotMs = Date.now();
    }
    const result = { uploadedFiles: upload.length, deletedFiles: deleted.length, databases: input.databases ? Object.keys(dbs).length : 0, changedWhileRead, lost, ...(dbSnapshotMs ? { dbSnapshotMs } : {}) };

    const now = Date.now();
    const tombstones: Record<string, number> = {};
    for (const [p, at] of Object.entries(base?.tombstones ?? {})) if (now - at < TOMBSTONE_KEEP_MS && !next.has(p)) tombstones[p] = at;
    for (const p of deleted) tombstones[p] = now;

    const unchanged =
      repair === null && base !== null && !input.databases && deleted.length === 0 && next.size === baseFiles.size && [...next].every(([p, e]) => baseFiles.get(p) === e);
    if (unchanged && input.options.reason !== 'manual') return { draft: null, ...result };
    const files = Object.fromEntries([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let bytes = 0;
    let memoryFiles = 0;
    for (const [p, e] of next) {
      bytes += e.size;
      if (isMemoryFile(p)) memoryFiles++;
    }
    const reason = repair !== null && (input.options.reason === 'push' || input.options.reason === 'snapshot') ? 'repair' : input.options.reason;
    return { draft: { reason, files, databases: dbs, tombstones, stats: { files: next.size, bytes, memoryFiles, sessions } }, ...result };
  }

  /** One changed path (file or directory): what syncs, what is left out, what is gone. */
  async #rescanPath(rel: string, baseFiles: Map<string, FileEntry>, next: Map<string, FileEntry>, candidates: Map<string, ScanEntry>): Promise<void> {
    const { workspace, settings, skips } = this.#o;
    const opts = { maxFileBytes: settings.maxFileBytes };
    let st: Stats | null = null;
    try {
      st = await fs.lstat(join(workspace, rel));
    } catch {
      st = null;
    }
    if (!st || st.isDirectory()) {
      for (const p of [...next.keys()]) if (p === rel || p.startsWith(rel + '/')) next.delete(p);
      if (!st) {
        skips.replaceUnder(rel, []);
        return;
      }
      const bad = pathSkip(rel, true);
      const scan = bad ? { files: new Map<string, ScanEntry>(), skipped: [{ path: rel, ...bad }] } : await scanTree(workspace, rel, opts);
      skips.replaceUnder(rel, scan.skipped);
      for (const [p, e] of scan.files) candidates.set(p, e);
      return;
    }
    next.delete(rel);
    if (excludedReason(rel, false)) {
      skips.replaceUnder(rel, []);
      return;
    }
    const skip = skipOf(rel, st, opts);
    skips.replaceUnder(rel, skip ? [{ path: rel, ...skip }] : []);
    if (!skip) candidates.set(rel, { size: st.size, mode: st.mode & 0o777, mtimeMs: Math.floor(st.mtimeMs) });
    else {
      const b = baseFiles.get(rel);
      if (b && !st.isSymbolicLink()) next.set(rel, b);
    }
  }

  /** In a repair: entries kept from the last snapshot without local content (unreadable now) whose chunks are gone are dropped. */
  async #dropLost(next: Map<string, FileEntry>, baseFiles: Map<string, FileEntry>): Promise<string[]> {
    const { store, log } = this.#o;
    const kept = [...next].filter(([p, e]) => baseFiles.get(p) === e);
    const lost: string[] = [];
    await mapLimit(kept, 8, async ([p, e]) => {
      for (const c of e.chunks) {
        if (await store.bucket.head(store.chunkObject(c))) continue;
        lost.push(p);
        next.delete(p);
        return;
      }
    });
    if (lost.length) log.error('files whose last synced version is gone from the bucket and cannot be read here now; left out of the snapshot', { files: lost.join(', ') });
    return lost;
  }

  /** Consistent copies of the databases (SQLite online backup), uploaded as chunks. */
  async #snapshotDatabases(): Promise<{ dbs: Record<string, DatabaseEntry>; sessions: number }> {
    const { store, dbDir, tmpDir } = this.#o;
    await fs.rm(tmpDir, { recursive: true, force: true });
    ensureDir(tmpDir, 0o700);
    const dbs: Record<string, DatabaseEntry> = {};
    let sessions = -1;
    try {
      for (const rel of await findDatabases(dbDir)) {
        const copy = join(tmpDir, rel.replace(/\//g, '__'));
        const takenAtMs = Date.now();
        await snapshotDatabase(join(dbDir, rel), copy);
        const n = countSessions(copy);
        if (n >= 0) sessions = Math.max(0, sessions) + n;
        const { chunks, size } = await store.chunks.putFile(copy);
        dbs[rel] = { size, chunks, takenAtMs };
      }
    } finally {
      await fs.rm(tmpDir, { recursive: true, force: true });
    }
    return { dbs, sessions };
  }
}
