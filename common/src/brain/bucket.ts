import { ErrorCode, PlaneError } from '../errors.ts';

/**
 * The object store an agent's brain lives in. Two backends with one behaviour:
 * a local directory (`file:///abs/dir`, the embedded default) and Google Cloud
 * Storage (`gs://bucket[/prefix]`). Names are `/`-separated relative keys.
 *
 * Generations are opaque strings that change on every write of a name; a
 * precondition of `'0'` means "only if the name does not exist" (as GCS's
 * ifGenerationMatch=0). A failed precondition throws PreconditionFailedError
 * (code Aborted); a missing name on get/head returns null; an unreachable store
 * throws PlaneError(Unavailable).
 *
 * A bucket is ours only while its marker object (BUCKET_MARKER) is there. It is
 * written once, by an explicit setup step (the hub's, at start), and never by a
 * reader or writer: a bucket that was moved away, unmounted or emptied answers
 * every call with PlaneError(Unavailable) instead of looking empty, and is not
 * created again behind anyone's back. So `null` always means "the bucket is
 * there and this object is not".
 */
export interface ObjectInfo {
  name: string;
  size: number;
  generation: string;
  updatedMs: number;
}

export interface PutOptions {
  /** Write only if the current generation equals this ('0' = must not exist). */
  ifGenerationMatch?: string;
}

export interface ListPage {
  objects: ObjectInfo[];
  nextPageToken?: string;
}

/** The object that makes a location one of our buckets; hidden from listings. */
export const BUCKET_MARKER = '.agents-plane-bucket';

/** How the setup step found the bucket: already marked, marked now (it existed), or created (a local directory). */
export type BucketSetup = 'present' | 'adopted' | 'created';

export interface SetUpOptions {
  /** Make a missing local directory (a GCS bucket is never created here). */
  createRoot: boolean;
  /** Take an existing but empty location (no marker, no objects) as the bucket. */
  adoptEmpty: boolean;
}

export interface Bucket {
  /** Where this bucket is, for messages (never holds credentials). */
  readonly url: string;
  /**
   * The explicit setup step, and the only thing that makes a bucket: writes the
   * marker into a location that holds brain data already (a bucket from before
   * markers); into an empty one only with adoptEmpty; and makes a missing local
   * directory only with createRoot. Refused otherwise (missingBucketError).
   */
  setUp(options: SetUpOptions): Promise<BucketSetup>;
  /** Throws PlaneError(Unavailable) unless the bucket and its marker are there. */
  assertPresent(): Promise<void>;
  get(name: string): Promise<{ data: Buffer; generation: string } | null>;
  head(name: string): Promise<ObjectInfo | null>;
  put(name: string, data: Buffer, options?: PutOptions): Promise<{ generation: string }>;
  /** One page of names under a prefix, in lexical order. */
  listPage(prefix: string, options?: { pageToken?: string; maxResults?: number }): Promise<ListPage>;
  /** Deletes a name; a missing name is not an error unless a generation is required. */
  delete(name: string, options?: { ifGenerationMatch?: string }): Promise<void>;
}

/** Every object under a prefix, following pages. */
export async function* listAll(bucket: Bucket, prefix: string, pageSize = 1000): AsyncGenerator<ObjectInfo> {
  let pageToken: string | undefined;
  do {
    const page = await bucket.listPage(prefix, { maxResults: pageSize, ...(pageToken ? { pageToken } : {}) });
    yield* page.objects;
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** The error for a bucket whose marker is gone: moved, unmounted, deleted or emptied. */
export function missingBucketError(url: string, detail: string): PlaneError {
  return new PlaneError(
    ErrorCode.Unavailable,
    `bucket ${url} is missing (${detail}): it was moved, unmounted, deleted or emptied; nothing is written until it is back (it is not created again here)`,
    { where: 'bucket' },
  );
}

/** A write or delete whose generation precondition did not hold (HTTP 412 on GCS). */
export class PreconditionFailedError extends PlaneError {
  constructor(url: string, name: string, wanted: string | undefined) {
    super(ErrorCode.Aborted, `${url}: precondition failed for ${name} (expected generation ${wanted ?? '?'})`, { where: name });
  }
}

export function isPreconditionFailure(err: unknown): err is PreconditionFailedError {
  return err instanceof PreconditionFailedError;
}

/** Object names are relative, `/`-separated, without empty, `.` or `..` segments. */
export function checkObjectName(name: string): void {
  if (name === '' || name.startsWith('/') || name.includes('\\') || name.includes('\0') || name.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new PlaneError(ErrorCode.InvalidArgument, `invalid object name ${JSON.stringify(name)}`, { where: name });
  }
}
