/**
 * What the producer and consumer tell their application besides results: a logger (any pino-compatible
 * object; sluice/client does not depend on pino) and events.
 *
 *   rebalance  partitions assigned to and taken from a consumer (after the change)
 *   error      the broker has been unreachable for requestTimeoutMs (the error names the URL), or a
 *              rebalance hook threw; emitted only when someone listens (an unheard 'error' would crash)
 *   retry      a request failed retriably and is tried again after a backoff
 *
 * BrokerHealth turns the outcome of every request into "reachable" or "unreachable since": the first failure
 * of an outage is logged as a warning, the outage is reported (event and error log) once it lasts
 * requestTimeoutMs, and the recovery is logged.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { BrokerError } from './errors.js';
import type { TopicPartition } from './types.js';

/** The subset of pino's Logger the client uses: `logger.warn({ ...fields }, 'message')`. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface RebalanceEvent {
  /** the group generation after the change */
  generation: number;
  assigned: TopicPartition[];
  revoked: TopicPartition[];
  /** true when partitions were lost rather than released (the broker no longer knew this member) */
  lost: boolean;
}

export interface RetryEvent {
  /** what failed: 'fetch', 'heartbeat', 'join', 'commit', 'produce', or a request such as 'GET /topics/t' */
  operation: string;
  /** how many attempts failed so far */
  attempt: number;
  delayMs: number;
  error: BrokerError;
}

export type ClientEventMap = {
  rebalance: [RebalanceEvent];
  error: [BrokerError];
  retry: [RetryEvent];
};

/** The default client id: host name and process id, as `groups describe` shows it. */
export function defaultClientId(): string {
  return `${hostname()}-${process.pid}`;
}

/** Emits `error` only when the application listens (EventEmitter throws an unheard one). */
export function emitError(emitter: EventEmitter<ClientEventMap>, err: BrokerError): void {
  if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
}

/** A failure that means the broker could not be reached (as opposed to an answer that refused something). */
export function isUnreachable(err: BrokerError): boolean {
  return (err.code === 'BROKER_NOT_AVAILABLE' || err.code === 'REQUEST_TIMED_OUT') && (err.details?.url !== undefined || err.details?.status === 503);
}

export class BrokerHealth {
  private downSince: number | null = null;
  private last: BrokerError | null = null;
  private reported: BrokerError | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly thresholdMs: number,
    private readonly logger: Logger,
    /** the outage lasted thresholdMs */
    private readonly onDown: (err: BrokerError) => void,
  ) {}

  /** The broker answered (whatever the answer). */
  reached(): void {
    if (this.downSince === null) return;
    if (this.reported) this.logger.info({ broker: this.url, downMs: Date.now() - this.downSince }, 'broker reachable again');
    this.downSince = null;
    this.last = this.reported = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  failed(err: BrokerError): void {
    if (!isUnreachable(err)) return this.reached();
    this.last = err;
    if (this.downSince !== null) return;
    this.downSince = Date.now();
    this.logger.warn({ broker: this.url, code: err.code, err: err.message }, 'cannot reach the broker; retrying');
    this.timer = setTimeout(() => this.report(), this.thresholdMs);
    this.timer.unref();
  }

  /** The error to give the application while the broker has been unreachable for thresholdMs, else null. */
  get unreachable(): BrokerError | null {
    return this.reported;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private report(): void {
    this.timer = null;
    if (this.downSince === null || !this.last) return;
    const last = this.last;
    this.reported = new BrokerError('BROKER_NOT_AVAILABLE', `cannot reach the broker at ${this.url} for ${Date.now() - this.downSince} ms: ${last.message}`, {
      cause: last,
      details: { url: this.url, since: this.downSince },
    });
    this.logger.error({ broker: this.url, code: last.code, err: last.message }, 'the broker is unreachable');
    this.onDown(this.reported);
  }
}
