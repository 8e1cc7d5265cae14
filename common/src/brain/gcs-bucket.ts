import { randomUUID } from 'node:crypto';
import { CRC32C, Storage, type Bucket as StorageBucket, type File, type FileMetadata } from '@google-cloud/storage';
import { Backoff } from '../backoff.ts';
import { ErrorCode, PlaneError } from '../errors.ts';
import { retry } from '../retry.ts';
import {
  BUCKET_MARKER,
  type Bucket,
  type BucketSetup,
  type ListPage,
  type SetUpOptions,
  missingBucketError,
  type ObjectInfo,
  type PutOptions,
  PreconditionFailedError,
  checkObjectName,
} from './bucket.ts';
import { classifyBucketError, httpStatus } from './bucket-retry.ts';

/** From this size a put is a resumable upload, sent in chunks of this size. */
const RESUMABLE_BYTES = 8 * 1024 * 1024;
const ROLE = 'roles/storage.objectAdmin';
const WRITE_ID = 'plane-write-id';

export interface GcsBucketOptions {
  /** A JSON API endpoint other than Google's; a loopback one (a stand-in) is used without credentials. */
  gcsApiEndpoint?: string;
  /** Given to the client as its project; object calls do not use it (it is not sent as userProject). */
  gcsProjectId?: string;
  /** Retries of each call the library deems safe to repeat: default 3, waits capped at 8 s (1 s at least). */
  retry?: { maxRetries?: number; maxRetryDelayMs?: number };
}

/**
 * A bucket in Google Cloud Storage, `gs://bucket[/prefix]`, through
 * @google-cloud/storage. Generations are GCS object generations, so every
 * compare-and-swap is a server-side ifGenerationMatch.
 *
 * The library retries reads, listings and generation-conditioned writes itself
 * (when classifyBucketError says another attempt may help), and never unconditional writes or deletes (a replay could clobber a newer
 * object). It tracks that choice by flipping a flag shared by everything on one
 * Storage client, and a plain multipart upload leaves it off for good; so those
 * unsafe calls go through a second client that never retries, and the first one's
 * flag is never touched.
 *
 * GCS answers 404 alike for a missing object and a missing bucket, so a miss
 * is confirmed against the marker object (BUCKET_MARKER) under the prefix: a
 * bucket that was deleted or emptied fails every call instead of looking new.
 */
export class GcsBucket implements Bucket {
  readonly url: string;
  readonly #name: string;
  readonly #prefix: string;
  readonly #bucket: StorageBucket;
  readonly #once: StorageBucket;
  readonly #retry: { maxRetries: number; maxRetryDelay: number };

  static fromUrl(url: string, options: GcsBucketOptions = {}): GcsBucket {
    const m = /^gs:\/\/([^/]*)\/?(.*)$/.exec(url);
    const name = m?.[1] ?? '';
    if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(name)) {
      throw new PlaneError(ErrorCode.InvalidArgument, `bucket URL ${url}: ${JSON.stringify(name)} is not a GCS bucket name`, { where: 'bucket' });
    }
    const prefix = (m?.[2] ?? '').replace(/\/+$/, '');
    if (prefix) {
      try {
        checkObjectName(prefix);
      } catch {
        throw new PlaneError(ErrorCode.InvalidArgument, `bucket URL ${url}: invalid prefix ${JSON.stringify(prefix)}`, { where: 'bucket' });
      }
    }
    return new GcsBucket(name, prefix, options);
  }

  constructor(name: string, prefix: string, options: GcsBucketOptions = {}) {
    this.#name = name;
    this.#prefix = prefix ? `${prefix}/` : '';
    this.url = `gs://${name}${prefix ? `/${prefix}` : ''}`;
    const endpoint = options.gcsApiEndpoint;
    const maxRetries = options.retry?.maxRetries ?? 3;
    const maxRetryDelay = Math.max(1, (options.retry?.maxRetryDelayMs ?? 8000) / 1000);
    this.#retry = { maxRetries, maxRetryDelay };
    const timeout = 60_000;
    const base = {
      ...(endpoint ? { apiEndpoint: endpoint, useAuthWithCustomEndpoint: !isLoopback(endpoint) } : {}),
      ...(options.gcsProjectId ? { projectId: options.gcsProjectId } : {}),
      // Per request, until the response starts and then between chunks of it.
      timeout,
    };
    // The retry budget is the count and the cap on each wait. totalTimeout must never
    // be what ends a retry: retry-request then drops the call without settling it. So
    // it sits above the worst case of every attempt timing out.
    const retryOptions = {
      // The library reads 0 as "default"; no retries has to be said this way.
      autoRetry: maxRetries > 0,
      maxRetries,
      maxRetryDelay,
      retryDelayMultiplier: 2,
      // What is worth another attempt is the bucket boundary's one classifier, here as in get().
      retryableErrorFn: (err: unknown) => classifyBucketError(err) === 'retry',
      totalTimeout: Math.ceil(((maxRetries + 1) * timeout) / 1000 + maxRetries * maxRetryDelay) + 60,
    };
    const storage = new Storage({ ...base, retryOptions });
    this.#bucket = storage.bucket(name);
    this.#once = new Storage({ ...base, authClient: storage.authClient, retryOptions: { ...retryOptions, autoRetry: false } }).bucket(name);
  }

  #key(name: string): string {
    checkObjectName(name);
    return this.#prefix + name;
  }

  /** Writes the marker into the bucket, which must exist: buckets are made by whoever owns the project, never here. */
  async setUp(options: Pick<SetUpOptions, 'adoptEmpty'>): Promise<BucketSetup> {
    if (await this.#hasMarker()) return 'present';
    let held: number;
    try {
      held = (await this.#bucket.getFiles({ prefix: this.#prefix, autoPaginate: false, maxResults: 1 }))[0].length;
    } catch (err) {
      if (httpStatus(err) === 404) throw missingBucketError(this.url, 'the bucket does not exist');
      throw this.#error(err, BUCKET_MARKER);
    }
    if (held === 0 && !options.adoptEmpty) throw missingBucketError(this.url, `it is empty and has no ${BUCKET_MARKER} object`);
    const body = Buffer.from(`${JSON.stringify({ createdAtMs: Date.now() })}\n`);
    try {
      await this.put(BUCKET_MARKER, body, { ifGenerationMatch: '0' });
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      return 'present';
    }
    return 'adopted';
  }

  async assertPresent(): Promise<void> {
    if (!(await this.#hasMarker())) throw missingBucketError(this.url, `no ${BUCKET_MARKER} object`);
  }

  async #hasMarker(): Promise<boolean> {
    try {
      await this.#bucket.file(this.#prefix + BUCKET_MARKER).getMetadata();
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw this.#error(err, BUCKET_MARKER);
    }
  }

  async get(name: string): Promise<{ data: Buffer; generation: string } | null> {
    // Downloads retry here, not in the library: when it retries a download stream,
    // teeny-request pipes into the stream retry-request has just destroyed, which
    // throws inside a promise callback and leaves an unhandled rejection.
    const file = this.#once.file(this.#key(name));
    const capMs = this.#retry.maxRetryDelay * 1000;
    try {
      return await retry(() => download(file), {
        classify: classifyBucketError,
        maxAttempts: this.#retry.maxRetries + 1,
        backoff: new Backoff({ initialDelayMs: Math.min(2000, capMs), maxDelayMs: capMs }),
      });
    } catch (err) {
      if (httpStatus(err) === 404) return this.assertPresent().then(() => null);
      throw this.#error(err, name);
    }
  }

  async head(name: string): Promise<ObjectInfo | null> {
    try {
      const [metadata] = await this.#bucket.file(this.#key(name)).getMetadata();
      return this.#info(name, metadata);
    } catch (err) {
      if (httpStatus(err) !== 404) throw this.#error(err, name);
    }
    await this.assertPresent();
    return null;
  }

  async put(name: string, data: Buffer, options: PutOptions = {}): Promise<{ generation: string }> {
    const key = this.#key(name);
    const wanted = options.ifGenerationMatch;
    const file = (wanted === undefined ? this.#once : this.#bucket).file(key);
    const crc = new CRC32C();
    crc.update(data);
    const writeId = randomUUID();
    try {
      await file.save(data, {
        resumable: data.length >= RESUMABLE_BYTES,
        chunkSize: RESUMABLE_BYTES,
        contentType: 'application/octet-stream',
        // GCS checks the checksum before the object exists. The library's own check
        // runs afterwards and on a mismatch deletes whatever is there by then.
        validation: false,
        metadata: { crc32c: crc.toString(), metadata: { [WRITE_ID]: writeId } },
        ...(wanted === undefined ? {} : { preconditionOpts: { ifGenerationMatch: wanted } }),
      });
    } catch (err) {
      if (httpStatus(err) === 404) throw missingBucketError(this.url, 'the bucket does not exist');
      if (httpStatus(err) !== 412) throw this.#error(err, name, wanted);
      // A retried conditional write fails its precondition when the first attempt
      // landed and only its reply was lost; the write id tells that apart.
      const current = await this.#bucket
        .file(key)
        .getMetadata()
        .then(([m]) => m, () => undefined);
      if (current?.metadata?.[WRITE_ID] === writeId && current.generation !== undefined) return { generation: String(current.generation) };
      throw new PreconditionFailedError(this.url, name, wanted);
    }
    if (file.metadata.generation === undefined) throw new PlaneError(ErrorCode.Internal, `${this.url}: ${name}: the upload returned no generation`, { where: name });
    return { generation: String(file.metadata.generation) };
  }

  async listPage(prefix: string, options: { pageToken?: string; maxResults?: number } = {}): Promise<ListPage> {
    try {
      const [files, next] = await this.#bucket.getFiles({
        prefix: this.#prefix + prefix,
        autoPaginate: false,
        maxResults: options.maxResults ?? 1000,
        ...(options.pageToken ? { pageToken: options.pageToken } : {}),
      });
      const objects = files.map((f) => this.#info(f.name.slice(this.#prefix.length), f.metadata)).filter((o) => o.name !== BUCKET_MARKER);
      // Without a next page the library hands back null where its type says an object.
      const pageToken = (next as typeof next | null)?.pageToken;
      // Nothing at all under the prefix is an answer only while the bucket is ours.
      if (objects.length === 0 && !pageToken && !options.pageToken) await this.assertPresent();
      return pageToken ? { objects, nextPageToken: pageToken } : { objects };
    } catch (err) {
      if (httpStatus(err) === 404) throw missingBucketError(this.url, 'the bucket does not exist');
      throw this.#error(err, prefix);
    }
  }

  async delete(name: string, options: { ifGenerationMatch?: string } = {}): Promise<void> {
    const wanted = options.ifGenerationMatch;
    const file = (wanted === undefined ? this.#once : this.#bucket).file(this.#key(name));
    try {
      await file.delete(wanted === undefined ? {} : { ifGenerationMatch: wanted });
    } catch (err) {
      // Missing is fine unless a generation was required ('0' asks for exactly that).
      if (httpStatus(err) === 404 && (wanted === undefined || wanted === '0')) return;
      if (httpStatus(err) === 404) throw new PreconditionFailedError(this.url, name, wanted);
      throw this.#error(err, name, wanted);
    }
  }

  #info(name: string, m: FileMetadata): ObjectInfo {
    return { name, size: Number(m.size ?? 0), generation: String(m.generation ?? ''), updatedMs: m.updated ? Date.parse(m.updated) : 0 };
  }

  /** A library error as a PlaneError. The raw error is not kept as the cause: it can carry request headers. */
  #error(err: unknown, name: string, wanted?: string): PlaneError {
    if (err instanceof PlaneError) return err;
    const status = httpStatus(err);
    const detail = describe(err);
    const at = `${this.url}: ${name}`;
    if (status === 412) return new PreconditionFailedError(this.url, name, wanted);
    if (status === 403) {
      return new PlaneError(ErrorCode.PermissionDenied, `${at}: permission denied; grant this agent's service account ${ROLE} on bucket ${this.#name} (${detail})`, { where: name });
    }
    if (status === 401 || /default credentials/i.test(detail)) {
      return new PlaneError(ErrorCode.Unauthenticated, `${at}: no usable Google credentials (${detail}); set GOOGLE_APPLICATION_CREDENTIALS or run with a service account`, { where: name });
    }
    if (classifyBucketError(err) === 'retry') {
      return new PlaneError(ErrorCode.Unavailable, `${at}: storage unavailable (${detail})`, { where: name });
    }
    return new PlaneError(ErrorCode.Internal, `${at}: unexpected storage error (${detail})`, { where: name });
  }
}

/**
 * The bytes of one download and the generation they belong to (x-goog-generation),
 * right even if the object is replaced meanwhile. The library checks the bytes
 * against x-goog-hash.
 */
async function download(file: File): Promise<{ data: Buffer; generation: string }> {
  let generation: string | undefined;
  const chunks: Buffer[] = [];
  const stream = file.createReadStream().on('response', (res: NodeJS.EventEmitter & { headers: Record<string, string | undefined> }) => {
    generation = res.headers['x-goog-generation'];
    // The library runs this response stream into three pipelines, a dozen listeners
    // in all: a fixed number, not a leak, but past Node's warning threshold.
    res.setMaxListeners(32);
  });
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  if (!generation) throw new PlaneError(ErrorCode.Internal, `gs://${file.bucket.name}/${file.name}: the download carried no generation`);
  return { data: Buffer.concat(chunks), generation };
}

/** One line about an error, with anything that could grant access cut out. */
function describe(err: unknown): string {
  let text = err instanceof Error ? err.message : String(err);
  try {
    // A failed download's message is the raw JSON error body.
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') text = body.error.message;
  } catch {
    // not JSON
  }
  const status = httpStatus(err);
  return `${status === undefined ? '' : `HTTP ${status}: `}${text.split('\n')[0] ?? ''}`
    .replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]')
    .replace(/\bya29\.[\w.-]+/g, '[redacted]')
    .replace(/([?&](?:access_token|upload_id|X-Goog-Signature|X-Goog-Credential)=)[^&\s]+/gi, '$1[redacted]')
    .slice(0, 300);
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}
