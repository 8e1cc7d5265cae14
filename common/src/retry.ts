import { Backoff, sleep } from './backoff.ts';
import { ErrorCode, PlaneError } from './errors.ts';

/** What one boundary (the bucket, Compute, a webhook, the hub) says of a failure: may another attempt help? */
export type Classification = 'retry' | 'fatal';
export type Classifier = (err: unknown) => Classification;

export interface RetryOptions {
  /** Decides from an error whether another attempt may help; one classifier per boundary. */
  classify: Classifier;
  /** Aborting stops at once: a wait in progress ends and `retry` throws `aborted`. */
  signal?: AbortSignal | undefined;
  /** The delays between attempts; reset by the caller, not here, so one backoff may span calls. */
  backoff?: Backoff;
  /** Attempts in all, the first included. Default: no limit (until fatal or aborted). */
  maxAttempts?: number;
  /** Told before each wait: for logs, progress lines and call counts. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, the classifier calls an error fatal, the
 * attempts run out or the signal aborts. The last error is thrown as it came,
 * so callers keep their own error types; an abort throws `aborted` with the
 * signal's reason as the cause.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = options.backoff ?? new Backoff({ initialDelayMs: 500, maxDelayMs: 10_000 });
  const max = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  if (!(max >= 1)) throw new RangeError('retry: maxAttempts must be at least 1');
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await fn(attempt);
    } catch (err) {
      if (options.signal?.aborted) throwIfAborted(options.signal);
      if (attempt >= max || options.classify(err) === 'fatal') throw err;
      const delay = backoff.next();
      options.onRetry?.(err, attempt, delay);
      if (!(await sleep(delay, options.signal))) throwIfAborted(options.signal);
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PlaneError(ErrorCode.Aborted, 'cancelled', { cause: signal.reason });
}
