import { ErrorCode, PlaneError } from '../errors.ts';
import type { Classification } from '../retry.ts';

/**
 * The bucket boundary's classifier: whether another attempt at a bucket call
 * may help. One answer for both backends, for the PlaneErrors every Bucket
 * throws (an unreachable store is `unavailable`, whether a directory that is
 * gone or locked, or Storage out of reach or throttling) and for the Storage
 * library's raw errors inside GcsBucket: throttling (429), a timeout (408), a
 * server error (5xx) or no usable response at all may pass. A refused
 * precondition, a missing object, no permission, bad credentials, a bad name
 * or a bug will not.
 */
export function classifyBucketError(err: unknown): Classification {
  if (err instanceof PlaneError) return err.code === ErrorCode.Unavailable ? 'retry' : 'fatal';
  const status = httpStatus(err);
  if (status === undefined) {
    const local = err instanceof TypeError || err instanceof RangeError || /credentials/i.test(String((err as Error | undefined)?.message));
    return local ? 'fatal' : 'retry';
  }
  return status === 408 || status === 429 || status >= 500 ? 'retry' : 'fatal';
}

/** The HTTP status a Storage library error carries, wherever that library put it. */
export function httpStatus(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  for (const v of [e?.code, e?.status, e?.response?.status]) if (typeof v === 'number' && v >= 100 && v < 600) return v;
  return undefined;
}
