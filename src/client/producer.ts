/**
 * Producer: accumulates records per partition into RecordBatch v2 (the shared codec), sends them on the binary
 * fast path, and retries retriable failures until `deliveryTimeoutMs` without duplicating anything.
 *
 * Idempotence (on by default): the producer takes an id from POST /producers and stamps every batch with it,
 * its epoch and a per-partition sequence. A resent batch that the broker already appended is answered with its
 * original offsets, so a retry after a lost reply, a reset connection or a broker restart appends nothing twice.
 * One request per partition is in flight, so batches stay in send order across retries.
 *
 * When a batch's fate is unknown and it can no longer be retried (its delivery timeout passed), or the broker
 * says the sequences diverged, the producer lets every request in flight settle and then takes a new producer
 * id (a new epoch when the producer has a `name`), restarting sequences at 0: later records are not refused
 * for a gap the producer cannot close. A fenced producer (INVALID_PRODUCER_EPOCH: another instance took the
 * same name) fails every pending and later send. Retries are `retry` events, a broker unreachable for
 * requestTimeoutMs an `error` event (see events.ts).
 */
import { partitionForKey } from '../common/murmur2.js';
import { encodeBatch } from '../log/record-batch.js';
import { Accumulator, deliveryTimeoutError, type Delivery, type PartitionQueue, type ProducerBatch } from './accumulator.js';
import { ByteBudget } from './byte-budget.js';
import { EventEmitter } from 'node:events';
import { BrokerError, asBrokerError, invalidArgument } from './errors.js';
import { BrokerHealth, emitError, type ClientEventMap } from './events.js';
import { connectionOf, segment } from './http.js';
import { Brokers, brokerList } from './brokers.js';
import { producerSettings, type ProducerOptions, type ProducerSettings } from './producer-options.js';
import { prepareRecord, BATCH_OVERHEAD } from './records.js';
import { backoffMs, sleep } from './retry.js';
import { TopicMetadata } from './topic-metadata.js';
import type { ProducerRecord, RecordMetadata } from './types.js';

export type { ProducerOptions } from './producer-options.js';

interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

export class Producer extends EventEmitter<ClientEventMap> {
  private readonly settings: ProducerSettings;
  private readonly health: BrokerHealth;
  private readonly http: Brokers;
  private readonly metadata: TopicMetadata;
  private readonly accumulator: Accumulator;
  private readonly budget: ByteBudget;

  private identity: ProducerIdentity | null = null;
  /** A new producer id is needed before the next request (first use, or sequences that cannot continue). */
  private needIdentity: boolean;
  private acquiringIdentity = false;
  private fatal: BrokerError | null = null;
  private closing = false;
  private closed = false;
  /** Sends that wait for metadata or buffer space; later sends queue behind them to keep their order. */
  private admitting = 0;
  private admissionChain: Promise<unknown> = Promise.resolve();
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private drainScheduled = false;
  private readonly stopping = new AbortController();

  constructor(options: ProducerOptions) {
    super();
    const settings = (this.settings = producerSettings(options));
    this.needIdentity = settings.idempotent;
    this.budget = new ByteBudget(settings.bufferBytes);
    this.health = new BrokerHealth(brokerList(options.broker).join(','), settings.requestTimeoutMs, settings.logger, (err) => emitError(this, err));
    this.http = new Brokers(options.broker, { connections: null, requestTimeoutMs: settings.requestTimeoutMs, clientId: settings.clientId, health: this.health, ...connectionOf(options) });
    this.metadata = new TopicMetadata(this.http, { ...settings.backoff, onRetry: (e) => this.emit('retry', e) });
    this.accumulator = new Accumulator({ batchBytes: settings.batchBytes, lingerMs: settings.lingerMs, deliveryTimeoutMs: settings.deliveryTimeoutMs });
  }

  /** The client id sent with every request. */
  get clientId(): string {
    return this.settings.clientId;
  }

  /** Bytes of records accepted but not yet acknowledged or failed (at most `bufferBytes`). */
  get bufferedBytes(): number {
    return this.budget.usedBytes;
  }

  /** Sends one record; resolves with its partition and offset once acknowledged. */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    try {
      const delivery = this.admitNow(record);
      if (delivery) return delivery;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(record).then((accepted) => accepted.delivery);
  }

  /** Sends several records (in order); resolves when all are acknowledged. */
  async sendAll(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    const deliveries: Promise<RecordMetadata>[] = [];
    for (const record of records) deliveries.push((await this.enqueue(record)).delivery);
    return Promise.all(deliveries);
  }

  /**
   * Accepts a record into the buffer and resolves once it is accepted (waiting while `bufferBytes` is full),
   * with `delivery` settling on acknowledgement. This is the streaming form: awaiting each enqueue bounds memory
   * while many records are in flight.
   */
  enqueue(record: ProducerRecord): Promise<{ delivery: Promise<RecordMetadata> }> {
    try {
      const delivery = this.admitNow(record);
      if (delivery) return Promise.resolve({ delivery });
    } catch (err) {
      return Promise.reject(err);
    }
    this.admitting++;
    const admitted = this.admissionChain.then(() => this.admitSlowly(record)).finally(() => this.admitting--);
    this.admissionChain = admitted.catch(() => undefined);
    return admitted;
  }

  /**
   * The fast path: admits the record at once when nothing waits before it, the topic's metadata is known and
   * the buffer has room; returns its delivery, or null to take the slow path. Throws for a bad record.
   */
  private admitNow(record: ProducerRecord): Promise<RecordMetadata> | null {
    this.checkOpen();
    if (this.admitting > 0) return null;
    const info = this.metadata.cached(record?.topic);
    if (!info) return null;
    const prepared = this.prepare(record, info);
    return this.budget.tryAcquire(prepared.size) ? this.accept(record, prepared, info.partitions) : null;
  }

  /** Sends everything buffered now (ignoring lingerMs) and resolves when all of it is settled. */
  async flush(): Promise<void> {
    await this.admissionChain;
    const pending = this.accumulator.pendingBatches();
    for (const batch of pending) batch.flushRequested = true;
    this.drainSoon();
    await Promise.all(pending.map((b) => b.settled));
  }

  /** Flushes, then releases the connections. Sends after close are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.flush();
    this.closed = true;
    this.stopping.abort();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.health.close();
    await this.http.close();
  }

  private checkOpen(): void {
    if (this.fatal) throw this.fatal;
    if (this.closing) throw invalidArgument('the producer is closed');
  }

  private prepare(record: ProducerRecord, info: { partitions: number; maxMessageBytes: number }) {
    const prepared = prepareRecord(record, Date.now());
    if (record.partition !== undefined && (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= info.partitions)) {
      throw new BrokerError('UNKNOWN_PARTITION', `topic ${record.topic} has ${info.partitions} partitions, not partition ${record.partition}`, {
        details: { topic: record.topic, partition: record.partition },
      });
    }
    const limit = Math.min(info.maxMessageBytes, this.budget.limit);
    if (prepared.size + BATCH_OVERHEAD > limit) {
      throw new BrokerError('RECORD_TOO_LARGE', `a record of about ${prepared.size} bytes does not fit maxMessageBytes/bufferBytes (${limit})`);
    }
    return prepared;
  }

  private async admitSlowly(record: ProducerRecord): Promise<{ delivery: Promise<RecordMetadata> }> {
    this.checkOpen();
    const deadline = Date.now() + this.settings.maxBlockMs;
    if (typeof record?.topic !== 'string') throw invalidArgument('record.topic must be a topic name');
    const info = await this.metadata.get(record.topic, deadline);
    const prepared = this.prepare(record, info);
    await this.budget.acquire(prepared.size, Math.max(0, deadline - Date.now()));
    try {
      this.checkOpen();
    } catch (err) {
      this.budget.release(prepared.size);
      throw err;
    }
    return { delivery: this.accept(record, prepared, info.partitions) };
  }

  /** Puts an admitted record into its partition's batch (its budget bytes are already taken). */
  private accept(record: ProducerRecord, prepared: ReturnType<typeof prepareRecord>, partitions: number): Promise<RecordMetadata> {
    const keyless = record.partition === undefined && prepared.input.key === null;
    const partition =
      record.partition ?? (prepared.input.key !== null ? partitionForKey(prepared.input.key, partitions) : this.accumulator.stickyPartition(record.topic, partitions));
    let resolve!: Delivery['resolve'];
    let reject!: Delivery['reject'];
    const promise = new Promise<RecordMetadata>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    const delivery: Delivery = { promise, resolve, reject };
    const now = Date.now();
    const { full, created } = this.accumulator.append(record.topic, partition, prepared, delivery, now, keyless);
    if (full) this.drainSoon();
    else if (created) this.wakeUpAt(now + this.settings.lingerMs);
    return promise;
  }

  private drainSoon(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private wakeUpAt(at: number): void {
    if (at >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.wakeAt = Infinity;
      this.drain();
    }, Math.max(0, at - Date.now()));
  }

  /**
   * Expires old batches, retries requests whose backoff ended, and starts a request on every free partition
   * whose head batch is ready. While a new producer id is needed no new request starts; it is taken once every
   * request (retries included) has settled, so no batch of the old id is still on its way.
   */
  private drain(): void {
    const now = Date.now();
    let next = Infinity;
    let unsettled = false;
    let queued = false;
    for (const queue of this.accumulator.queuesWithWork()) {
      this.expireQueued(queue, now);
      const head = queue.batches[0];
      if (head) queued = true;
      if (queue.inFlight) {
        unsettled = true;
        if (queue.requesting) continue;
        if (queue.retryAt > now) next = Math.min(next, queue.retryAt);
        else this.startRequest(queue, queue.inFlight);
      } else if (head && !this.needIdentity && this.accumulator.headReady(queue, now, this.closing)) {
        this.startRequest(queue, this.takeRequest(queue));
      } else if (head) {
        next = Math.min(next, head.deadline, this.needIdentity ? Infinity : head.createdAt + this.settings.lingerMs);
      }
    }
    if (this.needIdentity && !unsettled && queued) void this.renewIdentity();
    if (next < Infinity) this.wakeUpAt(next);
  }

  /** Batches still waiting to be sent whose delivery timeout passed fail; they hold no sequence yet. */
  private expireQueued(queue: PartitionQueue, now: number): void {
    while (queue.batches[0] && queue.batches[0].deadline <= now) {
      const batch = queue.batches.shift()!;
      this.settle(batch, deliveryTimeoutError(batch, this.settings.deliveryTimeoutMs, null));
    }
  }

  private takeRequest(queue: PartitionQueue): ProducerBatch[] {
    const taken: ProducerBatch[] = [];
    let bytes = 0;
    while (queue.batches[0] && taken.length < this.settings.maxBatchesPerRequest && (taken.length === 0 || bytes + queue.batches[0].bytes <= this.settings.maxRequestBytes)) {
      const batch = queue.batches.shift()!;
      bytes += batch.bytes;
      taken.push(batch);
    }
    this.accumulator.moveSticky(queue.topic, queue.partition);
    queue.inFlight = taken;
    queue.attempts = 0;
    return taken;
  }

  private startRequest(queue: PartitionQueue, batches: ProducerBatch[]): void {
    queue.requesting = true;
    void this.sendRequest(queue, batches).finally(() => {
      queue.requesting = false;
      this.drainSoon();
    });
  }

  private encode(queue: PartitionQueue, batch: ProducerBatch): Buffer {
    if (batch.encoded) return batch.encoded;
    const stamp = this.settings.idempotent && this.identity ? { producerId: this.identity.producerId, producerEpoch: this.identity.producerEpoch, baseSequence: queue.nextSequence } : {};
    if (this.settings.idempotent) {
      batch.baseSequence = queue.nextSequence;
      queue.nextSequence = (queue.nextSequence + batch.records.length) % 0x80000000;
    }
    batch.encoded = encodeBatch({ records: batch.records, compression: this.settings.compression, ...stamp });
    return batch.encoded;
  }

  private async sendRequest(queue: PartitionQueue, batches: ProducerBatch[]): Promise<void> {
    const encoded = batches.map((b) => this.encode(queue, b));
    let reply: { batches: { baseOffset: number; lastOffset: number }[] };
    try {
      reply = await this.http.json('POST', `/topics/${segment(queue.topic)}/partitions/${queue.partition}/batches`, {
        route: { topic: queue.topic, partition: queue.partition },
        batches: encoded.length === 1 ? encoded[0]! : Buffer.concat(encoded),
        query: { acks: this.settings.acks, timeoutMs: this.settings.requestTimeoutMs },
        timeoutMs: this.settings.requestTimeoutMs + 5_000,
        signal: this.fatal ? AbortSignal.abort() : undefined,
      });
    } catch (err) {
      this.requestFailed(queue, batches, err);
      return;
    }
    queue.inFlight = null;
    for (let i = 0; i < batches.length; i++) this.settle(batches[i]!, null, reply.batches[i]?.baseOffset ?? -1);
  }

  private requestFailed(queue: PartitionQueue, batches: ProducerBatch[], err: unknown): void {
    const error = asBrokerError(err);
    const now = Date.now();
    if (this.fatal) return this.failRequest(queue, batches, this.fatal);
    if (error.retriable && !this.closed) {
      if (batches.every((b) => b.deadline > now)) {
        const delayMs = backoffMs(queue.attempts++, this.settings.backoff);
        queue.retryAt = now + delayMs;
        this.retried(`produce ${queue.topic}/${queue.partition}`, queue.attempts, delayMs, error);
        return;
      }
      // Their fate is unknown and they cannot be retried any longer: the sequences may have a gap now.
      this.failRequest(queue, batches, deliveryTimeoutError(batches[0]!, this.settings.deliveryTimeoutMs, error));
      if (this.settings.idempotent) this.needIdentity = true;
      return;
    }
    if (error.code === 'INVALID_PRODUCER_EPOCH') return this.fence(error);
    if (error.code === 'UNKNOWN_TOPIC' || error.code === 'UNKNOWN_PARTITION') this.metadata.invalidate(queue.topic);
    this.failRequest(queue, batches, error);
    // After UNKNOWN_SERVER_ERROR (a broker bug) the batches may or may not be in the log: a new identity.
    if (error.code === 'OUT_OF_ORDER_SEQUENCE' || error.code === 'UNKNOWN_PRODUCER_ID' || error.code === 'UNKNOWN_SERVER_ERROR') {
      if (this.settings.idempotent) this.needIdentity = true;
    } else if (this.settings.idempotent && batches[0]!.baseSequence >= 0) {
      // Refused whole (a 4xx): nothing was appended, so the sequences are free again.
      queue.nextSequence = batches[0]!.baseSequence;
    }
  }

  private failRequest(queue: PartitionQueue, batches: ProducerBatch[], err: BrokerError): void {
    queue.inFlight = null;
    for (const batch of batches) this.settle(batch, err);
  }

  private settle(batch: ProducerBatch, err: BrokerError | null, baseOffset = -1): void {
    this.budget.release(batch.budgetBytes);
    if (err) batch.fail(err);
    else batch.complete(baseOffset);
  }

  /** Takes a (new) producer id once no request is in flight; sequences start again at 0 on every partition. */
  private async renewIdentity(): Promise<void> {
    if (this.acquiringIdentity) return;
    this.acquiringIdentity = true;
    try {
      for (let attempt = 0; !this.closed && !this.fatal; attempt++) {
        try {
          this.identity = await this.http.json<ProducerIdentity>('POST', '/producers', { json: this.settings.name ? { name: this.settings.name } : {} });
          for (const queue of this.accumulator.allQueues()) queue.nextSequence = 0;
          this.needIdentity = false;
          return;
        } catch (err) {
          if (!(err instanceof BrokerError) || !err.retriable) return this.fence(asBrokerError(err));
          this.expireAll(); // fail what waited too long meanwhile
          const delayMs = backoffMs(attempt, this.settings.backoff);
          this.retried('POST /producers', attempt + 1, delayMs, err);
          await sleep(delayMs, this.stopping.signal);
        }
      }
    } finally {
      this.acquiringIdentity = false;
      this.drainSoon();
    }
  }

  private expireAll(): void {
    const now = Date.now();
    for (const queue of this.accumulator.queuesWithWork()) this.expireQueued(queue, now);
  }

  private retried(operation: string, attempt: number, delayMs: number, error: BrokerError): void {
    this.settings.logger.debug({ operation, attempt, delayMs, code: error.code, err: error.message }, 'retrying');
    this.emit('retry', { operation, attempt, delayMs, error });
  }

  /** A fatal error: everything pending and every later send fails with it. */
  private fence(err: BrokerError): void {
    if (!this.fatal) {
      this.fatal = err;
      this.settings.logger.error({ code: err.code, err: err.message }, 'producer failed; every pending and later send fails');
    }
    for (const queue of this.accumulator.queuesWithWork()) {
      for (const batch of queue.batches.splice(0)) this.settle(batch, this.fatal);
      if (queue.inFlight && !queue.requesting) this.failRequest(queue, queue.inFlight, this.fatal);
    }
    this.budget.rejectAll(this.fatal);
  }
}
