/**
 * Error codes -> HTTP status, and the one error body: {"error": {"code", "message", ...details}}.
 * The map is exhaustive over ErrorCode (a code without a status does not compile); docs/http-api.md has the
 * same table and a test keeps them equal.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BrokerError, ERROR_CODES, errnoOf, type ErrorCode } from '../common/errors.js';

export const ERROR_STATUS: Record<ErrorCode, number | readonly number[]> = {
  INVALID_REQUEST: 400,
  INVALID_TOPIC_NAME: 400,
  INVALID_CONFIG: 400,
  INVALID_TIMESTAMP: 400,
  CORRUPT_MESSAGE: 400,
  RECORD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUEST_HEADERS_TOO_LARGE: 431,
  REQUEST_INCOMPLETE: 408,
  UNKNOWN_TOPIC: 404,
  UNKNOWN_PARTITION: 404,
  TOPIC_ALREADY_EXISTS: 409,
  OFFSET_OUT_OF_RANGE: 416,
  UNKNOWN_GROUP: 404,
  UNKNOWN_MEMBER_ID: 404,
  ILLEGAL_GENERATION: 409,
  GROUP_NOT_EMPTY: 409,
  RECEIPT_EXPIRED: 409,
  INVALID_RECEIPT: 400,
  INCONSISTENT_GROUP_PROTOCOL: 409,
  OUT_OF_ORDER_SEQUENCE: 409,
  INVALID_PRODUCER_EPOCH: 409,
  UNKNOWN_PRODUCER_ID: 409,
  NOT_LEADER_OR_FOLLOWER: [307, 503],
  NOT_COORDINATOR: [307, 503],
  INVALID_REPLICATION_FACTOR: 400,
  FENCED_LEADER_EPOCH: 409,
  UNKNOWN_LEADER_EPOCH: 503,
  NOT_ENOUGH_REPLICAS: 503,
  REQUEST_TIMED_OUT: 504,
  KAFKA_STORAGE_ERROR: [500, 507],
  NOT_FOUND: 404,
  BROKER_NOT_AVAILABLE: 503,
  UNAUTHENTICATED: 401,
  NOT_AUTHORIZED: 403,
  THROTTLED: 429,
  GROUP_MAX_SIZE_REACHED: 409,
  UNKNOWN_SERVER_ERROR: 500,
};

/** The status of one error: where a code has two, the details decide (disk full is 507). */
export function statusOf(err: BrokerError): number {
  const status = ERROR_STATUS[err.code];
  if (typeof status === 'number') return status;
  if (err.code === 'KAFKA_STORAGE_ERROR') return err.details?.errno === 'ENOSPC' ? 507 : 500;
  if (err.code === 'NOT_LEADER_OR_FOLLOWER' || err.code === 'NOT_COORDINATOR') return err.details?.leaderUrl ? 307 : 503;
  return status[0]!;
}

export function errorBody(err: BrokerError): { error: Record<string, unknown> } {
  return { error: { ...(err.details ?? {}), code: err.code, message: err.message, retriable: err.retriable } };
}

/**
 * Turns anything thrown in a route (ours, fastify's, a parser's) into the contract's error response. What is
 * neither ours nor a request fastify refused is unexpected: an I/O error that escaped the storage engine's
 * wrapping becomes a KAFKA_STORAGE_ERROR naming only the errno, anything else (a bug) UNKNOWN_SERVER_ERROR with
 * a fixed message. Their own messages may hold file paths or internals, so they go to the log only.
 */
export function toBrokerError(err: unknown, requestId?: string): BrokerError {
  if (err instanceof BrokerError) return err;
  const f = err as FastifyError & { validation?: unknown; statusCode?: number };
  if (f?.validation) return new BrokerError('INVALID_REQUEST', f.message);
  switch (f?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BrokerError('RECORD_TOO_LARGE', 'request body is larger than maxRequestBytes');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BrokerError('UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type: send application/json (UTF-8) or, where a route says so, application/vnd.sluice.record-batch');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BrokerError('INVALID_REQUEST', f.message);
  }
  if (f?.statusCode && f.statusCode >= 400 && f.statusCode < 500) {
    return new BrokerError('INVALID_REQUEST', f.message || 'malformed request');
  }
  const at = requestId === undefined ? '' : ` (request ${requestId})`;
  const errno = errnoOf(err);
  if (errno !== null) return new BrokerError('KAFKA_STORAGE_ERROR', `an I/O operation failed (${errno})${at}`, { cause: err, details: { errno } });
  return new BrokerError('UNKNOWN_SERVER_ERROR', `the broker failed to handle the request${at}; the details are in its log`, { cause: err });
}

/** The code of the error each failed reply carried (metrics count errors by code). */
const sentCodes = new WeakMap<FastifyReply, ErrorCode>();

export function errorCodeOf(reply: FastifyReply): ErrorCode | undefined {
  return sentCodes.get(reply);
}

export function sendError(reply: FastifyReply, err: BrokerError): FastifyReply {
  sentCodes.set(reply, err.code);
  if ((err.code === 'NOT_LEADER_OR_FOLLOWER' || err.code === 'NOT_COORDINATOR') && typeof err.details?.leaderUrl === 'string') reply.header('Location', err.details.leaderUrl);
  return reply.code(statusOf(err)).type('application/json').send(errorBody(err));
}

/** Logs and answers a route's error: 5xx at error level with the whole error (cause, stack, paths), 4xx at debug. */
export function errorHandler(this: unknown, err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const broker = toBrokerError(err, request.id);
  const status = statusOf(broker);
  if (status >= 500) request.log.error({ err, code: broker.code, method: request.method, url: request.url }, broker.message);
  else request.log.debug({ code: broker.code }, broker.message);
  return sendError(reply, broker);
}

export const ERROR_TABLE = (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => ({
  code,
  status: ERROR_STATUS[code],
  retriable: ERROR_CODES[code].retriable,
  meaning: ERROR_CODES[code].meaning,
}));
