import { constants as fsc, promises as fs } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ErrorCode, PlaneError } from '../errors.ts';
import { type Bucket, isPreconditionFailure, listAll } from './bucket.ts';
import type { BrainKey } from './brain-crypto.ts';
import {
  type BrainHead,
  type BrainManifest,
  BrokenChunkError,
  chunksOf,
  DEFAULT_RETENTION,
  entriesOf,
  type ManifestDraft,
  manifestId,
  mapLimit,
  parseManifestId,
  type RestoreTargets,
  retained,
  type RetentionPolicy,
} from './brain-manifest.ts';
import { checkBrainPath } from './brain-paths.ts';
import { type ChunkSource, restoreManifest, type RestoreOptions, type RestoreResult } from './brain-restore.ts';
import { LocalBucket } from './local-bucket.ts';

export * from './brain-manifest.ts';

/** Files are cut into chunks of this size; a snapshot of a big database re-uploads only the chunks that changed. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/** A writer whose lease was taken over by a newer one (a reprovisioned machine, another agentd). */
export class StaleWriterError extends PlaneError {
  readonly currentFence: number;
  constructor(url: string, mine: number, current: number) {
    super(ErrorCode.FailedPrecondition, `stale writer: this agentd holds writer lease ${mine}, but ${url} is owned by lease ${current}; it will not write again`);
    this.currentFence = current;
  }
}

/** HEAD was moved or removed by someone other than this writer: what it uploaded may be gone too. */
export class HeadChangedError extends PlaneError {
  constructor(url: string, prefix: string) {
    super(ErrorCode.Aborted, `${url}/${prefix}HEAD changed behind this writer; every chunk is uploaded again before the next snapshot`);
  }
}

/** Unreferenced chunks younger than this may belong to a push in progress and are left alone. */
const GC_GRACE_MS = 3600_000;

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
export class BrainStore implements ChunkSource {
  readonly bucket: Bucket;
  readonly plane: string;
  readonly agent: string;
  readonly prefix: string;
  #key: BrainKey;
  /**
   * Chunks this store uploaded or downloaded intact. Trusted only while HEAD is
   * as this writer left it: when HEAD moves or vanishes behind its back, or a
   * check finds a chunk gone, the set is dropped and the store is untrusted
   * until a snapshot whose every chunk was uploaded again is committed.
   */
  readonly #known = new Set<string>();
  #untrusted: string | null = null;
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

  chunkObject(name: string): string {
    return `${this.prefix}chunks/${name.slice(0, 2)}/${name}`;
  }

  #chunkObject(name: string): string {
    return this.chunkObject(name);
  }

  /** Why the bucket is not trusted to hold what this store uploaded, or null. */
  get untrusted(): string | null {
    return this.#untrusted;
  }

  /** Stop believing the cache of uploaded chunks: the next puts go to the bucket again. */
  distrust(reason: string): void {
    this.#untrusted ??= reason;
    this.#known.clear();
  }

  /** After a snapshot whose every chunk was uploaded again is current. */
  trustAgain(): void {
    this.#untrusted = null;
  }

  /**
   * Whether HEAD is still the one this writer last wrote or read (one metadata
   * read). When it is not, the store is untrusted from now on.
   */
  async headAsExpected(): Promise<boolean> {
    if (this.#headGeneration === undefined) return true;
    const info = await this.bucket.head(`${this.prefix}HEAD`);
    if ((info?.generation ?? '0') === this.#headGeneration) return true;
    this.distrust(info ? 'HEAD was changed by someone else' : this.#headGeneration === '0' ? 'HEAD appeared behind this writer' : 'HEAD is missing');
    return false;
  }

  /**
   * The cheap periodic check: HEAD as expected, the current snapshot's manifest
   * there, and a random sample of its chunks there. Returns what is wrong (and
   * the store is then untrusted), or null. A missing bucket throws.
   */
  async check(current: BrainManifest | null, sample = 8): Promise<string | null> {
    if (!(await this.headAsExpected())) return this.#untrusted;
    if (!current) return null;
    if (!(await this.bucket.head(`${this.prefix}manifests/${current.id}`))) {
      this.distrust(`snapshot ${current.id} is missing its manifest`);
      return this.#untrusted;
    }
    const chunks = [...chunksOf(current)];
    for (let i = chunks.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [chunks[i], chunks[j]] = [chunks[j] as string, chunks[i] as string];
    }
    const picked = chunks.slice(0, sample);
    const missing: string[] = [];
    await mapLimit(picked, 8, async (c) => {
      if (!(await this.bucket.head(this.#chunkObject(c)))) missing.push(c);
    });
    if (missing.length === 0) return null;
    this.distrust(`${missing.length} of ${picked.length} sampled chunks of snapshot ${current.id} are missing (${this.#chunkObject(missing[0] as string)})`);
    return this.#untrusted;
  }

  /**
   * The thorough check, by listing: which chunks of a snapshot are not in the
   * bucket. When any are, the store is untrusted; when none are, they count as
   * uploaded. A missing bucket throws.
   */
  async checkAll(manifest: BrainManifest): Promise<string | null> {
    const present = await this.presentChunks();
    const missing = [...chunksOf(manifest)].filter((c) => !present.has(c));
    if (missing.length === 0) {
      // Seen in the bucket just now: the next database snapshot need not upload its unchanged chunks again.
      for (const c of chunksOf(manifest)) this.#known.add(c);
      return null;
    }
    await this.bucket.assertPresent();
    this.distrust(`snapshot ${manifest.id} is missing ${missing.length} chunk(s) (${this.#chunkObject(missing[0] as string)})`);
    return this.#untrusted;
  }

  /** Which of these chunks are in the bucket, by listing (a request per 1000 chunks, not one per chunk). */
  async presentChunks(): Promise<Set<string>> {
    const out = new Set<string>();
    for await (const o of listAll(this.bucket, `${this.prefix}chunks/`)) out.add(o.name.slice(o.name.lastIndexOf('/') + 1));
    return out;
  }

  /** A chunk's plaintext, authenticated and checked against its name. */
  async readChunk(name: string): Promise<Buffer> {
    const object = this.#chunkObject(name);
    const got = await this.bucket.get(object);
    if (!got) throw new BrokenChunkError(object, name, 'missing');
    try {
      return this.#key.openChunk(object, name, got.data);
    } catch (err) {
      throw new BrokenChunkError(object, name, 'corrupt', (err as Error).message);
    }
  }

  workerKey(): Buffer {
    return this.#key.forWorkerThread();
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
    // Its chunks are not taken as present: a manifest says what should be there, not what is.
    return this.#parseManifest(name, id, this.#key.open(name, got.data));
  }

  /**
   * A snapshot's manifest, or why it cannot be had when it is gone (not_found)
   * or does not open (failed_precondition); a bucket outage still throws.
   */
  async readManifestOrWhy(id: string): Promise<BrainManifest | PlaneError> {
    try {
      return await this.readManifest(id);
    } catch (err) {
      const e = PlaneError.from(err);
      if (e.code !== ErrorCode.NotFound && e.code !== ErrorCode.FailedPrecondition) throw e;
      return e;
    }
  }

  #parseManifest(name: string, id: string, sealedPlain: Buffer): BrainManifest {
    let m: BrainManifest;
    try {
      m = JSON.parse(gunzipSync(sealedPlain).toString('utf8')) as BrainManifest;
    } catch (cause) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `${name}: not a readable manifest (${(cause as Error).message})`, { where: name, cause });
    }
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
      if (!got) throw new BrokenChunkError(object, c, 'missing');
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
    const parent = this.#head?.manifest ?? null;
    if (this.#head === undefined || this.#untrusted) {
      // Untrusted, the caller uploaded every chunk again: swap against HEAD as it is now, unless a newer lease holds it.
      const head = await this.readHead();
      if (head && head.fence > fence) throw new StaleWriterError(this.bucket.url, fence, head.fence);
    }
    const manifest: BrainManifest = {
      format: 1,
      plane: this.plane,
      agent: this.agent,
      id: manifestId(now, draft.reason, fence),
      createdAtMs: now,
      fence,
      parent: this.#head?.manifest ?? parent,
      ...draft,
    };
    const name = `${this.prefix}manifests/${manifest.id}`;
    await this.bucket.put(name, this.#key.seal(name, gzipSync(JSON.stringify(manifest), { level: 6 })), { ifGenerationMatch: '0' });
    try {
      await this.#moveHead(manifest.id, fence, now);
    } catch (err) {
      // A snapshot that never became current is not left behind for a restore to pick.
      if (err instanceof StaleWriterError || err instanceof HeadChangedError) await this.bucket.delete(name).catch(() => undefined);
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
    if (this.#headGeneration === undefined) await this.readHead();
    const body = Buffer.from(JSON.stringify({ manifest, fence, updatedAtMs: now } satisfies BrainHead));
    try {
      const { generation } = await this.bucket.put(`${this.prefix}HEAD`, body, { ifGenerationMatch: this.#headGeneration ?? '0' });
      this.#headGeneration = generation;
      this.#head = { manifest, fence, updatedAtMs: now };
    } catch (err) {
      if (!isPreconditionFailure(err)) throw err;
      // Someone moved or removed HEAD since we last looked: a newer lease wins. Anyone else (a
      // person, a lifecycle rule, a restored bucket) may have taken chunks with it: the caller
      // uploads everything again before it commits.
      const current = await this.readHead();
      if (current && current.fence > fence) throw new StaleWriterError(this.bucket.url, fence, current.fence);
      this.distrust(current ? 'HEAD was changed by someone else' : 'HEAD is missing');
      throw new HeadChangedError(this.bucket.url, this.prefix);
    }
  }

  /** Writes a snapshot's files and databases under the targets (see restoreManifest). */
  async restore(manifest: BrainManifest, targets: RestoreTargets, options: Omit<RestoreOptions, 'localRoot'> = {}): Promise<RestoreResult> {
    const r = await restoreManifest(this, manifest, targets, { ...options, ...(this.bucket instanceof LocalBucket ? { localRoot: this.bucket.root } : {}) });
    // What was just downloaded and authenticated is in the bucket.
    const left = new Set([...r.skipped, ...r.broken.map((b) => b.path)]);
    for (const [p, e] of entriesOf(manifest)) if (!left.has(p)) for (const c of e.chunks) this.#known.add(c);
    return r;
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
