import { sleep } from '../../../../common/src/backoff.ts';
import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';

/**
 * A token bucket: at most `perSecond` calls a second on average, `burst` at
 * once. Fifty agents provisioned together start their inserts at this pace
 * instead of all in the same millisecond, so Compute's per-second write limit
 * answers 429 rarely, and the ones it does are retried by the classifier.
 */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #burst: number;
  /** When the bucket is next full, as a time: tokens are (now - this) / interval, capped. */
  #emptyAt: number;

  constructor(perSecond: number, burst = Math.max(1, Math.ceil(perSecond))) {
    if (!(perSecond > 0)) throw new RangeError('rate limiter: perSecond must be > 0');
    this.#intervalMs = 1000 / perSecond;
    this.#burst = burst;
    this.#emptyAt = Date.now() - burst * this.#intervalMs;
  }

  /** Resolves when a call may go; the slot is taken at once, so callers queue in order. */
  async acquire(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    // Never bank more than a burst of unused time.
    this.#emptyAt = Math.max(this.#emptyAt, now - this.#burst * this.#intervalMs);
    this.#emptyAt += this.#intervalMs;
    const wait = this.#emptyAt - now;
    if (wait > 0 && !(await sleep(wait, signal))) throw new PlaneError(ErrorCode.Aborted, 'cancelled while waiting for the rate limit');
  }
}
