import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ErrorCode, GrpcStatus, isRetryableGrpcStatus, PlaneError } from './errors.ts';

describe('gRPC status codes', () => {
  it('are the ones grpc-js uses, name for name', () => {
    const fromGrpc = Object.fromEntries(Object.entries(status).filter(([k]) => Number.isNaN(Number(k))));
    expect(GrpcStatus).toEqual(fromGrpc);
  });

  it('map each error code to its gRPC status', () => {
    expect(new PlaneError(ErrorCode.NotFound, 'x').grpcStatus).toBe(status.NOT_FOUND);
    expect(new PlaneError(ErrorCode.Unauthenticated, 'x').grpcStatus).toBe(status.UNAUTHENTICATED);
    expect(isRetryableGrpcStatus(status.UNAVAILABLE)).toBe(true);
    expect(isRetryableGrpcStatus(status.UNIMPLEMENTED)).toBe(false);
  });
});
