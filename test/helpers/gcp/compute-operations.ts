import { GoogleError, type GoogleHttpServer, notFound } from './google-http.ts';

export interface Operation {
  name: string;
  id: string;
  kind: 'compute#operation';
  operationType: string;
  targetLink: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  progress: number;
  insertTime: string;
  zone?: string;
  error?: { errors: Array<{ code: string; message: string; errorDetails?: unknown[] }> };
  httpErrorStatusCode?: number;
  httpErrorMessage?: string;
}

/** An operation error the next operation of a kind ends with (quota, a bad image, capacity). */
export interface OperationFailure {
  code: string;
  message: string;
  httpStatus?: number;
  quota?: { metric: string; limit: number; region: string };
}

/**
 * Compute's long-running operations: PENDING, RUNNING while the work (with its
 * latency) goes on, then DONE, with `error` when it failed. `wait` holds the
 * request until DONE or `waitCapMs` (Google's is about two minutes; tests make
 * it short so callers must loop), and answers with the operation as it is.
 */
export class OperationBook {
  readonly #ops = new Map<string, { op: Operation; done: Promise<void> }>();
  #seq = 0;
  waitCapMs = 120_000;

  /** Starts `work`; the operation is DONE when it settles, with its error if it threw an OperationFailure. */
  start(type: string, targetLink: string, zone: string | undefined, work: () => Promise<void>): Operation {
    const n = ++this.#seq;
    const op: Operation = {
      name: `operation-${Date.now()}-${n.toString(16)}`,
      id: String(1_000_000 + n),
      kind: 'compute#operation',
      operationType: type,
      targetLink,
      status: 'PENDING',
      progress: 0,
      insertTime: new Date().toISOString(),
      ...(zone ? { zone } : {}),
    };
    const done = (async () => {
      await Promise.resolve();
      op.status = 'RUNNING';
      try {
        await work();
      } catch (err) {
        const f = err as OperationFailure & Error;
        op.error = {
          errors: [
            {
              code: f.code ?? 'INTERNAL_ERROR',
              message: f.message,
              ...(f.quota ? { errorDetails: [{ quotaInfo: { metricName: `compute.googleapis.com/${f.quota.metric.toLowerCase()}`, limitName: `${f.quota.metric}-per-project-region`, limit: f.quota.limit, dimensions: { region: f.quota.region } } }] } : {}),
            },
          ],
        };
        op.httpErrorStatusCode = f.httpStatus ?? 400;
        op.httpErrorMessage = f.httpStatus === 403 ? 'FORBIDDEN' : 'BAD REQUEST';
      }
      op.progress = 100;
      op.status = 'DONE';
    })();
    this.#ops.set(op.name, { op, done });
    return op;
  }

  /** Operations not DONE yet. */
  pending(): number {
    return [...this.#ops.values()].filter((o) => o.op.status !== 'DONE').length;
  }

  /** Resolves when every operation so far is DONE. */
  async settle(): Promise<void> {
    await Promise.all([...this.#ops.values()].map((o) => o.done));
  }

  register(http: GoogleHttpServer): void {
    const get = (name: string): { op: Operation; done: Promise<void> } => {
      const o = this.#ops.get(name);
      if (!o) throw notFound(name);
      return o;
    };
    const wait = async (name: string): Promise<Operation> => {
      const o = get(name);
      await Promise.race([o.done, new Promise((r) => setTimeout(r, this.waitCapMs).unref())]);
      return o.op;
    };
    http.route('GET', /^\/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/operations\/([^/]+)$/, (_r, [name]) => get(name as string).op);
    http.route('POST', /^\/compute\/v1\/projects\/[^/]+\/zones\/[^/]+\/operations\/([^/]+)\/wait$/, (_r, [name]) => wait(name as string));
    http.route('GET', /^\/compute\/v1\/projects\/[^/]+\/global\/operations\/([^/]+)$/, (_r, [name]) => get(name as string).op);
    http.route('POST', /^\/compute\/v1\/projects\/[^/]+\/global\/operations\/([^/]+)\/wait$/, (_r, [name]) => wait(name as string));
  }
}

/** Throw inside operation work to end the operation with this error. */
export function operationFailure(f: OperationFailure): Error {
  return Object.assign(new Error(f.message), f);
}

/** A synchronous answer for a quota (what Compute says when insert would pass a regional quota). */
export function quotaError(metric: string, limit: number, region: string): GoogleError {
  return new GoogleError(403, 'quotaExceeded', `Quota '${metric}' exceeded.  Limit: ${limit.toFixed(1)} in region ${region}.`);
}
