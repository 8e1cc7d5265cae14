import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ErrorCode, PlaneError } from '../errors.ts';
import { type BrainManifest, BrokenChunkError, type DatabaseEntry, type FileEntry } from './brain-manifest.ts';
import { checkBrainPath } from './brain-paths.ts';
import type { Bucket } from './bucket.ts';
import { mapLimit } from './map-limit.ts';
import type { RestoreJob, RestoreWorkerData, RestoreWorkerMessage } from './restore-worker.ts';

export interface RestoreTargets {
  workspaceDir: string;
  /** Where database paths are rooted (OpenClaw's state dir). */
  databaseDir: string;
}

export interface RestoreProgress {
  done: number;
  total: number;
  bytes: number;
}

/** What a restore needs of a brain store (BrainStore is one). */
export interface ChunkSource {
  readonly bucket: Bucket;
  readonly prefix: string;
  chunkObject(name: string): string;
  /** The chunk's plaintext, authenticated; BrokenChunkError when missing or altered. */
  readChunk(name: string): Promise<Buffer>;
  workerKey(): Buffer;
}

export interface RestoreOptions {
  concurrency?: number;
  onProgress?: (p: RestoreProgress) => void;
  /** Chunks known to be missing or corrupt: entries that need one are left out (and listed in `skipped`). */
  skipChunks?: ReadonlySet<string>;
  /** A local-directory bucket's root: restore with worker threads reading chunks from disk. */
  localRoot?: string;
  /**
   * Do not stop at a missing or corrupt chunk: leave that file out, look through
   * the rest of its chunks, and report every broken one (the restore drill).
   */
  collectBroken?: boolean;
}

/** A chunk a restore could not use, and the file that needed it. */
export interface BrokenRef {
  path: string;
  object: string;
  chunk: string;
  kind: 'missing' | 'corrupt';
}

export type RestoreResult = RestoreProgress & { skipped: string[]; broken: BrokenRef[] };

type Job = { rel: string; path: string; entry: FileEntry | DatabaseEntry; db: boolean };

/**
 * Writes a snapshot's files and databases under the targets. Every chunk is
 * authenticated (AES-GCM) and checked against its content name; each file is
 * written to a temp name and renamed, so a crash leaves no half file. Stale
 * `-wal`/`-shm`/`-journal` files next to a restored database are removed.
 */
export async function restoreManifest(src: ChunkSource, manifest: BrainManifest, targets: RestoreTargets, options: RestoreOptions = {}): Promise<RestoreResult> {
  for (const p of [...Object.keys(manifest.files), ...Object.keys(manifest.databases)]) checkBrainPath(p);
  const all: Job[] = [
    ...Object.entries(manifest.files).map(([rel, entry]) => ({ rel, path: join(targets.workspaceDir, rel), entry, db: false })),
    ...Object.entries(manifest.databases).map(([rel, entry]) => ({ rel, path: join(targets.databaseDir, rel), entry, db: true })),
  ];
  const skip = options.skipChunks;
  const jobs = skip?.size ? all.filter((j) => !j.entry.chunks.some((c) => skip.has(c))) : all;
  const skipped = all.filter((j) => !jobs.includes(j)).map((j) => j.rel);
  const collect = options.collectBroken === true;
  if (options.localRoot && jobs.length >= 64) return { ...(await restoreInWorkers(src, jobs, options.localRoot, collect, options.onProgress)), skipped };
  const progress: RestoreProgress = { done: 0, total: jobs.length, bytes: 0 };
  const broken: BrokenRef[] = [];
  const made = new Set<string>();
  let lastReport = 0;
  await mapLimit(jobs, options.concurrency ?? 16, async (job) => {
    const dir = dirname(job.path);
    if (!made.has(dir)) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      made.add(dir);
    }
    const bad = await restoreFile(src, job.entry, job.path, 'mode' in job.entry ? job.entry.mode : 0o600, collect);
    progress.done++;
    if (bad.length > 0) {
      for (const b of bad) broken.push({ path: job.rel, ...b });
      return;
    }
    if (job.db) for (const s of ['-wal', '-shm', '-journal']) await fs.rm(job.path + s, { force: true });
    if ('mtimeMs' in job.entry) await fs.utimes(job.path, new Date(job.entry.mtimeMs), new Date(job.entry.mtimeMs));
    progress.bytes += job.entry.size;
    if (options.onProgress && (Date.now() - lastReport > 500 || progress.done === progress.total)) {
      lastReport = Date.now();
      options.onProgress({ ...progress });
    }
  });
  return { ...progress, skipped, broken };
}

/** Writes one file from its chunks; with `collect`, returns its broken chunks (and writes nothing) instead of throwing. */
async function restoreFile(src: ChunkSource, entry: FileEntry | DatabaseEntry, path: string, mode: number, collect: boolean): Promise<Omit<BrokenRef, 'path'>[]> {
  const tmp = `${path}.apb-${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, (mode & 0o777) | 0o600);
  let written = 0;
  const broken: Omit<BrokenRef, 'path'>[] = [];
  try {
    for (const c of entry.chunks) {
      let plain: Buffer;
      try {
        plain = await src.readChunk(c);
      } catch (err) {
        if (!collect || !(err instanceof BrokenChunkError)) throw err;
        broken.push({ object: src.chunkObject(c), chunk: c, kind: err.kind });
        continue;
      }
      if (broken.length === 0) await fh.write(plain);
      written += plain.length;
    }
  } catch (err) {
    await fh.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  if (broken.length > 0) {
    await fs.rm(tmp, { force: true });
    return broken;
  }
  if (written !== entry.size) {
    await fs.rm(tmp, { force: true });
    throw new PlaneError(ErrorCode.FailedPrecondition, `${path}: restored ${written} bytes, snapshot says ${entry.size}`, { where: path });
  }
  await fs.rename(tmp, path);
  return [];
}

/** Restore from a local-directory bucket in two worker threads, biggest files dealt out first. */
async function restoreInWorkers(src: ChunkSource, jobs: Job[], root: string, collect: boolean, onProgress?: (p: RestoreProgress) => void): Promise<RestoreProgress & { broken: BrokenRef[] }> {
  const sorted = [...jobs].sort((a, b) => b.entry.size - a.entry.size);
  const parts: RestoreJob[][] = [[], []];
  sorted.forEach((j, i) =>
    parts[i % 2]?.push({ rel: j.rel, path: j.path, chunks: j.entry.chunks, size: j.entry.size, mode: 'mode' in j.entry ? j.entry.mode : 0o600, db: j.db, ...('mtimeMs' in j.entry ? { mtimeMs: j.entry.mtimeMs } : {}) }),
  );
  const file = new URL(import.meta.url.endsWith('.ts') ? './restore-worker.ts' : './restore-worker.js', import.meta.url);
  const state = parts.map(() => ({ done: 0, bytes: 0 }));
  const broken: BrokenRef[] = [];
  let lastReport = 0;
  const report = (force: boolean): void => {
    if (!onProgress || (!force && Date.now() - lastReport < 500)) return;
    lastReport = Date.now();
    onProgress({ done: state.reduce((n, s) => n + s.done, 0), total: jobs.length, bytes: state.reduce((n, s) => n + s.bytes, 0) });
  };
  // Every worker runs to its end (a failed one stops at its first error), so no temp file is left behind.
  const results = await Promise.allSettled(
    parts.map(
      (part, i) =>
        new Promise<void>((resolve, reject) => {
          const data: RestoreWorkerData = { key: src.workerKey(), root, chunkPrefix: `${src.prefix}chunks/`, jobs: part, collect };
          const w = new Worker(file, { workerData: data });
          let settled = false;
          w.on('message', (m: RestoreWorkerMessage) => {
            if ('error' in m) {
              settled = true;
              if (m.broken) reject(new BrokenChunkError(m.broken.object, m.broken.chunk, m.broken.kind, m.error));
              else if (m.bucketMissing) src.bucket.assertPresent().then(() => reject(new PlaneError(ErrorCode.FailedPrecondition, `restore failed: ${m.error}`)), reject);
              else reject(new PlaneError(ErrorCode.FailedPrecondition, `restore failed: ${m.error}`));
              return;
            }
            state[i] = { done: m.done, bytes: m.bytes };
            report(false);
            if (m.broken) broken.push(...m.broken);
            if (m.final) {
              settled = true;
              resolve();
            }
          });
          w.on('error', (err: Error) => {
            settled = true;
            reject(new PlaneError(ErrorCode.Internal, `restore worker failed: ${err.message}`, { cause: err }));
          });
          w.on('exit', (code) => {
            if (!settled) reject(new PlaneError(ErrorCode.Internal, `restore worker exited with code ${code} before finishing`));
          });
        }),
    ),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  report(true);
  return { done: jobs.length, total: jobs.length, bytes: state.reduce((n, s) => n + s.bytes, 0), broken };
}
