import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, errorCodeFromHttpStatus, PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { describeAjvError } from '../../../common/src/validate.ts';

/**
 * A PlaneError answered with a more specific 4xx than its code's: 413, 414,
 * 415 and 431 tell HTTP clients and proxies what to change; the code stays one
 * of the catalogue's.
 */
export class HttpStatusError extends PlaneError {
  readonly #status: number;
  constructor(status: number, code: ErrorCode, message: string, options?: { cause?: unknown; where?: string }) {
    super(code, message, options);
    this.#status = status;
  }
  override get httpStatus(): number {
    return this.#status;
  }
}

const errorObject = (err: PlaneError): { error: { code: ErrorCode; message: string; where?: string } } => ({
  error: { code: err.code, message: err.message, ...(err.where ? { where: err.where } : {}) },
});

export function sendError(reply: FastifyReply, err: PlaneError): FastifyReply {
  return reply.code(err.httpStatus).send(errorObject(err));
}

const kib = (bytes: number): string => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`);

/**
 * Every failure leaves the API as {"error": {code, message, where?}} with a code
 * from the catalogue. Fastify's own errors (schema validation, body too large,
 * wrong content type, a bad URL) are translated into the same shape instead of
 * leaking their codes.
 */
export function toPlaneError(err: FastifyError | PlaneError | Error, request?: FastifyRequest): PlaneError {
  if (err instanceof PlaneError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const issue = first ? describeAjvError(first as Parameters<typeof describeAjvError>[0]) : { path: '', message: 'is invalid' };
    const ctx = fe.validationContext ?? 'body';
    const where = issue.path === '' ? ctx : `${ctx}.${issue.path}`;
    return new PlaneError(ErrorCode.InvalidArgument, `${where} ${issue.message}`, { where });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new PlaneError(ErrorCode.InvalidArgument, 'request body is not valid JSON', { where: 'body' });
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request?.routeOptions.bodyLimit;
      return new HttpStatusError(413, ErrorCode.InvalidArgument, `the request body is too large${limit ? `: this route takes at most ${kib(limit)}` : ''}`, { where: 'body' });
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpStatusError(415, ErrorCode.InvalidArgument, 'request body must be application/json', { where: 'content-type' });
    case 'FST_ERR_BAD_URL':
      return new PlaneError(ErrorCode.InvalidArgument, 'the path is not valid: a %-escape does not decode to UTF-8', { where: 'path' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpStatusError(414, ErrorCode.InvalidArgument, 'a path segment is longer than 100 characters', { where: 'path' });
    default:
      break;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new HttpStatusError(fe.statusCode, errorCodeFromHttpStatus(fe.statusCode), fe.message, { where: 'request' });
  }
  return new PlaneError(ErrorCode.Internal, 'internal error', { cause: err });
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const pe = toPlaneError(err, request);
    if (pe.code === ErrorCode.Internal) log.error('request failed', { method: request.method, url: request.url, error: err });
    return sendError(reply, pe);
  };
}

/** Errors fastify raises before a request reaches a route: a bad %-escape in the path, an over-long path segment. */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, toPlaneError(err));
}

/**
 * A request Node's HTTP parser refuses (headers over 16 KiB, a malformed request
 * line) never reaches fastify: the answer is written to the socket, in the same
 * shape, and the connection is closed once the client stops sending.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, pe] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, new PlaneError(ErrorCode.InvalidArgument, 'the request line and headers are larger than 16 KiB', { where: 'headers' })]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, new PlaneError(ErrorCode.DeadlineExceeded, 'the request was not received in time', { where: 'request' })]
        : [400, new PlaneError(ErrorCode.InvalidArgument, 'the request is not valid HTTP/1.1', { where: 'request' })];
  const body = JSON.stringify(errorObject(pe));
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  // Read what the client still sends, so closing does not reset the connection before it reads the answer.
  socket.resume();
  setTimeout(() => socket.destroy(), 5_000).unref();
}
