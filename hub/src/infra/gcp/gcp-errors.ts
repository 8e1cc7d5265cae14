import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';

/**
 * What comes back from Google, in one shape, whichever client threw it:
 * google-gax (Compute; `code` is a gRPC status, `httpStatusCode`, the body in
 * `cause.message`), gaxios (IAM, IAP; `status`, the body in `response.data`),
 * or a failed long-running operation (GcpOperationError). Every retry and every
 * sentence an admin reads is decided from this shape, here and nowhere else.
 */
export interface GcpFailure {
  /** HTTP status, when there was an answer. */
  httpStatus: number | undefined;
  /** Legacy `errors[].reason` (quotaExceeded, rateLimitExceeded, ...), ErrorInfo reasons, operation error codes. */
  reasons: string[];
  message: string;
  /** From a quota error: the metric (CPUS), its limit and region. */
  quota?: { metric: string; limit?: number; region?: string };
  /** ECONNRESET and friends: no answer at all. */
  network?: string;
}

/** A long-running operation that finished with `error` set. */
export class GcpOperationError extends Error {
  override readonly name = 'GcpOperationError';
  readonly httpStatus: number | undefined;
  readonly errors: Array<{ code: string; message: string; quota?: { metric: string; limit?: number; region?: string } }>;

  constructor(operation: string, op: OperationLike) {
    const errors = (op.error?.errors ?? []).map((e) => {
      const q = e.errorDetails?.find((d) => d.quotaInfo)?.quotaInfo;
      return {
        code: e.code ?? 'UNKNOWN',
        message: e.message ?? '',
        ...(q ? { quota: { metric: q.limitName?.split('-')[0] ?? q.metricName ?? 'unknown', ...(q.limit != null ? { limit: q.limit } : {}), ...(q.dimensions?.['region'] ? { region: q.dimensions['region'] } : {}) } } : {}),
      };
    });
    super(`operation ${operation} failed: ${errors.map((e) => `${e.code}: ${e.message}`).join('; ') || op.httpErrorMessage || 'unknown error'}`);
    this.httpStatus = op.httpErrorStatusCode ?? undefined;
    this.errors = errors;
  }
}

/** The parts of a Compute operation this module reads (the SDK's IOperation has them all). */
export interface OperationLike {
  name?: string | null;
  status?: unknown;
  error?: { errors?: Array<{ code?: string | null; message?: string | null; errorDetails?: Array<{ quotaInfo?: { metricName?: string | null; limitName?: string | null; limit?: number | null; dimensions?: Record<string, string> | null } | null }> | null }> | null } | null;
  httpErrorStatusCode?: number | null;
  httpErrorMessage?: string | null;
}

/** gRPC status -> the HTTP status Google maps it to (google.rpc.Code). */
const GRPC_TO_HTTP: Record<number, number> = { 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 13: 500, 14: 503, 16: 401 };

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'ECONNABORTED']);

/** Quota 'CPUS' exceeded.  Limit: 24.0 in region us-east4. (Compute's own wording) */
const QUOTA_RE = /Quota '([A-Z0-9_]+)' exceeded\.\s+Limit: ([\d.]+)(?: in region ([a-z0-9-]+))?/;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; errors?: Array<{ reason?: string; message?: string }>; details?: Array<{ reason?: string }> };
}

/** Normalises anything a Google client threw. Never throws. */
export function gcpFailureOf(err: unknown): GcpFailure {
  const e = (err ?? {}) as Record<string, unknown>;
  if (err instanceof GcpOperationError) {
    const q = err.errors.find((x) => x.quota)?.quota ?? quotaFrom(err.message);
    return { httpStatus: err.httpStatus, reasons: err.errors.map((x) => x.code), message: err.errors[0]?.message || err.message, ...(q ? { quota: q } : {}) };
  }
  const reasons: string[] = [];
  let body: GoogleErrorBody | undefined;
  // gaxios: the parsed body is on response.data.
  const response = e['response'] as { status?: number; data?: unknown } | undefined;
  if (response?.data && typeof response.data === 'object') body = response.data;
  else if (typeof response?.data === 'string') body = parseJson(response.data) as GoogleErrorBody | undefined;
  // google-gax REST: the raw body is the cause's message.
  const cause = e['cause'] as { message?: unknown } | undefined;
  if (!body && typeof cause?.message === 'string') body = parseJson(cause.message) as GoogleErrorBody | undefined;
  for (const x of body?.error?.errors ?? []) if (x.reason) reasons.push(x.reason);
  for (const x of body?.error?.details ?? []) if (x.reason) reasons.push(x.reason);
  if (typeof e['reason'] === 'string') reasons.push(e['reason']);
  // A plain gRPC error (Secret Manager): a numeric status and no HTTP one.
  const grpcOnly = typeof e['code'] === 'number' && typeof e['httpStatusCode'] !== 'number' ? GRPC_TO_HTTP[e['code']] : undefined;
  if (grpcOnly !== undefined && e['code'] === 10) reasons.push('ABORTED');
  if (grpcOnly !== undefined && e['code'] === 6) reasons.push('ALREADY_EXISTS');
  if (body?.error?.status) reasons.push(body.error.status);
  const status =
    (typeof e['httpStatusCode'] === 'number' ? e['httpStatusCode'] : undefined) ??
    (typeof e['status'] === 'number' ? e['status'] : undefined) ??
    response?.status ??
    body?.error?.code ??
    grpcOnly;
  const message = body?.error?.message ?? (err instanceof Error ? err.message : String(err));
  const code = typeof e['code'] === 'string' ? e['code'] : (e['cause'] as { code?: unknown } | undefined)?.code;
  const network = typeof code === 'string' && NETWORK_CODES.has(code) ? code : undefined;
  const quota = quotaFrom(message);
  return { httpStatus: status, reasons: [...new Set(reasons)], message, ...(quota ? { quota } : {}), ...(network ? { network } : {}) };
}

function quotaFrom(message: string): GcpFailure['quota'] {
  // IAM answers 429 RESOURCE_EXHAUSTED with a retry delay of a day: a quota, not a rate limit.
  if (/Maximum number of service accounts/i.test(message)) return { metric: 'SERVICE_ACCOUNTS' };
  const m = QUOTA_RE.exec(message);
  if (!m) return undefined;
  return { metric: m[1] as string, limit: Number(m[2]), ...(m[3] ? { region: m[3] } : {}) };
}

const RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'RATE_LIMIT_EXCEEDED', 'backendError', 'internalError']);
// Not RESOURCE_EXHAUSTED: Google sends that status with every 429, rate limits included.
const QUOTA_REASONS = new Set(['quotaExceeded', 'QUOTA_EXCEEDED']);

/**
 * The one retry classifier for Google Cloud calls, shaped for
 * `retry(fn, {classify})`: a rate limit (429, or 403 rateLimitExceeded, which
 * Compute uses for its per-minute request quotas), a 5xx or a dropped
 * connection is worth another attempt; everything else, a resource quota
 * (CPUS, SERVICE_ACCOUNTS) included, is not: waiting does not raise a quota.
 * Neither is an operation that finished with an error.
 */
export function classifyGcpError(err: unknown): 'retry' | 'fatal' {
  if (err instanceof PlaneError) return err.code === ErrorCode.Unavailable ? 'retry' : 'fatal';
  // A finished operation's error is final: waiting on it again returns the same error.
  if (err instanceof GcpOperationError) return 'fatal';
  const f = gcpFailureOf(err);
  if (f.reasons.some((r) => QUOTA_REASONS.has(r)) || f.quota) return 'fatal';
  if (f.reasons.some((r) => RATE_REASONS.has(r))) return 'retry';
  if (f.network) return 'retry';
  if (f.httpStatus === 429 || (f.httpStatus !== undefined && f.httpStatus >= 500)) return 'retry';
  return 'fatal';
}

/**
 * IAM is eventually consistent: for a minute or so after a service account is
 * created, Compute, IAM itself and Secret Manager may answer 400 or 404 about
 * it. True when `err` is such an answer about `email` (in its message, or in
 * the URL a gaxios request went to).
 */
export function isAboutAccount(err: unknown, email: string): boolean {
  const f = gcpFailureOf(err);
  if (f.httpStatus !== 400 && f.httpStatus !== 404) return false;
  const url = ((err ?? {}) as { config?: { url?: unknown } }).config?.url;
  return f.message.includes(email) || (typeof url === 'string' && decodeURIComponent(url).includes(email));
}

/** Not found: a delete that finds nothing is done, a get that finds nothing is drift. */
export function isNotFound(err: unknown): boolean {
  return gcpFailureOf(err).httpStatus === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  const f = gcpFailureOf(err);
  return f.httpStatus === 409 && (f.reasons.includes('alreadyExists') || f.reasons.includes('ALREADY_EXISTS') || /already exists/i.test(f.message));
}

/** An etag or fingerprint that moved under us (setIamPolicy 409 ABORTED, setLabels 412). */
export function isConcurrencyConflict(err: unknown): boolean {
  const f = gcpFailureOf(err);
  if (f.httpStatus === 412) return true;
  return f.httpStatus === 409 && (f.reasons.includes('ABORTED') || f.reasons.includes('conditionNotMet') || /etag|concurrent|fingerprint/i.test(f.message));
}

/**
 * Google's reason in one sentence for an admin: `gcp: quota CPUS exceeded in
 * us-east4 (limit 24)`, `gcp: permission denied: ...`, `gcp: image ... not found`.
 */
export function gcpReason(err: unknown): string {
  if (err instanceof PlaneError) return err.message;
  const f = gcpFailureOf(err);
  if (f.quota) return `gcp: quota ${f.quota.metric} exceeded${f.quota.region ? ` in ${f.quota.region}` : ''}${f.quota.limit !== undefined ? ` (limit ${f.quota.limit})` : ''}`;
  const first = oneSentence(f.message);
  if (f.network) return `gcp: no answer from Google (${f.network})`;
  if (f.httpStatus === 429 || f.reasons.some((r) => r !== 'backendError' && r !== 'internalError' && RATE_REASONS.has(r))) return `gcp: rate limited: ${first}`;
  if (f.httpStatus === 403) return `gcp: permission denied: ${first}`;
  if (f.httpStatus === 404) return `gcp: not found: ${first}`;
  return `gcp: ${first}`;
}

function oneSentence(message: string): string {
  const line = message.split('\n')[0]?.trim() ?? '';
  const cut = /^(.{1,240}?[.!?])(\s|$)/.exec(line)?.[1] ?? line.slice(0, 240);
  return cut.replace(/[.\s]+$/, '') || 'unknown error';
}

/** A PlaneError carrying Google's reason, with the code that matches what happened. */
export function toPlaneError(err: unknown, what?: string): PlaneError {
  if (err instanceof PlaneError) return err;
  const f = gcpFailureOf(err);
  const code =
    f.quota || f.reasons.some((r) => QUOTA_REASONS.has(r))
      ? ErrorCode.FailedPrecondition
      : classifyGcpError(err) === 'retry'
        ? ErrorCode.Unavailable
        : f.httpStatus === 403 || f.httpStatus === 401
          ? ErrorCode.PermissionDenied
          : f.httpStatus === 404
            ? ErrorCode.NotFound
            : f.httpStatus === 409
              ? ErrorCode.AlreadyExists
              : f.httpStatus === 400
                ? ErrorCode.InvalidArgument
                : ErrorCode.FailedPrecondition;
  return new PlaneError(code, what ? `${gcpReason(err)} (${what})` : gcpReason(err), { cause: err });
}
