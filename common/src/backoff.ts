/**
 * Exponential backoff with full jitter and a cap (as grpc-js backoff-timeout.ts):
 * delay_n = random(0.5..1.0) * min(cap, initial * multiplier^n). `reset()` after a
 * success; `wait()` is cancelled by an AbortSignal and never keeps the process alive.
 */
export interface BackoffOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  multiplier?: number;
  /** Share of the delay that is randomised, 0..1. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #multiplier: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialDelayMs ?? 500;
    this.#maxMs = options.maxDelayMs ?? 30_000;
    this.#multiplier = options.multiplier ?? 2;
    this.#jitter = options.jitter ?? 0.5;
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs > 0) || !(this.#maxMs >= this.#initialMs) || !(this.#multiplier >= 1)) {
      throw new RangeError('backoff: need 0 < initialDelayMs <= maxDelayMs and multiplier >= 1');
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) throw new RangeError('backoff: jitter must be within 0..1');
  }

  get attempt(): number {
    return this.#attempt;
  }

  /** The next delay in ms; advances the attempt counter. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#multiplier ** this.#attempt);
    this.#attempt += 1;
    return Math.round(base * (1 - this.#jitter * this.#random()));
  }

  reset(): void {
    this.#attempt = 0;
  }

  /** Waits out the next delay. Resolves false when aborted. */
  async wait(signal?: AbortSignal): Promise<boolean> {
    return sleep(this.next(), signal);
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. The timer is unref'd. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
