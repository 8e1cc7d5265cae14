import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';
import { GcpOperationError, type OperationLike } from './gcp-errors.ts';

/** Per-call options for every Google call: no retries inside the client (ours classify), and a timeout. */
export function callOptions(timeoutMs: number): { retry: null; timeout: number } {
  return { retry: null, timeout: timeoutMs };
}

/** A zone operation, or a global one (firewalls) when `zone` is absent. */
export interface OperationRef {
  project: string;
  zone?: string | undefined;
  name: string;
}

/** One `wait` call on the operations client that matches the operation's scope. */
export type WaitCall = (op: OperationRef, timeoutMs: number) => Promise<OperationLike>;

export interface WaitOptions {
  /** When the whole wait ends (epoch ms), however many `wait` calls and retries it takes. */
  deadlineAt: number;
  /** For the message: how long the whole wait was allowed. */
  deadlineMs: number;
  signal?: AbortSignal | undefined;
  /** Each `wait` call: Google holds it up to 2 minutes and may answer before DONE. */
  callTimeoutMs?: number;
  /** Counted per `wait` call. */
  onCall?: () => void;
}

/**
 * A Compute operation to DONE: `ZoneOperationsClient.wait` (or the global one) in a loop
 * (it returns when the operation is done or after about two minutes, so one
 * call is not enough), within a deadline; then its `error`, if any, is
 * thrown as a GcpOperationError. A `wait` call that fails is the caller's to
 * retry (the operation itself is not repeated by waiting again).
 */
export async function waitForOperation(waitCall: WaitCall, op: OperationRef, options: WaitOptions): Promise<OperationLike> {
  const late = (): PlaneError => new PlaneError(ErrorCode.DeadlineExceeded, `gcp: operation ${op.name}${op.zone ? ` in ${op.zone}` : ''} not done after ${Math.round(options.deadlineMs / 1000)} s`);
  for (;;) {
    if (options.signal?.aborted) throw new PlaneError(ErrorCode.Aborted, `stopped waiting for operation ${op.name}`);
    const left = options.deadlineAt - Date.now();
    if (left <= 0) throw late();
    options.onCall?.();
    let result: OperationLike;
    try {
      result = await waitCall(op, Math.min(left, options.callTimeoutMs ?? 150_000));
    } catch (err) {
      // The call's own timeout cut at our deadline: that is our deadline, not Google's failure.
      if (Date.now() >= options.deadlineAt - 10) throw late();
      throw err;
    }
    if (String(result.status) === 'DONE') {
      if (result.error?.errors?.length) throw new GcpOperationError(op.name, result);
      return result;
    }
  }
}

/** The operation a Compute mutation returned: `[{latestResponse, ...}]`, a look-alike without `.promise()`. */
export function operationName(result: unknown): string {
  const r = (Array.isArray(result) ? result[0] : result) as { latestResponse?: { name?: string }; name?: string } | undefined;
  const name = r?.latestResponse?.name ?? r?.name;
  if (!name) throw new PlaneError(ErrorCode.Internal, 'gcp: a Compute call returned no operation');
  return name;
}
