/**
 * The producer's record accumulator: per partition, a FIFO of batches being filled. A batch is ready to send
 * when it holds `batchBytes`, when a later batch exists, when it is `lingerMs` old, or when a flush asked for
 * it. Keyless records stick to one partition per topic until that partition's batch is full or sent (Kafka's
 * sticky partitioner), so they form large batches instead of many small ones.
 *
 * Invariants: a queue has at most one request in flight (`inFlight`), which keeps the batches of a partition
 * in order across retries; a batch gets its sequence and bytes the first time it is sent and keeps them until
 * it is settled, so a retry resends exactly the same bytes.
 */
import { BATCH_OVERHEAD, type PreparedRecord } from './records.js';
import type { RecordMetadata } from './types.js';
import { BrokerError } from './errors.js';

export interface Delivery {
  promise: Promise<RecordMetadata>;
  resolve: (metadata: RecordMetadata) => void;
  reject: (err: Error) => void;
}

const ignore = () => undefined;

export class ProducerBatch {
  readonly records: PreparedRecord['input'][] = [];
  readonly deliveries: Delivery[] = [];
  /** Estimated encoded size (what batchBytes counts) and the budget bytes it holds. */
  bytes = BATCH_OVERHEAD;
  budgetBytes = 0;
  /** Set by flush(): send without waiting for lingerMs. */
  flushRequested = false;
  /** Sequence of the first record once sent (idempotent producers), and the encoded bytes resent on retries. */
  baseSequence = -1;
  encoded: Buffer | null = null;
  private settle!: () => void;
  readonly settled = new Promise<void>((resolve) => (this.settle = resolve));

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdAt: number,
    /** When the oldest record's delivery timeout ends. */
    readonly deadline: number,
  ) {}

  get sent(): boolean {
    return this.encoded !== null;
  }

  add(record: PreparedRecord, delivery: Delivery): void {
    this.records.push(record.input);
    this.deliveries.push(delivery);
    this.bytes += record.size;
    this.budgetBytes += record.size;
  }

  complete(baseOffset: number): void {
    for (let i = 0; i < this.deliveries.length; i++) {
      const offset = baseOffset < 0 ? -1 : baseOffset + i;
      this.deliveries[i]!.resolve({ topic: this.topic, partition: this.partition, offset, timestamp: this.records[i]!.timestamp! });
    }
    this.settle();
  }

  fail(err: Error): void {
    for (const delivery of this.deliveries) {
      // A caller that only awaited enqueue() and dropped the delivery must not crash the process with an
      // unhandled rejection; one that awaits the delivery still gets the error.
      delivery.promise.catch(ignore);
      delivery.reject(err);
    }
    this.settle();
  }
}

/** The failure of a batch not acknowledged within deliveryTimeoutMs (with the last error that was retried). */
export function deliveryTimeoutError(batch: ProducerBatch, deliveryTimeoutMs: number, last: BrokerError | null): BrokerError {
  const why = last ? `; last error: ${last.code}: ${last.message}` : '';
  return new BrokerError('REQUEST_TIMED_OUT', `records for ${batch.topic}/${batch.partition} not acknowledged within deliveryTimeoutMs ${deliveryTimeoutMs}${why}`, {
    cause: last ?? undefined,
    details: { topic: batch.topic, partition: batch.partition },
  });
}

export class PartitionQueue {
  readonly batches: ProducerBatch[] = [];
  /** The batches of the request in flight (or waiting to be retried); null when the partition is free. */
  inFlight: ProducerBatch[] | null = null;
  /** An HTTP request for `inFlight` is under way (otherwise it waits for `retryAt`). */
  requesting = false;
  attempts = 0;
  retryAt = 0;
  /** Next sequence of an idempotent producer on this partition. */
  nextSequence = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get idle(): boolean {
    return this.inFlight === null && this.batches.length === 0;
  }
}

export interface AccumulatorOptions {
  batchBytes: number;
  lingerMs: number;
  deliveryTimeoutMs: number;
}

export class Accumulator {
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly sticky = new Map<string, number>();
  /** Queues that may have batches or a request in flight (pruned as they go idle). */
  private readonly active = new Set<PartitionQueue>();

  constructor(private readonly options: AccumulatorOptions) {}

  /** The partition for a keyless record without an explicit one. */
  stickyPartition(topic: string, partitions: number): number {
    let p = this.sticky.get(topic);
    if (p === undefined || p >= partitions) {
      p = Math.floor(Math.random() * partitions);
      this.sticky.set(topic, p);
    }
    return p;
  }

  /** Adds a record; returns its queue and whether a batch just became full (worth sending now). */
  append(topic: string, partition: number, record: PreparedRecord, delivery: Delivery, now: number, keyless: boolean): { queue: PartitionQueue; full: boolean; created: ProducerBatch | null } {
    const queue = this.queueOf(topic, partition);
    this.active.add(queue);
    let batch = queue.batches.at(-1);
    let created: ProducerBatch | null = null;
    if (!batch || batch.bytes + record.size > this.options.batchBytes) {
      batch = new ProducerBatch(topic, partition, now, now + this.options.deliveryTimeoutMs);
      queue.batches.push(batch);
      created = batch;
    }
    batch.add(record, delivery);
    const full = batch.bytes >= this.options.batchBytes || queue.batches.length > 1;
    if (full && keyless) this.moveSticky(topic, partition);
    return { queue, full, created };
  }

  /** After a partition's batch leaves, keyless records move on to another partition. */
  moveSticky(topic: string, partition: number): void {
    if (this.sticky.get(topic) === partition) this.sticky.delete(topic);
  }

  /** Whether the head batch of `queue` should be sent now. */
  headReady(queue: PartitionQueue, now: number, closing: boolean): boolean {
    const head = queue.batches[0];
    if (!head) return false;
    return closing || head.flushRequested || queue.batches.length > 1 || head.bytes >= this.options.batchBytes || now - head.createdAt >= this.options.lingerMs;
  }

  queuesWithWork(): PartitionQueue[] {
    const out: PartitionQueue[] = [];
    for (const queue of this.active) {
      if (queue.idle) this.active.delete(queue);
      else out.push(queue);
    }
    return out;
  }

  allQueues(): IterableIterator<PartitionQueue> {
    return this.queues.values();
  }

  /** Every unsettled batch (queued or in flight). */
  pendingBatches(): ProducerBatch[] {
    const out: ProducerBatch[] = [];
    for (const queue of this.active) out.push(...(queue.inFlight ?? []), ...queue.batches);
    return out;
  }

  private queueOf(topic: string, partition: number): PartitionQueue {
    const key = `${topic}\u0000${partition}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = new PartitionQueue(topic, partition);
      this.queues.set(key, queue);
    }
    return queue;
  }
}
