import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { describeAjvError } from '../../../common/src/validate.ts';

export function sendError(reply: FastifyReply, err: PlaneError): FastifyReply {
  return reply.code(err.httpStatus).send({ error: { code: err.code, message: err.message, ...(err.where ? { where: err.where } : {}) } });
}

/**
 * Every failure leaves the API as {"error": {code, message, where?}} with a stable
 * code. Fastify's own errors (bad JSON, schema validation, body too large, wrong
 * content type) are translated into the same shape instead of leaking their codes.
 */
export function toPlaneError(err: FastifyError | PlaneError | Error): PlaneError {
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
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PlaneError(ErrorCode.InvalidArgument, 'request body is too large', { where: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PlaneError(ErrorCode.InvalidArgument, 'request body must be application/json', { where: 'content-type' });
    default:
      break;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new PlaneError(ErrorCode.InvalidArgument, fe.message, { where: 'request' });
  }
  return new PlaneError(ErrorCode.Internal, 'internal error', { cause: err });
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const pe = toPlaneError(err);
    if (pe.code === ErrorCode.Internal) log.error('request failed', { method: request.method, url: request.url, error: err });
    return sendError(reply, pe);
  };
}
