import { Backoff, sleep } from '../../../common/src/backoff.ts';
import { classifyBucketError } from '../../../common/src/brain/bucket-retry.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { type Classification, retry } from '../../../common/src/retry.ts';

/** The work one push takes: changed paths, or the whole tree; fresh database snapshots or not. */
export interface PushWork {
  dirty: Set<string>;
  full: boolean;
  databases: boolean;
  /** When the oldest of these changes was made. */
  since: number | undefined;
}

/**
 * Whether a failed push is tried again by itself: when the bucket may come
 * back (its classifier), when HEAD moved under it (aborted: the next push
 * uploads everything again) or it failed unexpectedly (internal: a local read
 * may pass). Not when it was refused: the mass-delete guard, a missing
 * workspace, a stale lease, no permission.
 */
export function classifyPushFailure(err: unknown): Classification {
  if (err instanceof PlaneError && (err.code === ErrorCode.Aborted || err.code === ErrorCode.Internal)) return 'retry';
  return classifyBucketError(err);
}

/**
 * What the next push must carry and when it runs. Changes collect here until
 * a push takes them (and gives them back if it fails). A push runs after
 * `debounceMs` of quiet, but within `maxWaitMs` of the first change however
 * busy the workspace; after a push that failed for a reason that may pass, it
 * runs again after a backoff until it succeeds. Halting (stop, a stale lease)
 * ends all of that at once.
 */
export class PushPlanner {
  readonly #debounceMs: number;
  readonly #maxWaitMs: number;
  readonly #push: () => Promise<unknown>;
  readonly #backoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000 });
  readonly #halt = new AbortController();
  #dirty = new Set<string>();
  #full = false;
  #databases = false;
  #firstDirtyAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retrying: Promise<void> | undefined;

  constructor(o: { debounceMs: number; maxWaitMs: number; push: () => Promise<unknown> }) {
    this.#debounceMs = o.debounceMs;
    this.#maxWaitMs = o.maxWaitMs;
    this.#push = o.push;
  }

  /** How long the oldest change not yet pushed has waited. */
  get lagMs(): number {
    return this.#firstDirtyAt === undefined ? 0 : Date.now() - this.#firstDirtyAt;
  }

  /** Changed paths waiting, plus one for a whole-tree rescan. */
  get pending(): number {
    return this.#dirty.size + (this.#full ? 1 : 0);
  }

  /** Something is waiting to go up. */
  get due(): boolean {
    return this.#firstDirtyAt !== undefined;
  }

  get halted(): boolean {
    return this.#halt.signal.aborted;
  }

  changed(rel: string): void {
    this.#dirty.add(rel);
    this.markDirty();
  }

  /** The next push rescans the whole tree (and, with `databases`, snapshots the databases). */
  needFull(databases = false): void {
    this.#full = true;
    this.#databases ||= databases;
    this.markDirty();
  }

  needDatabases(): void {
    this.#databases = true;
  }

  /** Starts the lag clock without naming a change (a lease granted, a repair due). */
  markDirty(): void {
    this.#firstDirtyAt ??= Date.now();
  }

  /** Hands the waiting work to a push, with what the caller requires on top. */
  take(force: { full: boolean; databases: boolean }): PushWork {
    const work: PushWork = { dirty: this.#dirty, full: force.full || this.#full, databases: force.databases || this.#databases, since: this.#firstDirtyAt };
    this.#dirty = new Set();
    this.#full = false;
    this.#databases = false;
    this.#firstDirtyAt = undefined;
    return work;
  }

  /** A push failed: its work waits again, and its lag counts from its oldest change. */
  giveBack(work: PushWork): void {
    for (const d of work.dirty) this.#dirty.add(d);
    this.#full ||= work.full;
    this.#databases ||= work.databases;
    if (work.since !== undefined) this.#firstDirtyAt = Math.min(work.since, this.#firstDirtyAt ?? work.since);
  }

  /** A restore replaced the local brain: nothing that waited is to be pushed. */
  clear(): void {
    this.#dirty.clear();
    this.#firstDirtyAt = undefined;
  }

  /** Pushes after the debounce, or sooner when the oldest change has waited nearly maxWaitMs. */
  schedule(): void {
    if (this.halted) return;
    const waited = Date.now() - (this.#firstDirtyAt ?? Date.now());
    const delay = Math.max(0, Math.min(this.#debounceMs, this.#maxWaitMs - waited));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#push().catch(() => undefined);
    }, delay);
    this.#timer.unref();
  }

  /** A push succeeded: the next failure starts from the shortest backoff. */
  succeeded(): void {
    this.#backoff.reset();
  }

  /**
   * A push or check failed for a reason that may pass: wait a backoff, then
   * push until one succeeds, one fails for good (classifyPushFailure) or the
   * planner halts. One such loop at a time; its waits grow until a push succeeds.
   */
  retryLater(): void {
    if (this.halted || this.#retrying) return;
    const signal = this.#halt.signal;
    this.#retrying = (async () => {
      if (!(await sleep(this.#backoff.next(), signal))) return;
      await retry(() => this.#push(), { classify: classifyPushFailure, signal, backoff: this.#backoff });
    })()
      .catch(() => undefined) // each failure is logged and shown in status by the push itself
      .finally(() => {
        this.#retrying = undefined;
      });
  }

  /** No more scheduled or retried pushes, ever (stop, or the lease went to a newer writer). */
  halt(): void {
    this.#halt.abort();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
