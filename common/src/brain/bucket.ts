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

export interface Bucket {
  /** Where this bucket is, for messages (never holds credentials). */
  readonly url: string;
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
