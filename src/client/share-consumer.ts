/**
 * ShareConsumer: a receiver of a share group (queue semantics, docs/queues.md). Each record it gets is leased
 * to it alone until it acks (accept), releases or rejects it, or the lease times out; then another receiver
 * may get it. Any number of ShareConsumers, in any number of processes, share the same partitions.
 *
 *   for await (const m of consumer) { await handle(m); }   // accepted after the body ran (autoAccept)
 *
 * Acks from one turn of the event loop go to the broker in one request (receipts of many records), and the
 * next receive waits for them, so a loop over a batch of 100 costs one receive and one ack request. With
 * `extendLeases`, held messages get their lease extended in the background (for handlers slower than the
 * visibility timeout). Leaving the loop, or close(), sends the acks still queued and releases the messages
 * received but not handed out, so other receivers get them at once.
 */
import { EventEmitter } from 'node:events';
import { asBrokerError, errorFromResponse, invalidOption, type BrokerError } from './errors.js';
import { defaultClientId, emitError, silentLogger, type ClientEventMap, type Logger } from './events.js';
import { RECORD_BATCH_MEDIA_TYPE, connectionOf, segment, type ConnectionOptions } from './http.js';
import { Brokers } from './brokers.js';
import { decodeShareFrames } from '../common/share-frames.js';
import { boolOption, intOption } from './options.js';
import { backoffMs, sleep, withRetries } from './retry.js';
import { ShareMessage, type LeaseOwner, type ShareAckType } from './share-message.js';

export interface ShareConsumerOptions extends ConnectionOptions {
  /** The broker URL, or several (a list or a comma-separated string): any of them bootstraps. */
  broker: string | readonly string[];
  group: string;
  topics: string[];
  /** records per receive (1..10,000; default 100) */
  maxRecords?: number;
  /** how long a receive waits for records (default 5,000; long polling) */
  maxWaitMs?: number;
  /** lease length for this receiver's records (default: the group's visibilityTimeoutMs) */
  visibilityTimeoutMs?: number;
  /** accept a message handed out by the iterator once the loop asks for the next one, unless settled (default true) */
  autoAccept?: boolean;
  /** extend the leases of held messages in the background, every third of the lease (default false) */
  extendLeases?: boolean;
  requestTimeoutMs?: number;
  /** how long retriable failures (a broker restarting) are retried before an error is thrown (default 30,000) */
  retryTimeoutMs?: number;
  clientId?: string;
  logger?: Logger;
}

interface PendingAck {
  message: ShareMessage;
  type: ShareAckType;
  resolve: () => void;
  reject: (err: BrokerError) => void;
}

const GROUP_VISIBILITY_DEFAULT_MS = 30_000;

export class ShareConsumer extends EventEmitter<ClientEventMap> implements LeaseOwner, AsyncIterable<ShareMessage> {
  readonly group: string;
  private readonly http: Brokers;
  private readonly topics: string[];
  private readonly maxRecords: number;
  private readonly maxWaitMs: number;
  private readonly visibilityTimeoutMs: number | undefined;
  private readonly autoAccept: boolean;
  private readonly retryTimeoutMs: number;
  private readonly logger: Logger;
  private readonly buffered: ShareMessage[] = [];
  /** handed out by the iterator or receive() and not settled */
  private readonly held = new Set<ShareMessage>();
  private lastYielded: ShareMessage | null = null;
  private queue: PendingAck[] = [];
  private flushing: Promise<void> | null = null;
  private flushScheduled = false;
  private readonly abort = new AbortController();
  private extender: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: ShareConsumerOptions) {
    super();
    if (typeof options.group !== 'string' || options.group.length === 0) throw invalidOption('group is required');
    if (!Array.isArray(options.topics) || options.topics.length === 0) throw invalidOption('topics must name at least one topic');
    this.group = options.group;
    this.topics = [...options.topics];
    this.maxRecords = intOption(options, 'maxRecords', 100, 1, 10_000);
    this.maxWaitMs = intOption(options, 'maxWaitMs', 5_000, 0, 3_600_000);
    this.visibilityTimeoutMs = options.visibilityTimeoutMs === undefined ? undefined : intOption(options, 'visibilityTimeoutMs', 0, 100, 43_200_000);
    this.autoAccept = boolOption(options, 'autoAccept', true);
    this.retryTimeoutMs = intOption(options, 'retryTimeoutMs', 30_000, 0);
    this.logger = options.logger ?? silentLogger;
    const requestTimeoutMs = intOption(options, 'requestTimeoutMs', 30_000, 1);
    this.http = new Brokers(options.broker, { connections: 4, requestTimeoutMs: Math.max(requestTimeoutMs, this.maxWaitMs + 5_000), clientId: options.clientId ?? defaultClientId(), ...connectionOf(options) });
    if (boolOption(options, 'extendLeases', false)) {
      const every = Math.max(50, Math.floor((this.visibilityTimeoutMs ?? GROUP_VISIBILITY_DEFAULT_MS) / 3));
      this.extender = setInterval(() => void this.extendHeld(), every);
      this.extender.unref();
    }
  }

  /**
   * One receive: up to maxRecords leased records, waiting up to maxWaitMs for some (an empty array after
   * that). Queued acks are sent first. Retriable failures are retried up to retryTimeoutMs.
   */
  async receive(options: { maxRecords?: number; maxWaitMs?: number } = {}): Promise<ShareMessage[]> {
    await this.flush();
    const body = {
      topics: this.topics,
      maxRecords: options.maxRecords ?? this.maxRecords,
      maxWaitMs: options.maxWaitMs ?? this.maxWaitMs,
      ...(this.visibilityTimeoutMs !== undefined ? { visibilityTimeoutMs: this.visibilityTimeoutMs } : {}),
    };
    // The binary reply: values as raw bytes in record batches (src/common/share-frames.ts).
    const reply = await withRetries(
      () => this.http.request('POST', `/share-groups/${segment(this.group)}/receive`, { json: body, accept: RECORD_BATCH_MEDIA_TYPE, signal: this.abort.signal }),
      Date.now() + this.retryTimeoutMs,
      { retryBackoffMs: 100, retryBackoffMaxMs: 1_000, onRetry: (e) => this.emit('retry', e) },
      this.abort.signal,
      'share receive',
    );
    const messages = decodeShareFrames(reply.body).map(
      (l) => new ShareMessage({ topic: l.topic, partition: l.partition, offset: l.record.offset, timestamp: l.record.timestamp, key: l.record.key, value: l.record.value, headers: Object.fromEntries(l.record.headers.map((h) => [h.key, h.value])), headerList: l.record.headers, deliveryCount: l.deliveryCount, receipt: l.receipt }, this),
    );
    for (const m of messages) this.held.add(m);
    return messages;
  }

  [Symbol.asyncIterator](): AsyncIterator<ShareMessage, undefined> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  private async next(): Promise<IteratorResult<ShareMessage, undefined>> {
    const previous = this.lastYielded;
    this.lastYielded = null;
    if (previous && !previous.settledAs && this.autoAccept) previous.ack().catch((err: BrokerError) => this.ackFailed(previous, err));
    for (let attempt = 0; this.buffered.length === 0; ) {
      if (this.closed) return { value: undefined, done: true };
      try {
        this.buffered.push(...(await this.receive()));
        attempt = 0;
      } catch (err) {
        if (this.closed) return { value: undefined, done: true };
        const error = asBrokerError(err);
        if (!error.retriable) throw error;
        emitError(this, error);
        await sleep(backoffMs(attempt++, { retryBackoffMs: 100, retryBackoffMaxMs: 2_000 }), this.abort.signal);
      }
    }
    const message = this.buffered.shift()!;
    this.lastYielded = message;
    return { value: message, done: false };
  }

  private ackFailed(message: ShareMessage, err: BrokerError): void {
    this.logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, code: err.code }, 'auto-accept failed; the record will be delivered again');
    emitError(this, err);
  }

  /** LeaseOwner: queues the ack; acks of one turn of the event loop go in one request. */
  settle(message: ShareMessage, type: ShareAckType): Promise<void> {
    this.held.delete(message);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ message, type, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          void this.flush();
        });
      }
    });
  }

  /** Sends every queued ack; resolves when the broker has answered them all. */
  async flush(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const batch = this.queue.splice(0, 10_000);
      this.flushing = this.sendAcks(batch).finally(() => (this.flushing = null));
    }
  }

  private async sendAcks(batch: PendingAck[]): Promise<void> {
    try {
      const reply = await withRetries(
        () =>
          this.http.json<{ results: ItemResultWire[] }>('POST', `/share-groups/${segment(this.group)}/acks`, {
            json: { acks: batch.map((a) => ({ receipt: a.message.receipt, type: a.type })) },
          }),
        Date.now() + this.retryTimeoutMs,
        { retryBackoffMs: 100, retryBackoffMaxMs: 1_000, onRetry: (e) => this.emit('retry', e) },
        undefined,
        'share acks',
      );
      batch.forEach((a, i) => {
        const result = reply.results[i];
        if (result?.ok) a.resolve();
        else a.reject(asBrokerError(itemError(result)));
      });
    } catch (err) {
      for (const a of batch) a.reject(asBrokerError(err));
    }
  }

  /** LeaseOwner: extends leases (one request). */
  async extend(messages: ShareMessage[], visibilityTimeoutMs: number): Promise<(BrokerError | null)[]> {
    const reply = await this.http.json<{ results: ItemResultWire[] }>('POST', `/share-groups/${segment(this.group)}/visibility`, {
      json: { receipts: messages.map((m) => m.receipt), visibilityTimeoutMs },
    });
    return reply.results.map((r) => (r.ok ? null : itemError(r)));
  }

  private async extendHeld(): Promise<void> {
    const messages = [...this.held].filter((m) => !m.settledAs);
    if (messages.length === 0 || this.closed) return;
    try {
      const results = await this.extend(messages, this.visibilityTimeoutMs ?? GROUP_VISIBILITY_DEFAULT_MS);
      results.forEach((err, i) => {
        if (err && err.code === 'RECEIPT_EXPIRED') this.held.delete(messages[i]!);
      });
    } catch (err) {
      this.logger.warn({ err }, 'extending leases failed');
    }
  }

  /**
   * Sends the queued acks, releases what was received but not handed out (and, with autoAccept, accepts the
   * message the loop was working on), and closes the connection pool.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const last = this.lastYielded;
    this.lastYielded = null;
    if (last && !last.settledAs && this.autoAccept) last.ack().catch((err: BrokerError) => this.ackFailed(last, err));
    const unread = this.buffered.splice(0);
    for (const m of unread) m.release().catch(() => undefined); // their leases end anyway
    this.closed = true;
    if (this.extender) clearInterval(this.extender);
    this.abort.abort();
    await this.flush();
    await this.http.close();
  }
}

type ItemResultWire = { receipt: string; ok?: true; error?: { code: string; message: string } };

function itemError(result: ItemResultWire | undefined): BrokerError {
  const error = result?.error;
  return asBrokerError(
    error ? errorOf(error.code, error.message) : errorOf('UNKNOWN_SERVER_ERROR', 'the broker sent no result for this ack'),
  );
}

function errorOf(code: string, message: string): BrokerError {
  return errorFromResponse(code === 'INVALID_RECEIPT' ? 400 : 409, { error: { code, message } }, 'share group ack');
}
