/**
 * Produce on the partitions this broker leads, with the acknowledgement rules:
 *
 * - acks=0: the reply does not wait for the append (offsets are reported as -1).
 * - acks=1: the leader has the batch durable under its fsync policy.
 * - acks=all: every in-sync replica has it: a delayed produce that completes when the partition's high
 *   watermark reaches the batch's end (Partition.awaitHighWatermark); on a single node the ISR is the leader
 *   alone, so this equals acks=1. An ISR smaller than minInsyncReplicas refuses with NOT_ENOUGH_REPLICAS.
 *
 * The Partition owns the high watermark and moves it; fetching is fetch-manager.ts.
 */
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import { BrokerError } from '../common/errors.js';
import type { BatchAppendInfo } from '../log/partition-log.js';
import type { Partition, PartitionDirectory } from './partition.js';
import { assignBaseSequence, batchSize, hasProducerId, readBatchHeader } from '../log/record-batch.js';
import { nextSequence } from '../log/producer-state.js';
import { requestProducerId } from '../log/request-tag.js';
import { decodeRecords, splitBatchFrames } from '../log/batch-decoder.js';
import { checkIncomingRecords, checkInflatedBounds, effectiveInflationLimits, type InflationSettings } from '../log/batch-inflation.js';
import { Serial } from '../log/serial.js';
import { outOfOrder, type ProducerSessions, type ProducerStamp } from './producer-sessions.js';
import { INTERNAL_TOPIC_PREFIX } from '../common/topic-names.js';
import type { TopicConfig } from './topic-config.js';

export type Acks = '0' | '1' | 'all';

export interface ProduceOptions {
  acks: Acks;
  timeoutMs: number;
}

function refuseInternal(topic: string): void {
  if (topic.startsWith(INTERNAL_TOPIC_PREFIX)) {
    throw new BrokerError('INVALID_REQUEST', `${topic} is an internal topic: the broker writes it, clients only read it`);
  }
}

const NO_OFFSET = -1;

/** Which JSON request a partition's batch belongs to, and whether its producer's session found it new. */
export type RequestStamp = ProducerStamp & { next: boolean };

export interface RequestBatchResult {
  baseOffset: number;
  /** a duplicate's stored record timestamps; null for a new append (the request's own timestamps hold) */
  timestamps: number[] | null;
  duplicate: boolean;
}

export class ReplicaManager {
  /** Per partition: binary produce requests enter the log in arrival order, whatever their checks cost. */
  private readonly admissions = new WeakMap<Partition, Serial>();

  constructor(
    private readonly topics: PartitionDirectory,
    private readonly producers: ProducerSessions,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly inflation: InflationSettings,
  ) {}

  /** Idempotent JSON producer sessions held now. */
  get producerSessions(): number {
    return this.producers.size;
  }

  /**
   * This broker now leads `partition` with producer state it copied as a follower: the JSON producers found
   * there are known to their sessions from now on (call after Partition.makeLeader).
   */
  becameLeader(partition: Partition): void {
    this.producers.learnPartition(partition);
  }

  /** Fencing checks of an idempotent producer against the registry. */
  checkProducer(producerId: number, producerEpoch: number): void {
    this.producers.checkRegistered(producerId, producerEpoch);
  }

  private checkAcks(partitions: Partition[], config: TopicConfig, acks: Acks): void {
    if (acks === 'all') for (const p of partitions) p.checkEnoughReplicas(config.minInsyncReplicas);
  }

  /**
   * Appends client-built batches (the binary path) to one partition. Batches with a producer id get Kafka's
   * per-partition sequence rules; the producer id must have been issued here.
   */
  async produceBatches(topic: string, partition: number, data: Buffer, options: ProduceOptions): Promise<BatchAppendInfo[]> {
    refuseInternal(topic);
    const target = this.topics.partition(topic, partition);
    const config = this.topics.topicConfig(topic);
    this.checkAcks([target], config, options.acks);
    // Sizes, timestamps, producer ids and what the batches may inflate to first (headers and LZ4 frame
    // structure only): an oversized batch or a decompression bomb is refused before anything is inflated.
    // Then the records, checked without blocking the event loop (batch-inflation.ts).
    const batches = splitBatchFrames(data);
    this.checkBatches(config, batches);
    const limits = effectiveInflationLimits(this.inflation, config.maxMessageBytes);
    const bounds = checkInflatedBounds(data, batches, limits);
    let admission = this.admissions.get(target);
    if (!admission) this.admissions.set(target, (admission = new Serial()));
    // The append starts inside the queue (so in arrival order) but is awaited outside it: durability of one
    // request does not hold up the checks of the next (group commit).
    const { appended } = await admission.run(async () => {
      await checkIncomingRecords(data, batches, bounds, limits);
      return { appended: this.appendAndAcknowledge(target, data, options, { trusted: true }, batches.length) };
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
    const partitions = batches.map((b) => this.topics.partition(topic, b.partition));
    this.checkAcks(partitions, this.topics.topicConfig(topic), options.acks);
    if (!producer) {
      const appended = await Promise.all(
        batches.map((b, i) => this.appendAndAcknowledge(partitions[i]!, b.data, options, { trusted: true }, 1).then((r) => ({ baseOffset: r[0]?.baseOffset ?? NO_OFFSET, timestamps: null }))),
      );
      return { appended, duplicate: false };
    }
    return this.producers.run(producer, partitions, async (next, track) => {
      const results = await Promise.all(batches.map((b, i) => this.appendRequestBatch(partitions[i]!, b.data, { ...producer, next }, options, track)));
      return { appended: results, duplicate: results.every((r) => r.duplicate) };
    });
  }

  /**
   * One partition's part of an idempotent JSON request, on the partition's leader (the unit a cluster
   * forwards): `data` is one batch built by json-records.ts for the request producer id, `stamp` says which
   * request it is and whether the producer's session found it to be its next one. The producer's requests
   * must reach this partition one at a time (ProducerSessions does that on the broker that took them).
   */
  produceRequestBatch(topic: string, partition: number, data: Buffer, stamp: RequestStamp, options: ProduceOptions): Promise<RequestBatchResult> {
    refuseInternal(topic);
    const target = this.topics.partition(topic, partition);
    this.checkAcks([target], this.topics.topicConfig(topic), options.acks);
    this.producers.checkRegistered(stamp.id, stamp.epoch);
    return this.appendRequestBatch(target, data, stamp, options);
  }

  /**
   * The partition's own state decides: the batch tagged with the request's sequence is there -> duplicate
   * (its stored offsets and timestamps); else a new request, or a retry of an earlier request that never
   * reached this partition while a cached older request did (a request that failed part-way) -> append with
   * this partition's next Kafka sequence; else OUT_OF_ORDER_SEQUENCE (too old to tell).
   */
  private async appendRequestBatch(
    partition: Partition,
    data: Buffer,
    stamp: RequestStamp,
    options: ProduceOptions,
    track?: (append: Promise<unknown>) => void,
  ): Promise<RequestBatchResult> {
    const entry = await partition.producerBatches(requestProducerId(stamp.id));
    const batches = entry && entry.producerEpoch === stamp.epoch ? entry.batches : [];
    const original = batches.find((b) => b.requestSequence === stamp.sequence);
    if (original) return { ...(await this.storedBatch(partition, original.firstOffset)), duplicate: true };
    if (!stamp.next) {
      const tagged = batches.filter((b) => typeof b.requestSequence === 'number').map((b) => b.requestSequence as number);
      if (tagged.length > 0 && tagged[0]! >= stamp.sequence) throw outOfOrder(stamp, tagged[tagged.length - 1]! + 1);
    }
    const last = batches[batches.length - 1];
    assignBaseSequence(data, 0, last ? nextSequence(last.lastSequence) : 0);
    const appended = await this.appendAndAcknowledge(partition, data, options, { trusted: true, requestSequence: stamp.sequence }, 1, track);
    return { baseOffset: appended[0]?.baseOffset ?? NO_OFFSET, timestamps: null, duplicate: false };
  }

  /** The base offset and record timestamps of the stored batch at `offset` (to answer a duplicate). */
  private async storedBatch(partition: Partition, offset: number): Promise<{ baseOffset: number; timestamps: number[] }> {
    const { bytes } = await partition.readUncommitted(offset, 1);
    const header = readBatchHeader(bytes, 0);
    return { baseOffset: header.baseOffset, timestamps: decodeRecords(bytes.subarray(0, batchSize(header)), header).map((r) => r.timestamp) };
  }

  private async appendAndAcknowledge(
    partition: Partition,
    data: Buffer,
    options: ProduceOptions,
    appendOptions: { trusted?: boolean; requestSequence?: number },
    batchCount: number,
    track?: (append: Promise<unknown>) => void,
  ): Promise<BatchAppendInfo[]> {
    const appended = partition.appendAsLeader(data, appendOptions);
    track?.(appended);
    if (options.acks === '0') {
      appended.catch((err) => this.events.warn({ partition: partition.name, err }, 'an acks=0 append failed (the producer was not told)'));
      return Array.from({ length: batchCount }, () => ({ baseOffset: NO_OFFSET, lastOffset: NO_OFFSET, maxTimestamp: NO_OFFSET, duplicate: false }));
    }
    const started = this.clock.now();
    const { batches, leaderEpoch } = await this.withTimeout(appended, options.timeoutMs, partition.name);
    if (options.acks === 'all') {
      const end = Math.max(...batches.map((b) => b.lastOffset)) + 1;
      await partition.awaitHighWatermark(end, Math.max(0, options.timeoutMs - (this.clock.now() - started)), leaderEpoch);
    }
    return batches;
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

  /** First offset with timestamp >= `timestamp`; `earliest`/`latest` give the log start / high watermark. */
  listOffset(topic: string, partition: number, at: number | 'earliest' | 'latest'): Promise<{ offset: number; timestamp: number | null }> {
    return this.topics.partition(topic, partition).listOffset(at);
  }
}
