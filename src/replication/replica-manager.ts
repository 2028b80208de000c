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
import { batchSize, hasProducerId, readBatchHeader } from '../log/record-batch.js';
import { decodeRecords, splitBatchFrames } from '../log/batch-decoder.js';
import { checkIncomingRecords, checkInflatedBounds, effectiveInflationLimits, type InflationSettings } from '../log/batch-inflation.js';
import { Serial } from '../log/serial.js';
import type { ProducerSessions, ProducerStamp } from './producer-sessions.js';
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
      return { appended: this.appendAndAcknowledge(target, data, options, { checkSequences: true, trusted: true }, batches.length) };
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
    const append = (i: number, checkSequences: boolean, track?: (append: Promise<unknown>) => void) =>
      this.appendAndAcknowledge(partitions[i]!, batches[i]!.data, options, { trusted: true, checkSequences }, 1, track).then((r) => ({
        baseOffset: r[0]?.baseOffset ?? NO_OFFSET,
        timestamps: null,
      }));
    if (!producer) {
      return { appended: await Promise.all(batches.map((_, i) => append(i, true))), duplicate: false };
    }
    return this.producers.run(producer, partitions, async (plans, track) => {
      const appended = await Promise.all(
        plans.map((plan, i) =>
          plan.kind === 'duplicate' ? this.storedBatch(partitions[i]!, plan.batch.firstOffset) : append(i, false, track),
        ),
      );
      return { appended, duplicate: plans.every((p) => p.kind === 'duplicate') };
    });
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
    appendOptions: { trusted?: boolean; checkSequences?: boolean },
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
