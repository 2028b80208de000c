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
  UNKNOWN_TOPIC: { retriable: false, meaning: 'the topic does not exist' },
  UNKNOWN_PARTITION: { retriable: false, meaning: 'the partition does not exist' },
  TOPIC_ALREADY_EXISTS: { retriable: false, meaning: 'a topic of that name exists already' },
  OFFSET_OUT_OF_RANGE: { retriable: false, meaning: 'offset below the log start offset or above the high watermark' },
  UNKNOWN_GROUP: { retriable: false, meaning: 'the consumer group does not exist' },
  UNKNOWN_MEMBER_ID: { retriable: false, meaning: 'the group member is not known' },
  ILLEGAL_GENERATION: { retriable: false, meaning: 'the generation is not the group\'s current one' },
  GROUP_NOT_EMPTY: { retriable: false, meaning: 'the operation needs a group without live members' },
  OUT_OF_ORDER_SEQUENCE: { retriable: false, meaning: 'idempotent produce with a sequence gap' },
  INVALID_PRODUCER_EPOCH: { retriable: false, meaning: 'produce from a fenced (older) producer epoch' },
  UNKNOWN_PRODUCER_ID: { retriable: false, meaning: 'produce naming a producer id the broker never issued' },
  NOT_LEADER_OR_FOLLOWER: { retriable: true, meaning: 'this broker does not lead the partition' },
  NOT_ENOUGH_REPLICAS: { retriable: true, meaning: 'the in-sync replica set is smaller than minInsyncReplicas' },
  REQUEST_TIMED_OUT: { retriable: true, meaning: 'acknowledgements not reached within timeoutMs' },
  KAFKA_STORAGE_ERROR: { retriable: true, meaning: 'disk error or disk full; nothing partial is visible' },
  NOT_FOUND: { retriable: false, meaning: 'no such route (path or method)' },
  BROKER_NOT_AVAILABLE: { retriable: true, meaning: 'the broker is shutting down, or (in the client) cannot be reached; retry later' },
} as const satisfies Record<string, { retriable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorDetails = Record<string, unknown>;

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.details = options.details;
  }
}

export function isBrokerError(err: unknown, code?: ErrorCode): err is BrokerError {
  return err instanceof BrokerError && (code === undefined || err.code === code);
}

/** Wraps a low-level I/O failure (ENOSPC, EIO, a failed fsync) as the storage error the layers above expect. */
export function storageError(what: string, cause: unknown): BrokerError {
  // A storage error wrapped again keeps the errno of the system call underneath (ENOSPC decides 507).
  const code = cause instanceof BrokerError ? errnoOf(cause) : (cause as NodeJS.ErrnoException | undefined)?.code;
  const errno = code ? ` (${code})` : '';
  return new BrokerError('KAFKA_STORAGE_ERROR', `${what} failed${errno}: ${(cause as Error | undefined)?.message ?? String(cause)}`, {
    cause,
    details: code ? { errno: code } : undefined,
  });
}

/** The errno (ENOSPC, EIO, ...) behind a storage error, if one is known. */
export function errnoOf(err: BrokerError): string | undefined {
  const errno = err.details?.errno;
  return typeof errno === 'string' ? errno : undefined;
}

export function corruptMessage(message: string, details?: ErrorDetails): BrokerError {
  return new BrokerError('CORRUPT_MESSAGE', message, details ? { details } : {});
}
