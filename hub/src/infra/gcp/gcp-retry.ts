import { Backoff } from '../../../../common/src/backoff.ts';
import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';

export type Classification = 'retry' | 'fatal';

export interface RetryOptions {
  /** Decides from an error whether another attempt may help. */
  classify: (err: unknown) => Classification;
  signal?: AbortSignal | undefined;
  backoff?: Backoff;
  /** Attempts in all, the first included. Default 6. */
  maxAttempts?: number;
  /** Told before each wait (for logs and call counts). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * `retry(fn, {classify, signal, backoff})`: calls `fn` until it succeeds, the
 * classifier says an error is fatal, attempts run out or the signal aborts;
 * the last error is thrown as it came. The shape is the one the shared retry
 * module will have, so this file goes away when that lands.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = options.backoff ?? new Backoff({ initialDelayMs: 500, maxDelayMs: 10_000 });
  const max = options.maxAttempts ?? 6;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new PlaneError(ErrorCode.Aborted, 'cancelled', { cause: options.signal.reason });
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= max || options.classify(err) === 'fatal') throw err;
      const delay = backoff.next();
      options.onRetry?.(err, attempt, delay);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        t.unref();
        options.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}
