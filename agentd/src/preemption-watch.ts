import { Backoff } from '../../common/src/backoff.ts';
import type { Logger } from '../../common/src/logger.ts';
import type { GceMetadata } from './gce-metadata.ts';

const PATH = 'instance/preempted';

export interface PreemptionWatchOptions {
  /** How long each wait_for_change request may be held; default 60 s. */
  timeoutSec?: number;
  /** Between failed requests, growing to 30 s. */
  retryDelayMs?: number;
}

/**
 * A Spot VM gets about 30 s notice before Google stops it: the metadata
 * server's `instance/preempted` turns TRUE. This watches it with
 * `wait_for_change` (one held request at a time, no polling) and calls
 * `onPreempted` once, so agentd spends the notice on its final brain sync and
 * a clean report instead of being cut off. Off Compute Engine the requests
 * fail and are retried quietly with backoff.
 */
export class PreemptionWatch {
  readonly #metadata: GceMetadata;
  readonly #log: Logger;
  readonly #onPreempted: () => void;
  readonly #o: PreemptionWatchOptions;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(metadata: GceMetadata, log: Logger, onPreempted: () => void, options: PreemptionWatchOptions = {}) {
    this.#metadata = metadata;
    this.#log = log.child('preemption');
    this.#onPreempted = onPreempted;
    this.#o = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const backoff = new Backoff({ initialDelayMs: this.#o.retryDelayMs ?? 1000, maxDelayMs: 30_000 });
    let etag: string | undefined;
    while (!signal.aborted) {
      try {
        const r = await this.#metadata.watch(PATH, etag, this.#o.timeoutSec ?? 60, signal);
        backoff.reset();
        etag = r.etag;
        if (r.value.trim() === 'TRUE') {
          this.#log.warn('this Spot VM is being preempted: stopping within the notice');
          this.#onPreempted();
          return;
        }
      } catch (err) {
        if (signal.aborted) return;
        this.#log.debug('preemption watch: metadata request failed; retrying', { error: err });
        if (!(await backoff.wait(signal))) return;
      }
    }
  }
}
