import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ErrorCode, PlaneError } from '../errors.ts';
import { type Bucket, isPreconditionFailure, listAll } from './bucket.ts';
import type { BrainKey } from './brain-crypto.ts';
import { checkBrainPath } from './brain-paths.ts';
import { LocalBucket } from './local-bucket.ts';
import type { RestoreJob, RestoreWorkerData, RestoreWorkerMessage } from './restore-worker.ts';
import { Worker } from 'node:worker_threads';

/** Files are cut into chunks of this size; a snapshot of a big database re-uploads only the chunks that changed. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

export interface FileEntry {
  size: number;
  /** Permission bits only. */
  mode: number;
  mtimeMs: number;
  /** Content names of the chunks, in order. */
  chunks: string[];
}

export interface DatabaseEntry {
  size: number;
  chunks: string[];
  takenAtMs: number;
}

export interface BrainStats {
  files: number;
  bytes: number;
  /** Markdown files under memory/ plus MEMORY.md. */
  memoryFiles: number;
  /** Rows in the agent database's sessions table at snapshot time (-1 when unknown). */
  sessions: number;
}

export type ManifestReason = 'push' | 'snapshot' | 'manual' | 'shutdown' | 'restore' | 'clone' | 'claim';

export interface BrainManifest {
  format: 1;
  plane: string;
  agent: string;
  id: string;
  createdAtMs: number;
  fence: number;
  parent: string | null;
  reason: ManifestReason;
  /** Workspace files by relative path. */
  files: Record<string, FileEntry>;
  /** Consistent SQLite snapshots by path relative to OpenClaw's state dir. */
  databases: Record<string, DatabaseEntry>;
  /** Recently deleted workspace paths and when they went; kept for 30 days. */
  tombstones: Record<string, number>;
  stats: BrainStats;
}

export type ManifestDraft = Pick<BrainManifest, 'files' | 'databases' | 'tombstones' | 'stats' | 'reason'>;

export interface BrainHead {
  manifest: string;
  fence: number;
  updatedAtMs: number;
}

/** A writer whose lease was taken over by a newer one (a reprovisioned machine, another agentd). */
export class StaleWriterError extends PlaneError {
  readonly currentFence: number;
  constructor(url: string, mine: number, current: number) {
    super(ErrorCode.FailedPrecondition, `stale writer: this agentd holds writer lease ${mine}, but ${url} is owned by lease ${current}; it will not write again`);
    this.currentFence = current;
  }
}

export interface RetentionPolicy {
  /** Keep every snapshot younger than this. */
  keepWithinMs: number;
  /** Then the newest snapshot of each of this many hours ... */
  hourly: number;
  /** ... and of this many days. */
  daily: number;
  /** Snapshots made by `planes backup` are kept this long. */
  manualDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { keepWithinMs: 3600_000, hourly: 48, daily: 30, manualDays: 90 };
/** Unreferenced chunks younger than this may belong to a push in progress and are left alone. */
const GC_GRACE_MS = 3600_000;

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

function manifestId(now: number, reason: ManifestReason, fence: number): string {
  const t = new Date(now).toISOString().replace(/[-:]/g, '');
  return `${t}-${reason}-f${fence}-${randomBytes(3).toString('hex')}`;
}

/** When a manifest was made and why, from its id alone (no download). */
export function parseManifestId(id: string): { atMs: number; reason: string } | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-([a-z]+)-f\d+-[0-9a-f]+$/.exec(id);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, ms, reason] = m;
  return { atMs: Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms)), reason: reason as string };
}

/**
 * One agent's brain in a bucket, under `planes/<plane>/agents/<agent>/`:
 *   chunks/<hh>/<hmac>   sealed content chunks, written once, never changed
 *   manifests/<id>       sealed, gzipped point-in-time manifests
 *   HEAD                 {manifest, fence}: moved by compare-and-swap only
 * A snapshot becomes current only when HEAD moves, after every chunk and the
 * manifest are durable, so a writer killed half-way leaves HEAD on the last
 * complete snapshot. HEAD carries the writer's fence: a writer that finds a
 * higher fence there is stale and stops.
 */
export class BrainStore {
  readonly bucket: Bucket;
  readonly plane: string;
  readonly agent: string;
  readonly prefix: string;
  #key: BrainKey;
  /** Chunks known to be in the bucket (uploaded by us or referenced by a manifest we read). */
  readonly #known = new Set<string>();
  #headGeneration: string | undefined;
  #head: BrainHead | null | undefined;

  constructor(options: { bucket: Bucket; plane: string; agent: string; key: BrainKey }) {
    this.bucket = options.bucket;
    this.plane = options.plane;
    this.agent = options.agent;
    this.prefix = `planes/${options.plane}/agents/${options.agent}/`;
    this.#key = options.key;
  }

  get keyId(): string {
    return this.#key.keyId;
  }

  /** Replaces the data key (a ring during a rotation, the new key alone after it). */
  useKey(key: BrainKey): void {
    this.#key = key;
  }

  #chunkObject(name: string): string {
    return `${this.prefix}chunks/${name.slice(0, 2)}/${name}`;
  }

  async readHead(): Promise<BrainHead | null> {
    const got = await this.bucket.get(`${this.prefix}HEAD`);
    if (!got) {
      this.#headGeneration = '0';
      this.#head = null;
      return null;
    }
    try {
      const head = JSON.parse(got.data.toString('utf8')) as BrainHead;
      if (typeof head.manifest !== 'string' || typeof head.fence !== 'number') throw new Error('missing fields');
      this.#headGeneration = got.generation;
      this.#head = head;
      return head;
    } catch (cause) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${this.bucket.url}/${this.prefix}HEAD is not a valid brain head: ${(cause as Error).message}`, { cause });
    }
  }

  async readManifest(id: string): Promise<BrainManifest> {
    const name = `${this.prefix}manifests/${id}`;
    const got = await this.bucket.get(name);
    if (!got) throw new PlaneError(ErrorCode.NotFound, `snapshot ${id} not found in ${this.bucket.url}`, { where: name });
    const m = this.#parseManifest(name, id, this.#key.open(name, got.data));
    for (const e of [...Object.values(m.files), ...Object.values(m.databases)]) for (const c of e.chunks) this.#known.add(c);
    return m;
  }

  #parseManifest(name: string, id: string, sealedPlain: Buffer): BrainManifest {
    const m = JSON.parse(gunzipSync(sealedPlain).toString('utf8')) as BrainManifest;
    if (m.format !== 1 || m.plane !== this.plane || m.agent !== this.agent || m.id !== id) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${name}: manifest does not belong to ${this.plane}/${this.agent}`, { where: name });
    }
    for (const p of Object.keys(m.files)) checkBrainPath(p);
    for (const p of Object.keys(m.databases)) checkBrainPath(p);
    return m;
  }

  /**
   * Data key rotation, with a key ring (new key first) in use: every snapshot
   * still sealed or named with an older key is rewritten with the new one.
   * Chunks get new names (the HMAC of the new key), so each is uploaded once
   * under its new name; each manifest is then replaced in place (same id, by
   * compare-and-swap on its generation) with the new names. The old chunks are
   * deleted only after every manifest points at new ones, so a rotation cut
   * off half-way leaves every snapshot readable with the ring, and running it
   * again finishes the job. Only the lease holder may call this, and nothing
   * else may push meanwhile (agentd runs it in its sync queue).
   */
  async reencrypt(onProgress?: (p: { snapshots: number; total: number; chunks: number }) => void): Promise<{ snapshots: number; rewritten: number; chunks: number; deleted: number; keyId: string }> {
    const ids = await this.listSnapshots();
    // Old name -> new name; a promise so chunks shared by files and snapshots are re-sealed once.
    const renamed = new Map<string, Promise<string>>();
    let chunks = 0;
    let rewritten = 0;
    const reseal = async (c: string): Promise<string> => {
      const object = this.#chunkObject(c);
      const got = await this.bucket.get(object);
      if (!got) throw new PlaneError(ErrorCode.FailedPrecondition, `snapshot is missing chunk ${object}`, { where: object });
      const { plain, index } = this.#key.openChunkWithIndex(object, c, got.data);
      if (index === 0) return c;
      this.#known.delete(c);
      chunks++;
      return this.putChunk(plain);
    };
    const resealOnce = (c: string): Promise<string> => {
      let p = renamed.get(c);
      if (!p) {
        p = reseal(c);
        renamed.set(c, p);
      }
      return p;
    };
    for (const [i, id] of ids.entries()) {
      const name = `${this.prefix}manifests/${id}`;
      const got = await this.bucket.get(name);
      if (!got) continue; // pruned meanwhile
      const { plain, index } = this.#key.openWithIndex(name, got.data);
      const m = this.#parseManifest(name, id, plain);
      let changed = index !== 0;
      await mapLimit([...Object.values(m.files), ...Object.values(m.databases)], 16, async (e) => {
        const next: string[] = [];
        for (const c of e.chunks) next.push(await resealOnce(c));
        if (next.some((c, j) => c !== e.chunks[j])) changed = true;
        e.chunks = next;
      });
      if (changed) {
        await this.bucket.put(name, this.#key.seal(name, gzipSync(JSON.stringify(m), { level: 6 })), { ifGenerationMatch: got.generation });
        rewritten++;
      }
      onProgress?.({ snapshots: i + 1, total: ids.length, chunks });
    }
    const old: string[] = [];
    for (const [from, to] of renamed) if ((await to) !== from) old.push(from);
    await mapLimit(old, 16, (from) => this.bucket.delete(this.#chunkObject(from)));
    return { snapshots: ids.length, rewritten, chunks, deleted: old.length, keyId: this.#key.keyId };
  }

  /** The current snapshot, or null for an agent that never pushed. */
  async current(): Promise<BrainManifest | null> {
    const head = await this.readHead();
    return head ? this.readManifest(head.manifest) : null;
  }

  /** Snapshot ids, oldest first. */
  async listSnapshots(): Promise<string[]> {
    const ids: string[] = [];
    for await (const o of listAll(this.bucket, `${this.prefix}manifests/`)) ids.push(o.name.slice(`${this.prefix}manifests/`.length));
    return ids.filter((id) => parseManifestId(id) !== null).sort();
  }

  /** The newest snapshot taken at or before `atMs`. */
  async snapshotAt(atMs: number): Promise<string | null> {
    const ids = await this.listSnapshots();
    let best: string | null = null;
    for (const id of ids) if ((parseManifestId(id)?.atMs ?? Infinity) <= atMs) best = id;
    return best;
  }

  /** Uploads one chunk unless it is known to be there; returns its content name. */
  async putChunk(plain: Buffer): Promise<string> {
    const name = this.#key.nameOf(plain);
    if (this.#known.has(name)) return name;
    const object = this.#chunkObject(name);
    try {
      await this.bucket.put(object, this.#key.seal(object, plain), { ifGenerationMatch: '0' });
    } catch (err) {
      if (!isPreconditionFailure(err)) throw err; // already there: same name, same content
    }
    this.#known.add(name);
    return name;
  }

  /** Uploads a local file as chunks, reading it in CHUNK_BYTES pieces. */
  async putFile(path: string, size?: number): Promise<{ chunks: string[]; size: number }> {
    const fh = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const total = size ?? (await fh.stat()).size;
      const chunks: string[] = [];
      let offset = 0;
      let read = 0;
      const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(total, 1)));
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        chunks.push(await this.putChunk(Buffer.from(buf.subarray(0, bytesRead))));
        offset += bytesRead;
        read += bytesRead;
        if (bytesRead < buf.length) break;
      }
      return { chunks, size: read };
    } finally {
      await fh.close();
    }
  }

  /**
   * Makes a snapshot current: writes the manifest, then moves HEAD by
   * compare-and-swap. Throws StaleWriterError if HEAD belongs to a newer lease.
   */
  async commit(draft: ManifestDraft, fence: number, now = Date.now()): Promise<BrainManifest> {
    if (this.#head === undefined) await this.readHead();
    const manifest: BrainManifest = {
      format: 1,
      plane: this.plane,
      agent: this.agent,
      id: manifestId(now, draft.reason, fence),
      createdAtMs: now,
      fence,
      parent: this.#head?.manifest ?? null,
      ...draft,
    };
    const name = `${this.prefix}manifests/${manifest.id}`;
    await this.bucket.put(name, this.#key.seal(name, gzipSync(JSON.stringify(manifest), { level: 6 })), { ifGenerationMatch: '0' });
    try {
      await this.#moveHead(manifest.id, fence, now);
    } catch (err) {
      // A snapshot that never became current is not left behind for a restore to pick.
      if (err instanceof StaleWriterError) await this.bucket.delete(name).catch(() => undefined);
      throw err;
    }
    return manifest;
  }

  /** Takes HEAD over for a new lease without changing the snapshot; older writers are refused from now on. */
  async claim(fence: number, now = Date.now()): Promise<BrainHead | null> {
    const head = await this.readHead();
    if (!head) return null;
    if (head.fence > fence) throw new StaleWriterError(this.bucket.url, fence, head.fence);
    if (head.fence === fence) return head;
    await this.#moveHead(head.manifest, fence, now);
    return { ...head, fence };
  }

  async #moveHead(manifest: string, fence: number, now: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#headGeneration === undefined) await this.readHead();
      const body = Buffer.from(JSON.stringify({ manifest, fence, updatedAtMs: now } satisfies BrainHead));
      try {
        const { generation } = await this.bucket.put(`${this.prefix}HEAD`, body, { ifGenerationMatch: this.#headGeneration ?? '0' });
        this.#headGeneration = generation;
        this.#head = { manifest, fence, updatedAtMs: now };
        return;
      } catch (err) {
        if (!isPreconditionFailure(err)) throw err;
        // Someone moved HEAD since we last looked: a newer lease wins; the same lease retries once more.
        const current = await this.readHead();
        if (current && current.fence > fence) throw new StaleWriterError(this.bucket.url, fence, current.fence);
        if (attempt >= 3) throw err;
      }
    }
  }

  /**
   * Writes a snapshot's files and databases under the targets. Every chunk is
   * authenticated (AES-GCM) and checked against its content name; each file is
   * written to a temp name and renamed, so a crash leaves no half file. Stale
   * `-wal`/`-shm`/`-journal` files next to a restored database are removed.
   */
  async restore(manifest: BrainManifest, targets: RestoreTargets, options: { concurrency?: number; onProgress?: (p: RestoreProgress) => void } = {}): Promise<RestoreProgress> {
    const jobs: { path: string; entry: FileEntry | DatabaseEntry; db: boolean }[] = [
      ...Object.entries(manifest.files).map(([p, entry]) => ({ path: join(targets.workspaceDir, p), entry, db: false })),
      ...Object.entries(manifest.databases).map(([p, entry]) => ({ path: join(targets.databaseDir, p), entry, db: true })),
    ];
    for (const p of [...Object.keys(manifest.files), ...Object.keys(manifest.databases)]) checkBrainPath(p);
    if (this.bucket instanceof LocalBucket && jobs.length >= 64) return this.#restoreInWorkers(jobs, this.bucket.root, options.onProgress);
    const progress: RestoreProgress = { done: 0, total: jobs.length, bytes: 0 };
    const made = new Set<string>();
    let lastReport = 0;
    await mapLimit(jobs, options.concurrency ?? 16, async (job) => {
      const dir = dirname(job.path);
      if (!made.has(dir)) {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        made.add(dir);
      }
      await this.#restoreFile(job.entry, job.path, 'mode' in job.entry ? job.entry.mode : 0o600);
      if (job.db) for (const s of ['-wal', '-shm', '-journal']) await fs.rm(job.path + s, { force: true });
      if ('mtimeMs' in job.entry) await fs.utimes(job.path, new Date(job.entry.mtimeMs), new Date(job.entry.mtimeMs));
      progress.done++;
      progress.bytes += job.entry.size;
      if (options.onProgress && (Date.now() - lastReport > 500 || progress.done === progress.total)) {
        lastReport = Date.now();
        options.onProgress({ ...progress });
      }
    });
    return progress;
  }

  /** Restore from a local-directory bucket in two worker threads, biggest files dealt out first. */
  async #restoreInWorkers(
    jobs: { path: string; entry: FileEntry | DatabaseEntry; db: boolean }[],
    root: string,
    onProgress?: (p: RestoreProgress) => void,
  ): Promise<RestoreProgress> {
    const sorted = [...jobs].sort((a, b) => b.entry.size - a.entry.size);
    const parts: RestoreJob[][] = [[], []];
    sorted.forEach((j, i) =>
      parts[i % 2]?.push({ path: j.path, chunks: j.entry.chunks, size: j.entry.size, mode: 'mode' in j.entry ? j.entry.mode : 0o600, db: j.db, ...('mtimeMs' in j.entry ? { mtimeMs: j.entry.mtimeMs } : {}) }),
    );
    const file = new URL(import.meta.url.endsWith('.ts') ? './restore-worker.ts' : './restore-worker.js', import.meta.url);
    const state = parts.map(() => ({ done: 0, bytes: 0 }));
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
            const data: RestoreWorkerData = { key: this.#key.forWorkerThread(), root, chunkPrefix: `${this.prefix}chunks/`, jobs: part };
            const w = new Worker(file, { workerData: data });
            let settled = false;
            w.on('message', (m: RestoreWorkerMessage) => {
              if ('error' in m) {
                settled = true;
                reject(new PlaneError(ErrorCode.FailedPrecondition, `restore failed: ${m.error}`));
                return;
              }
              state[i] = { done: m.done, bytes: m.bytes };
              report(false);
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
    return { done: jobs.length, total: jobs.length, bytes: state.reduce((n, s) => n + s.bytes, 0) };
  }

  async #restoreFile(entry: FileEntry | DatabaseEntry, path: string, mode: number): Promise<void> {
    const tmp = `${path}.apb-${randomBytes(4).toString('hex')}.tmp`;
    const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, (mode & 0o777) | 0o600);
    let written = 0;
    try {
      for (const c of entry.chunks) {
        const object = this.#chunkObject(c);
        const got = await this.bucket.get(object);
        if (!got) throw new PlaneError(ErrorCode.FailedPrecondition, `snapshot is missing chunk ${object}`, { where: object });
        const plain = this.#key.openChunk(object, c, got.data);
        await fh.write(plain);
        written += plain.length;
      }
    } catch (err) {
      await fh.close();
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    if (written !== entry.size) {
      await fs.rm(tmp, { force: true });
      throw new PlaneError(ErrorCode.FailedPrecondition, `${path}: restored ${written} bytes, snapshot says ${entry.size}`, { where: path });
    }
    await fs.rename(tmp, path);
  }

  /**
   * Applies the retention policy to snapshots, then deletes chunks no kept
   * snapshot references (older than a grace period, so a push in progress keeps
   * its chunks). Only the lease holder may call this.
   */
  async prune(policy: RetentionPolicy = DEFAULT_RETENTION, now = Date.now()): Promise<{ snapshotsDeleted: number; chunksDeleted: number; snapshotsKept: number }> {
    const head = await this.readHead();
    const ids = await this.listSnapshots();
    const keep = retained(ids, head?.manifest ?? null, policy, now);
    let snapshotsDeleted = 0;
    for (const id of ids) {
      if (keep.has(id)) continue;
      await this.bucket.delete(`${this.prefix}manifests/${id}`);
      snapshotsDeleted++;
    }
    const referenced = new Set<string>();
    for (const id of keep) {
      const m = await this.readManifest(id);
      for (const e of [...Object.values(m.files), ...Object.values(m.databases)]) for (const c of e.chunks) referenced.add(c);
    }
    let chunksDeleted = 0;
    for await (const o of listAll(this.bucket, `${this.prefix}chunks/`)) {
      const name = o.name.slice(o.name.lastIndexOf('/') + 1);
      if (referenced.has(name) || now - o.updatedMs < GC_GRACE_MS) continue;
      await this.bucket.delete(o.name);
      this.#known.delete(name);
      chunksDeleted++;
    }
    return { snapshotsDeleted, chunksDeleted, snapshotsKept: keep.size };
  }
}

/** Which snapshot ids a retention policy keeps (restic-style keep-within / hourly / daily, plus manual ones). */
export function retained(ids: string[], headId: string | null, policy: RetentionPolicy, now: number): Set<string> {
  const keep = new Set<string>();
  if (headId) keep.add(headId);
  const hours = new Set<number>();
  const days = new Set<number>();
  const parsed = ids.map((id) => ({ id, p: parseManifestId(id) })).filter((x) => x.p !== null);
  parsed.sort((a, b) => (b.p?.atMs ?? 0) - (a.p?.atMs ?? 0)); // newest first
  for (const { id, p } of parsed) {
    if (!p) continue;
    const age = now - p.atMs;
    if (age <= policy.keepWithinMs) keep.add(id);
    if (p.reason === 'manual' && age <= policy.manualDays * 86_400_000) keep.add(id);
    const hour = Math.floor(p.atMs / 3600_000);
    if (age <= policy.hourly * 3600_000 && !hours.has(hour)) {
      hours.add(hour);
      keep.add(id);
    }
    const day = Math.floor(p.atMs / 86_400_000);
    if (age <= policy.daily * 86_400_000 && !days.has(day)) {
      days.add(day);
      keep.add(id);
    }
  }
  return keep;
}

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: Error | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err instanceof Error ? err : new Error(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
