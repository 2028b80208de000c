/**
 * Answers the errors Node's HTTP parser raises before a request reaches fastify (the server's
 * 'clientError' event): request line and headers above maxHeaderBytes (431 REQUEST_HEADERS_TOO_LARGE),
 * headers or body not received within requestHeadersTimeoutMs / requestTimeoutMs (408 REQUEST_INCOMPLETE,
 * which ends slow-loris connections), anything else malformed (400 INVALID_REQUEST). Every answer has the
 * contract's error body and `Connection: close`.
 *
 * Closing a TCP socket that still has unread input makes the kernel send a reset, which can reach the client
 * before it has read the answer: it would see "connection reset" instead of a 431. So the socket is
 * half-closed after the answer, and what the client still sends is read and thrown away (by Node's parser,
 * which keeps consuming the socket) until the client closes or LINGER_MS pass, as nginx's lingering close does.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { BrokerError } from '../common/errors.js';
import { errorBody, statusOf } from './errors.js';

export const LINGER_MS = 2_000;

export interface HttpLimits {
  maxHeaderBytes: number;
  requestHeadersTimeoutMs: number;
  requestTimeoutMs: number;
}

function brokerErrorOf(err: NodeJS.ErrnoException & { reason?: string }, limits: HttpLimits): BrokerError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new BrokerError('REQUEST_HEADERS_TOO_LARGE', `the request line and headers are larger than maxHeaderBytes (${limits.maxHeaderBytes})`, {
        details: { maxHeaderBytes: limits.maxHeaderBytes },
      });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new BrokerError(
        'REQUEST_INCOMPLETE',
        `the request did not arrive in time (headers within ${limits.requestHeadersTimeoutMs} ms, all of it within ${limits.requestTimeoutMs} ms)`,
        { details: { requestHeadersTimeoutMs: limits.requestHeadersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs } },
      );
    default:
      return new BrokerError('INVALID_REQUEST', `malformed HTTP request: ${err.reason ?? err.code ?? 'parse error'}`);
  }
}

/** The server's 'clientError' listener (fastify's clientErrorHandler option). */
export function clientErrorHandler(limits: HttpLimits, log: FastifyBaseLogger): (err: Error, socket: Duplex) => void {
  const answered = new WeakSet<Duplex>();
  return (err, socket) => {
    const e = err as NodeJS.ErrnoException;
    // The parser reports every later chunk of a broken request again: answer once.
    if (e.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
    answered.add(socket);
    const broker = brokerErrorOf(e, limits);
    log.debug({ err, code: broker.code }, broker.message);
    // A response of an earlier request on this connection may be under way: then there is no room for ours.
    const inProgress = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    const status = statusOf(broker);
    const body = JSON.stringify(errorBody(broker));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.on('error', () => undefined);
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  };
}
