/**
 * Produce and fetch on the partitions this broker leads, with the acknowledgement rules:
 *
 * - acks=0: the reply does not wait for the append (offsets are reported as -1).
 * - acks=1: the leader has the batch durable under its fsync policy.
 * - acks=all: every in-sync replica has it; on a single node the ISR is the leader alone, so this equals
 *   acks=1, and a topic whose minInsyncReplicas exceeds the ISR refuses with NOT_ENOUGH_REPLICAS.
 *
 * The high watermark advances when an append is durable (single node: the ISR is {leader}); consumers read
 * only below it. Fetches at the high watermark wait (long polling) for it to move, woken by the log's
 * high-watermark listener, never by a polling loop.
 */
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import { BrokerError } from '../log/errors.js';
import type { BatchAppendInfo, PartitionLog, ReadResult } from '../log/partition-log.js';
import { batchSize, hasProducerId, readBatchHeader } from '../log/record-batch.js';
import { decodeRecords, splitBatchFrames } from '../log/batch-decoder.js';
import { checkIncomingRecords, checkInflatedBounds, effectiveInflationLimits, type InflationSettings } from '../log/batch-inflation.js';
import { Serial } from '../log/serial.js';
import type { ProducerSessions, ProducerStamp } from './producer-sessions.js';
import { INTERNAL_TOPIC_PREFIX, type TopicManager } from './topic-manager.js';
import type { TopicConfig } from './topic-config.js';

export type Acks = '0' | '1' | 'all';

export interface ProduceOptions {
  acks: Acks;
  timeoutMs: number;
}

export interface FetchOptions {
  maxBytes: number;
  maxWaitMs: number;
  /** aborted when the client goes away: a long poll stops waiting */
  signal?: AbortSignal;
}

export interface FetchManyRequest {
  topic: string;
  partition: number;
  offset: number;
}

export interface FetchManyOptions {
  maxWaitMs: number;
  /** all partitions together (the first partition with data gets one whole batch even when it is larger) */
  maxBytes: number;
  maxBytesPerPartition: number;
  signal?: AbortSignal;
}

export type FetchManyEntry = { topic: string; partition: number } & ({ result: FetchResult } | { error: BrokerError });

const EMPTY = Buffer.alloc(0);

export interface FetchResult extends ReadResult {
  highWatermark: number;
  logStartOffset: number;
}

function refuseInternal(topic: string): void {
  if (topic.startsWith(INTERNAL_TOPIC_PREFIX)) {
    throw new BrokerError('INVALID_REQUEST', `${topic} is an internal topic: the broker writes it, clients only read it`);
  }
}

/** Size of the in-sync replica set of a partition (always 1 until replication arrives). */
const LOCAL_ISR_SIZE = 1;
const NO_OFFSET = -1;

export class ReplicaManager {
  private waiting = 0;
  private closing = false;
  private readonly wakeOnClose = new Set<() => void>();
  /** Per partition log: binary produce requests enter the log in arrival order, whatever their checks cost. */
  private readonly admissions = new WeakMap<PartitionLog, Serial>();

  constructor(
    private readonly topics: TopicManager,
    private readonly producers: ProducerSessions,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly inflation: InflationSettings,
  ) {}

  /** Idempotent JSON producer sessions held now. */
  get producerSessions(): number {
    return this.producers.size;
  }

  /** Long-poll fetches waiting right now (metrics). */
  get waitingFetches(): number {
    return this.waiting;
  }

  /** Fencing checks of an idempotent producer against the registry. */
  checkProducer(producerId: number, producerEpoch: number): void {
    this.producers.checkRegistered(producerId, producerEpoch);
  }

  private checkAcks(topic: string, config: TopicConfig, acks: Acks): void {
    if (acks !== 'all') return;
    const min = config.minInsyncReplicas;
    if (LOCAL_ISR_SIZE < min) {
      throw new BrokerError('NOT_ENOUGH_REPLICAS', `topic ${topic} needs ${min} in-sync replicas for acks=all, has ${LOCAL_ISR_SIZE}`, {
        details: { minInsyncReplicas: min, isr: LOCAL_ISR_SIZE },
      });
    }
  }

  /**
   * Appends client-built batches (the binary path) to one partition. Batches with a producer id get Kafka's
   * per-partition sequence rules; the producer id must have been issued here.
   */
  async produceBatches(topic: string, partition: number, data: Buffer, options: ProduceOptions): Promise<BatchAppendInfo[]> {
    refuseInternal(topic);
    const log = this.topics.partitionLog(topic, partition);
    const config = this.topics.configOf(this.topics.topic(topic));
    this.checkAcks(topic, config, options.acks);
    // Sizes, timestamps, producer ids and what the batches may inflate to first (headers and LZ4 frame
    // structure only): an oversized batch or a decompression bomb is refused before anything is inflated.
    // Then the records, checked without blocking the event loop (batch-inflation.ts).
    const batches = splitBatchFrames(data);
    this.checkBatches(config, batches);
    const limits = effectiveInflationLimits(this.inflation, config.maxMessageBytes);
    const bounds = checkInflatedBounds(data, batches, limits);
    let admission = this.admissions.get(log);
    if (!admission) this.admissions.set(log, (admission = new Serial()));
    // The append starts inside the queue (so in arrival order) but is awaited outside it: durability of one
    // request does not hold up the checks of the next (group commit).
    const { appended } = await admission.run(async () => {
      await checkIncomingRecords(data, batches, bounds, limits);
      return { appended: this.appendAndAcknowledge(log, data, options, { checkSequences: true, trusted: true }, batches.length) };
    });
    return appended;
  }

  private checkBatches(config: TopicConfig, batches: { at: number; header: ReturnType<typeof readBatchHeader> }[]): void {
    const latest = this.clock.now() + config.messageTimestampAfterMaxMs;
    for (const { header } of batches) {
      if (header.attributes & 0x30) {
        throw new BrokerError('CORRUPT_MESSAGE', 'transactional and control batches are not supported');
      }
      if (batchSize(header) > config.maxMessageBytes) {
        throw new BrokerError('RECORD_TOO_LARGE', `record batch of ${batchSize(header)} bytes exceeds maxMessageBytes ${config.maxMessageBytes}`, {
          details: { maxMessageBytes: config.maxMessageBytes },
        });
      }
      if (header.maxTimestamp > latest) {
        throw new BrokerError('INVALID_TIMESTAMP', `timestamp ${header.maxTimestamp} is more than ${config.messageTimestampAfterMaxMs} ms in the future`, {
          details: { maxTimestamp: header.maxTimestamp, messageTimestampAfterMaxMs: config.messageTimestampAfterMaxMs },
        });
      }
      if (hasProducerId(header)) this.producers.checkRegistered(header.producerId, header.producerEpoch);
    }
  }

  /**
   * Appends one broker-built batch per partition (the JSON path). With a producer stamp the request is
   * idempotent: a retry gets the original offsets and record timestamps (`duplicate`), also after a restart.
   * Returns, in the order of `batches`, each batch's base offset and, for duplicates, the stored timestamps.
   */
  async produceRecordBatches(
    topic: string,
    batches: { partition: number; data: Buffer }[],
    options: ProduceOptions,
    producer: ProducerStamp | null,
  ): Promise<{ appended: { baseOffset: number; timestamps: number[] | null }[]; duplicate: boolean }> {
    refuseInternal(topic);
    const logs = batches.map((b) => this.topics.partitionLog(topic, b.partition));
    this.checkAcks(topic, this.topics.configOf(this.topics.topic(topic)), options.acks);
    const append = (i: number, checkSequences: boolean, track?: (append: Promise<unknown>) => void) =>
      this.appendAndAcknowledge(logs[i]!, batches[i]!.data, options, { trusted: true, checkSequences }, 1, track).then((r) => ({
        baseOffset: r[0]?.baseOffset ?? NO_OFFSET,
        timestamps: null,
      }));
    if (!producer) {
      return { appended: await Promise.all(batches.map((_, i) => append(i, true))), duplicate: false };
    }
    return this.producers.run(producer, logs, async (plans, track) => {
      const appended = await Promise.all(
        plans.map((plan, i) =>
          plan.kind === 'duplicate' ? this.storedBatch(logs[i]!, plan.batch.firstOffset) : append(i, false, track),
        ),
      );
      return { appended, duplicate: plans.every((p) => p.kind === 'duplicate') };
    });
  }

  /** The base offset and record timestamps of the stored batch at `offset` (to answer a duplicate). */
  private async storedBatch(log: PartitionLog, offset: number): Promise<{ baseOffset: number; timestamps: number[] }> {
    const { bytes } = await log.read(offset, { maxBytes: 1, maxOffset: log.logEndOffset });
    const header = readBatchHeader(bytes, 0);
    return { baseOffset: header.baseOffset, timestamps: decodeRecords(bytes.subarray(0, batchSize(header)), header).map((r) => r.timestamp) };
  }

  private async appendAndAcknowledge(
    log: PartitionLog,
    data: Buffer,
    options: ProduceOptions,
    appendOptions: { trusted?: boolean; checkSequences?: boolean },
    batchCount: number,
    track?: (append: Promise<unknown>) => void,
  ): Promise<BatchAppendInfo[]> {
    const appended = log.append(data, appendOptions).then((result) => {
      const end = Math.max(...result.batches.map((b) => b.lastOffset)) + 1;
      if (end > log.highWatermark) log.setHighWatermark(end);
      return result.batches;
    });
    track?.(appended);
    if (options.acks === '0') {
      appended.catch((err) => this.events.warn({ partition: log.name, err }, 'an acks=0 append failed (the producer was not told)'));
      return Array.from({ length: batchCount }, () => ({ baseOffset: NO_OFFSET, lastOffset: NO_OFFSET, maxTimestamp: NO_OFFSET, duplicate: false }));
    }
    return this.withTimeout(appended, options.timeoutMs, log.name);
  }

  private withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.clock.setTimer(timeoutMs, () =>
        reject(new BrokerError('REQUEST_TIMED_OUT', `${what}: not acknowledged within ${timeoutMs} ms (the append may still complete)`)),
      );
      work.then(
        (v) => {
          cancel();
          resolve(v);
        },
        (err) => {
          cancel();
          reject(err);
        },
      );
    });
  }

  /**
   * Reads whole batches from `offset` below the high watermark. At the high watermark with maxWaitMs > 0
   * the call waits until the high watermark moves, the time passes, or the broker shuts down.
   */
  async fetch(topic: string, partition: number, offset: number, options: FetchOptions): Promise<FetchResult> {
    let log = this.topics.partitionLog(topic, partition);
    if (offset === log.highWatermark && options.maxWaitMs > 0 && !this.closing) {
      await this.waitForData(log, offset, options.maxWaitMs, options.signal);
      // The topic may have been deleted (or deleted and created again) while the fetch waited.
      log = this.topics.partitionLog(topic, partition);
    }
    const result = await log.read(offset, { maxBytes: options.maxBytes });
    return { ...result, highWatermark: log.highWatermark, logStartOffset: log.logStartOffset };
  }

  private waitForData(log: PartitionLog, offset: number, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.waitForAny([{ log, offset }], maxWaitMs, signal);
  }

  /**
   * Resolves when the high watermark of any of the logs passes its offset (or the log closes), when
   * `maxWaitMs` passes, when `signal` aborts, or at shutdown. Woken by the logs' listeners, never by polling.
   */
  private waitForAny(watched: { log: PartitionLog; offset: number }[], maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      this.waiting++;
      let finished = false;
      const unsubscribes: (() => void)[] = [];
      const done = () => {
        if (finished) return;
        finished = true;
        for (const unsubscribe of unsubscribes) unsubscribe();
        cancelTimer();
        signal?.removeEventListener('abort', done);
        this.wakeOnClose.delete(done);
        this.waiting--;
        resolve();
      };
      signal?.addEventListener('abort', done);
      for (const { log, offset } of watched) {
        unsubscribes.push(
          log.onHighWatermarkChange(() => {
            if (log.highWatermark > offset || log.isClosed) done();
          }),
        );
      }
      const cancelTimer = this.clock.setTimer(maxWaitMs, done);
      this.wakeOnClose.add(done);
    });
  }

  /**
   * Fetches from many partitions with one long poll (the multi-partition fetch): answers at once when any
   * partition has records or an error, else waits until any of them gets records (or `maxWaitMs`). Each
   * partition gets at most `maxBytesPerPartition` and all together at most `maxBytes`, except that the first
   * partition with data always gets one whole batch (so a reader makes progress, as Kafka's fetch does).
   * Per-partition errors are answered in their place and do not fail the others.
   */
  async fetchMany(requests: readonly FetchManyRequest[], options: FetchManyOptions): Promise<FetchManyEntry[]> {
    const seen = new Set<string>();
    for (const r of requests) {
      const key = `${r.topic}\u0000${r.partition}`;
      if (seen.has(key)) throw new BrokerError('INVALID_REQUEST', `partition ${r.topic}-${r.partition} is named twice`);
      seen.add(key);
    }
    let entries = await this.readMany(requests, options);
    if (options.maxWaitMs > 0 && !this.closing && entries.every((e) => 'result' in e && e.result.bytes.length === 0)) {
      const watched = entries.flatMap((e, i) => (e.log ? [{ log: e.log, offset: requests[i]!.offset }] : []));
      await this.waitForAny(watched, options.maxWaitMs, options.signal);
      // Look the partitions up again: a topic may have been deleted (or created again) during the wait.
      entries = await this.readMany(requests, options);
    }
    return entries.map(({ log: _log, ...entry }) => entry);
  }

  private async readMany(requests: readonly FetchManyRequest[], options: FetchManyOptions): Promise<(FetchManyEntry & { log?: PartitionLog })[]> {
    let remaining = options.maxBytes;
    const out: (FetchManyEntry & { log?: PartitionLog })[] = [];
    for (const { topic, partition, offset } of requests) {
      try {
        const log = this.topics.partitionLog(topic, partition);
        const maxBytes = Math.max(1, Math.min(options.maxBytesPerPartition, remaining));
        let read: ReadResult = offset === log.highWatermark ? { bytes: EMPTY, nextOffset: offset } : await log.read(offset, { maxBytes });
        // Only the first partition with data may pass the total (one whole batch); later ones wait their turn.
        if (read.bytes.length > remaining && remaining < options.maxBytes) read = { bytes: EMPTY, nextOffset: offset };
        remaining -= read.bytes.length;
        out.push({ topic, partition, log, result: { ...read, highWatermark: log.highWatermark, logStartOffset: log.logStartOffset } });
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        out.push({ topic, partition, error: err });
      }
    }
    return out;
  }

  /** First offset with timestamp >= `timestamp`; `earliest`/`latest` give the log start / high watermark. */
  async listOffset(topic: string, partition: number, at: number | 'earliest' | 'latest'): Promise<{ offset: number; timestamp: number | null }> {
    const log = this.topics.partitionLog(topic, partition);
    if (at === 'earliest') return { offset: log.logStartOffset, timestamp: null };
    if (at === 'latest') return { offset: log.highWatermark, timestamp: null };
    const found = await log.offsetForTimestamp(at);
    return found ?? { offset: log.highWatermark, timestamp: null };
  }

  /** Wakes every waiting fetch (shutdown). */
  close(): void {
    this.closing = true;
    for (const wake of [...this.wakeOnClose]) wake();
  }
}
