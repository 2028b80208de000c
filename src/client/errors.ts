/**
 * The client's errors are the broker's: one BrokerError class, rebuilt from a response's
 * {"error": {"code", "message", ...details}} body, so `err.code` and `err.retriable` mean the same on both sides
 * of the wire. Failures that never reach the broker (refused or reset connections, client-side timeouts) get a
 * retriable code too, and name the URL that was tried.
 */
import { BrokerError, ERROR_CODES, type ErrorCode } from '../common/errors.js';

export { BrokerError, ERROR_CODES, isBrokerError, type ErrorCode } from '../common/errors.js';

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The error a non-2xx response stands for. A code this client does not know (a newer broker) keeps its text in
 * `details.serverCode` and becomes INVALID_REQUEST (4xx) or BROKER_NOT_AVAILABLE (5xx, retriable).
 */
export function errorFromResponse(status: number, body: unknown, url: string): BrokerError {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  const code = error?.code;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status} from ${url}`;
  const { code: _code, message: _message, retriable: _retriable, ...rest } = error ?? {};
  const details: Record<string, unknown> = { ...rest, status };
  if (isErrorCode(code)) return new BrokerError(code, message, { details });
  if (code !== undefined) details.serverCode = code;
  return new BrokerError(status >= 500 ? 'BROKER_NOT_AVAILABLE' : 'INVALID_REQUEST', message, { details });
}

/** A request that got no HTTP answer: connection refused or reset, DNS, socket closed, or our own timeout. */
export function transportError(err: unknown, url: string, timeoutMs: number): BrokerError {
  if (err instanceof BrokerError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') {
    return new BrokerError('REQUEST_TIMED_OUT', `no answer from ${url} within ${timeoutMs} ms`, { cause: err, details: { url } });
  }
  const errno = e?.code ? ` (${e.code})` : '';
  return new BrokerError('BROKER_NOT_AVAILABLE', `cannot reach the broker at ${url}${errno}: ${e?.message ?? String(err)}`, {
    cause: err,
    details: { url, ...(e?.code ? { errno: e.code } : {}) },
  });
}

/** Anything thrown below the client's own code, as a BrokerError (an unexpected one is treated as retriable). */
export function asBrokerError(err: unknown): BrokerError {
  return err instanceof BrokerError ? err : new BrokerError('BROKER_NOT_AVAILABLE', String(err), { cause: err });
}

/** Errors in the caller's own arguments or options, thrown before anything is sent. */
export function invalidArgument(message: string): BrokerError {
  return new BrokerError('INVALID_REQUEST', message);
}

export function invalidOption(message: string): BrokerError {
  return new BrokerError('INVALID_CONFIG', message);
}
