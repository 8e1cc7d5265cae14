import { ErrorCode, PlaneError } from '../errors.ts';
import { BrainChunks } from './brain-chunks.ts';
import type { BrainKey } from './brain-crypto.ts';
import { type BrainHead, type BrainManifest, chunksOf, decodeManifest, encodeManifest, entriesOf, type ManifestDraft, manifestId, parseManifestId } from './brain-manifest.ts';
import { reencryptSnapshots, type RekeyResult } from './brain-rekey.ts';
import { type ChunkSource, restoreManifest, type RestoreOptions, type RestoreResult, type RestoreTargets } from './brain-restore.ts';
import { DEFAULT_RETENTION, pruneSnapshots, type RetentionPolicy } from './brain-retention.ts';
import { type Bucket, isPreconditionFailure, listAll } from './bucket.ts';
import { LocalBucket } from './local-bucket.ts';
import { mapLimit } from './map-limit.ts';

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

/**
 * One agent's brain in a bucket, under `planes/<plane>/agents/<agent>/`:
 *   chunks/<hh>/<hmac>   sealed content chunks, written once, never changed
 *   manifests/<id>       sealed, gzipped point-in-time manifests
 *   HEAD                 {manifest, fence}: moved by compare-and-swap only
 * A snapshot becomes current only when HEAD moves, after every chunk and the
 * manifest are durable, so a writer killed half-way leaves HEAD on the last
 * complete snapshot. HEAD carries the writer's fence: a writer that finds a
 * higher fence there is stale and stops.
 *
 * Chunks are BrainChunks' (brain-chunks.ts), restore is restoreManifest's
 * (brain-restore.ts), retention pruneSnapshots' (brain-retention.ts) and key
 * rotation reencryptSnapshots' (brain-rekey.ts); this class holds HEAD, the
 * manifests, and whether the bucket is trusted to hold what was uploaded.
 */
export class BrainStore implements ChunkSource {
  readonly bucket: Bucket;
  readonly plane: string;
  readonly agent: string;
  readonly prefix: string;
  /**
   * Its chunks, with those known to be uploaded. That knowledge is trusted only
   * while HEAD is as this writer left it: when HEAD moves or vanishes behind its
   * back, or a check finds a chunk gone, it is dropped and the store is untrusted
   * until a snapshot whose every chunk was uploaded again is committed.
   */
  readonly chunks: BrainChunks;
  #key: BrainKey;
  #untrusted: string | null = null;
  #headGeneration: string | undefined;
  #head: BrainHead | null | undefined;

  constructor(options: { bucket: Bucket; plane: string; agent: string; key: BrainKey }) {
    this.bucket = options.bucket;
    this.plane = options.plane;
    this.agent = options.agent;
    this.prefix = `planes/${options.plane}/agents/${options.agent}/`;
    this.#key = options.key;
    this.chunks = new BrainChunks(this.bucket, this.prefix, () => this.#key);
  }

  get keyId(): string {
    return this.#key.keyId;
  }

  /** Replaces the data key (a ring during a rotation, the new key alone after it). */
  useKey(key: BrainKey): void {
    this.#key = key;
  }

  chunkObject(name: string): string {
    return this.chunks.objectName(name);
  }

  /** A chunk's plaintext, authenticated and checked against its name. */
  readChunk(name: string): Promise<Buffer> {
    return this.chunks.read(name);
  }

  workerKey(): Buffer {
    return this.#key.forWorkerThread();
  }

  /** Why the bucket is not trusted to hold what this store uploaded, or null. */
  get untrusted(): string | null {
    return this.#untrusted;
  }

  /** Stop believing the cache of uploaded chunks: the next puts go to the bucket again. */
  distrust(reason: string): void {
    this.#untrusted ??= reason;
    this.chunks.forgetAll();
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
      if (!(await this.bucket.head(this.chunks.objectName(c)))) missing.push(c);
    });
    if (missing.length === 0) return null;
    this.distrust(`${missing.length} of ${picked.length} sampled chunks of snapshot ${current.id} are missing (${this.chunks.objectName(missing[0] as string)})`);
    return this.#untrusted;
  }

  /**
   * The thorough check, by listing: which chunks of a snapshot are not in the
   * bucket. When any are, the store is untrusted; when none are, they count as
   * uploaded. A missing bucket throws.
   */
  async checkAll(manifest: BrainManifest): Promise<string | null> {
    const present = await this.chunks.present();
    const missing = [...chunksOf(manifest)].filter((c) => !present.has(c));
    if (missing.length === 0) {
      // Seen in the bucket just now: the next database snapshot need not upload its unchanged chunks again.
      this.chunks.remember(chunksOf(manifest));
      return null;
    }
    await this.bucket.assertPresent();
    this.distrust(`snapshot ${manifest.id} is missing ${missing.length} chunk(s) (${this.chunks.objectName(missing[0] as string)})`);
    return this.#untrusted;
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
    return decodeManifest(this.#key.open(name, got.data), { name, id, plane: this.plane, agent: this.agent });
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

  /** Rewrites every snapshot still under an older key of the ring with its first (see reencryptSnapshots). */
  reencrypt(onProgress?: (p: { snapshots: number; total: number; chunks: number }) => void): Promise<RekeyResult> {
    return reencryptSnapshots(this, this.#key, onProgress);
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
    await this.bucket.put(name, this.#key.seal(name, encodeManifest(manifest)), { ifGenerationMatch: '0' });
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
    for (const [p, e] of entriesOf(manifest)) if (!left.has(p)) this.chunks.remember(e.chunks);
    return r;
  }

  /** Applies the retention policy (see pruneSnapshots). Only the lease holder may call this. */
  prune(policy: RetentionPolicy = DEFAULT_RETENTION, now = Date.now()): Promise<{ snapshotsDeleted: number; chunksDeleted: number; snapshotsKept: number }> {
    return pruneSnapshots(this, policy, now);
  }
}
