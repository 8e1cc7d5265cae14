import { Backoff } from '../../../../common/src/backoff.ts';
import type { Logger } from '../../../../common/src/logger.ts';
import type { GcpClients } from './gcp-clients.ts';
import { classifyGcpError, gcpReason, isAboutAccount } from './gcp-errors.ts';
import { retry } from '../../../../common/src/retry.ts';
import { callOptions, type OperationRef, type WaitCall, waitForOperation } from './operations.ts';
import type { RateLimiter } from './rate-limiter.ts';

export interface GcpCallsOptions {
  /** Each call; the client's own retries are off. */
  callTimeoutMs: number;
  /** Waiting for one operation to be DONE. */
  operationDeadlineMs: number;
  /** Attempts of one call when the classifier says retry. */
  maxAttempts: number;
  initialRetryDelayMs: number;
  maxRetryDelayMs: number;
}

/**
 * Every Google call of the provider goes through `run`: the retry classifier
 * (one place), an optional rate limit, and a count per call kind, which
 * `bench:gcp` reports as calls per agent. Closing the hub aborts waits.
 */
export class GcpCalls {
  readonly clients: GcpClients;
  readonly options: Readonly<GcpCallsOptions>;
  readonly #log: Logger;
  readonly #signal: AbortSignal | undefined;
  /** Attempts per call kind, retries included. */
  readonly counts = new Map<string, number>();
  retries = 0;
  /** Service accounts created a moment ago, until when other APIs may not know them yet. */
  readonly #fresh = new Map<string, number>();

  constructor(clients: GcpClients, options: GcpCallsOptions, log: Logger, signal?: AbortSignal) {
    this.clients = clients;
    this.options = options;
    this.#log = log;
    this.#signal = signal;
  }

  get call(): { retry: null; timeout: number } {
    return callOptions(this.options.callTimeoutMs);
  }

  #count(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  /** A service account was just created: for a while, answers that do not know it yet are retried. */
  freshAccount(email: string, forMs = 120_000): void {
    this.#fresh.set(email, Date.now() + forMs);
  }

  /** classifyGcpError, plus IAM's eventual consistency: an unknown fresh account is worth waiting for. */
  #classify = (err: unknown): 'retry' | 'fatal' => {
    const c = classifyGcpError(err);
    if (c === 'retry') return c;
    const now = Date.now();
    for (const [email, until] of this.#fresh) {
      if (until < now) this.#fresh.delete(email);
      else if (isAboutAccount(err, email)) return 'retry';
    }
    return 'fatal';
  };

  async run<T>(kind: string, fn: () => Promise<T>, limiter?: RateLimiter, counted = true): Promise<T> {
    // With an account in its first minutes, waits must be able to outlast IAM's propagation (about a minute).
    const patient = this.#fresh.size > 0;
    return retry(
      async () => {
        if (limiter) await limiter.acquire(this.#signal);
        if (counted) this.#count(kind);
        return fn();
      },
      {
        classify: this.#classify,
        signal: this.#signal,
        maxAttempts: this.options.maxAttempts + (patient ? 4 : 0),
        backoff: new Backoff({ initialDelayMs: this.options.initialRetryDelayMs, maxDelayMs: this.options.maxRetryDelayMs }),
        onRetry: (err, attempt, delayMs) => {
          this.retries++;
          this.#log.warn('gcp call failed; retrying', { call: kind, attempt, delayMs, reason: gcpReason(err) });
        },
      },
    );
  }

  readonly #waitCall: WaitCall = async (op, timeoutMs) => {
    const o = callOptions(timeoutMs);
    if (op.zone) return (await this.clients.zoneOperations.wait({ project: op.project, zone: op.zone, operation: op.name }, o))[0];
    return (await this.clients.globalOperations.wait({ project: op.project, operation: op.name }, o))[0];
  };

  /** Waits for an operation to be DONE (each `wait` call retried by the classifier); throws its error. */
  async wait(op: OperationRef, deadlineMs = this.options.operationDeadlineMs): Promise<void> {
    const kind = op.zone ? 'zoneOperations.wait' : 'globalOperations.wait';
    const deadlineAt = Date.now() + deadlineMs;
    await this.run(
      kind,
      () =>
        waitForOperation(this.#waitCall, op, {
          deadlineAt,
          deadlineMs,
          signal: this.#signal,
          callTimeoutMs: this.options.callTimeoutMs,
          onCall: () => this.#count(kind),
        }),
      undefined,
      false,
    );
  }

  totalCalls(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
}
