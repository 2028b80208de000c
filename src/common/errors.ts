/**
 * The one error type of sluice. Every failure that crosses a module boundary is a BrokerError with a stable
 * string code from the closed union below; the HTTP layer maps each code to a status (an exhaustive map, so a
 * new code without a status is a compile error) and the client rebuilds the same class from a response.
 *
 * This module is pure (no I/O) so that the storage engine, the server and the client can all share it.
 */

export const ERROR_CODES = {
  INVALID_REQUEST: { retriable: false, meaning: 'malformed request: bad JSON, wrong types, missing fields' },
  INVALID_TOPIC_NAME: { retriable: false, meaning: 'topic name does not match ^[a-zA-Z0-9._-]{1,249}$ or is . / ..' },
  INVALID_CONFIG: { retriable: false, meaning: 'unknown config key or value out of range' },
  INVALID_TIMESTAMP: { retriable: false, meaning: 'record timestamp too far in the future' },
  CORRUPT_MESSAGE: { retriable: false, meaning: 'a record batch failed validation (CRC, length, magic, codec)' },
  RECORD_TOO_LARGE: { retriable: false, meaning: 'a record batch or request is larger than allowed' },
  UNSUPPORTED_MEDIA_TYPE: { retriable: false, meaning: 'a Content-Type (or charset) the route does not read; JSON bodies are UTF-8' },
  REQUEST_HEADERS_TOO_LARGE: { retriable: false, meaning: 'the request line and headers are larger than maxHeaderBytes' },
  REQUEST_INCOMPLETE: { retriable: true, meaning: 'the headers or the body did not arrive within requestHeadersTimeoutMs / requestTimeoutMs' },
  UNKNOWN_TOPIC: { retriable: false, meaning: 'the topic does not exist' },
  UNKNOWN_PARTITION: { retriable: false, meaning: 'the partition does not exist' },
  TOPIC_ALREADY_EXISTS: { retriable: false, meaning: 'a topic of that name exists already' },
  OFFSET_OUT_OF_RANGE: { retriable: false, meaning: 'offset below the log start offset or above the high watermark' },
  UNKNOWN_GROUP: { retriable: false, meaning: 'the consumer group does not exist' },
  UNKNOWN_MEMBER_ID: { retriable: false, meaning: 'the group member is not known' },
  ILLEGAL_GENERATION: { retriable: false, meaning: 'the generation is not the group\'s current one' },
  GROUP_NOT_EMPTY: { retriable: false, meaning: 'the operation needs a group without live members' },
  RECEIPT_EXPIRED: { retriable: false, meaning: 'a share-group receipt whose lease is over (timed out, released, acknowledged or leased again, or a restart since)' },
  INVALID_RECEIPT: { retriable: false, meaning: 'a share-group receipt this group never issued (malformed, altered, or from another group)' },
  INCONSISTENT_GROUP_PROTOCOL: { retriable: false, meaning: 'the group is driven by the other group protocol (HTTP groups vs Kafka\'s classic protocol), or its members share no assignment protocol' },
  OUT_OF_ORDER_SEQUENCE: { retriable: false, meaning: 'idempotent produce with a sequence gap' },
  INVALID_PRODUCER_EPOCH: { retriable: false, meaning: 'produce from a fenced (older) producer epoch' },
  UNKNOWN_PRODUCER_ID: { retriable: false, meaning: 'produce naming a producer id the broker never issued' },
  NOT_LEADER_OR_FOLLOWER: { retriable: true, meaning: 'this broker does not lead the partition' },
  NOT_COORDINATOR: { retriable: true, meaning: 'this broker does not coordinate the group (cluster mode)' },
  INVALID_REPLICATION_FACTOR: { retriable: false, meaning: 'more replicas asked than live brokers, or fewer than 1' },
  FENCED_LEADER_EPOCH: { retriable: true, meaning: 'a replica request named a leader epoch older than the leader\'s (the replica missed a leader change)' },
  UNKNOWN_LEADER_EPOCH: { retriable: true, meaning: 'a replica request named a leader epoch newer than the broker knows (it has not heard of the change yet)' },
  NOT_ENOUGH_REPLICAS: { retriable: true, meaning: 'the in-sync replica set is smaller than minInsyncReplicas' },
  REQUEST_TIMED_OUT: { retriable: true, meaning: 'acknowledgements not reached within timeoutMs' },
  KAFKA_STORAGE_ERROR: { retriable: true, meaning: 'disk error or disk full; nothing partial is visible' },
  NOT_FOUND: { retriable: false, meaning: 'no such route (path or method)' },
  BROKER_NOT_AVAILABLE: { retriable: true, meaning: 'the broker is shutting down, or (in the client) cannot be reached; retry later' },
  UNAUTHENTICATED: { retriable: false, meaning: 'no bearer token, an unknown one, or no client certificate a principal goes by (auth on)' },
  NOT_AUTHORIZED: { retriable: false, meaning: 'the principal lacks the operation on the resource (details: resource, name, operation)' },
  THROTTLED: { retriable: true, meaning: 'over a quota or the bound on concurrent long polls; retry after Retry-After seconds (Sluice-Throttle-Ms)' },
  GROUP_MAX_SIZE_REACHED: { retriable: false, meaning: 'the group already has groupMaxSize members' },
  UNKNOWN_SERVER_ERROR: { retriable: false, meaning: 'a fault in the broker itself (a bug); the details are only in the broker\'s log' },
} as const satisfies Record<string, { retriable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorDetails = Record<string, unknown>;

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly code: ErrorCode;
  readonly retriable: boolean;
  /** sent to clients with the code and message (see the HTTP API's error body) */
  readonly details: ErrorDetails | undefined;
  /** for the broker's log only, never sent: file paths and the like */
  readonly context: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails | undefined; cause?: unknown; context?: ErrorDetails | undefined } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.details = options.details;
    this.context = options.context;
  }
}

export function isBrokerError(err: unknown, code?: ErrorCode): err is BrokerError {
  return err instanceof BrokerError && (code === undefined || err.code === code);
}

/**
 * The errno code (ENOSPC, EIO, ...) of a system call's error, or the one a storage error carries in its
 * details; null for anything else (ERR_* codes included).
 */
export function errnoOf(err: unknown): string | null {
  const code = err instanceof BrokerError ? err.details?.errno : (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : null;
}

/**
 * Wraps a low-level I/O failure (ENOSPC, EIO, a failed fsync) as the storage error the layers above expect.
 *
 * `what` names the operation and the partition ("writing segment 5600 of partition orders-3"), never a file
 * path: the message goes to clients. The path (`path`) and the system's own message, which often holds the
 * path too, stay in `context` and `cause`, which only the broker's log shows. The reply keeps the errno and
 * the system's description of it ("ENOSPC: no space left on device", the part of Node's message before the
 * syscall and path). A cause without an errno code is not an I/O failure but a bug (a TypeError, a bad
 * argument): it becomes UNKNOWN_SERVER_ERROR, which clients do not retry. A BrokerError cause keeps its code.
 */
export function storageError(what: string, cause: unknown, path?: string): BrokerError {
  const context = path === undefined ? undefined : { path };
  if (cause instanceof BrokerError) {
    return new BrokerError(cause.code, `${what} failed: ${cause.message}`, { cause, details: cause.details, context });
  }
  const errno = errnoOf(cause);
  if (errno === null) return new BrokerError('UNKNOWN_SERVER_ERROR', `${what} failed: internal error`, { cause, context });
  const message = (cause as Error).message ?? '';
  let description = message.startsWith(`${errno}: `) ? message.slice(errno.length + 2).split(',')[0]!.trim() : '';
  if (/[/\\]/.test(description)) description = '';
  return new BrokerError('KAFKA_STORAGE_ERROR', `${what} failed (${errno}${description ? `: ${description}` : ''})`, {
    cause,
    details: { errno },
    context,
  });
}

export function corruptMessage(message: string, details?: ErrorDetails): BrokerError {
  return new BrokerError('CORRUPT_MESSAGE', message, details ? { details } : {});
}
