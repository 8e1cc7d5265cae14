import { PlaneError } from '../../common/src/errors.ts';

export interface JobRecord {
  name: string;
  /** An interval ("5000 ms") or a cron expression. */
  every: string;
  runs: number;
  lastRunAt: number | null;
  lastMs: number | null;
  lastError: string | null;
}

/**
 * When each of the hub's periodic jobs last ran, how long it took and whether
 * it failed: the console's hub health page shows them, so a job that stopped
 * or keeps failing is seen without reading logs.
 */
export class JobClock {
  readonly #jobs = new Map<string, JobRecord>();

  /** Wraps a job: each call is timed and recorded; an exception is recorded and thrown on. */
  track(name: string, every: string, fn: () => void): () => void {
    const rec: JobRecord = { name, every, runs: 0, lastRunAt: null, lastMs: null, lastError: null };
    this.#jobs.set(name, rec);
    return () => {
      const t0 = performance.now();
      rec.lastRunAt = Date.now();
      rec.runs++;
      try {
        fn();
        rec.lastError = null;
      } catch (err) {
        rec.lastError = PlaneError.from(err).message;
        throw err;
      } finally {
        rec.lastMs = Math.round((performance.now() - t0) * 100) / 100;
      }
    };
  }

  list(): JobRecord[] {
    return [...this.#jobs.values()].map((j) => ({ ...j }));
  }
}
