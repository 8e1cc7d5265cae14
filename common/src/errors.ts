import type { status } from '@grpc/grpc-js';

/**
 * gRPC status codes, fixed by the gRPC specification. Spelled out so that this
 * module, which every `planes` command loads, does not load grpc-js;
 * errors.test.ts checks each against grpc-js.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const satisfies { [K in keyof typeof status]: (typeof status)[K] };
type GrpcStatus = status;

/**
 * The closed set of error codes used everywhere: on the wire (gRPC status),
 * in the REST API (HTTP status + this string in `error.code`) and in the CLI
 * (exit code + one sentence).
 */
export const ErrorCode = {
  InvalidArgument: 'invalid_argument',
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  FailedPrecondition: 'failed_precondition',
  Unauthenticated: 'unauthenticated',
  PermissionDenied: 'permission_denied',
  Unavailable: 'unavailable',
  DeadlineExceeded: 'deadline_exceeded',
  Aborted: 'aborted',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const grpcByCode: Record<ErrorCode, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  unavailable: GrpcStatus.UNAVAILABLE,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  aborted: GrpcStatus.ABORTED,
  internal: GrpcStatus.INTERNAL,
};

const httpByCode: Record<ErrorCode, number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  unauthenticated: 401,
  permission_denied: 403,
  unavailable: 503,
  deadline_exceeded: 504,
  aborted: 409,
  internal: 500,
};

/** CLI exit codes. 1 is reserved for "the operation ran and failed for some agents". */
export const ExitCode = {
  Ok: 0,
  PartialFailure: 1,
  Usage: 2,
  NotFound: 3,
  Auth: 4,
  Unavailable: 5,
  Conflict: 6,
  Internal: 70,
} as const;

const exitByCode: Record<ErrorCode, number> = {
  invalid_argument: ExitCode.Usage,
  not_found: ExitCode.NotFound,
  already_exists: ExitCode.Conflict,
  failed_precondition: ExitCode.Conflict,
  unauthenticated: ExitCode.Auth,
  permission_denied: ExitCode.Auth,
  unavailable: ExitCode.Unavailable,
  deadline_exceeded: ExitCode.Unavailable,
  aborted: ExitCode.Conflict,
  internal: ExitCode.Internal,
};

export class PlaneError extends Error {
  override readonly name = 'PlaneError';
  readonly code: ErrorCode;
  /** Where the problem is: a config path ("spec.agents[2].name"), a field, a file. */
  readonly where: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; where?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.where = options?.where;
  }

  get grpcStatus(): GrpcStatus {
    return grpcByCode[this.code];
  }

  get httpStatus(): number {
    return httpByCode[this.code];
  }

  get exitCode(): number {
    return exitByCode[this.code];
  }

  static from(err: unknown): PlaneError {
    if (err instanceof PlaneError) return err;
    return new PlaneError(ErrorCode.Internal, err instanceof Error ? err.message : String(err), { cause: err });
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.values(ErrorCode).includes(value as ErrorCode);
}

export function errorCodeFromHttpStatus(status: number): ErrorCode {
  for (const [code, http] of Object.entries(httpByCode)) if (http === status) return code as ErrorCode;
  return status >= 500 ? ErrorCode.Internal : ErrorCode.InvalidArgument;
}

/** Which gRPC failures are worth a reconnect. Anything about identity is not. */
export function isRetryableGrpcStatus(code: number | undefined): boolean {
  switch (code) {
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.UNIMPLEMENTED:
      return false;
    default:
      return true;
  }
}
