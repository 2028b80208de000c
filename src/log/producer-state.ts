/**
 * Idempotent-producer state of one partition: for each producer id, its current epoch and the sequence
 * ranges and offsets of its last few batches (Kafka keeps 5). This is what lets a retried batch be answered
 * with its original offsets instead of being appended twice.
 *
 * Rules for a batch carrying producerId >= 0 (checked in this order, as Kafka does):
 * - epoch older than the producer's current epoch -> INVALID_PRODUCER_EPOCH
 * - same first and last sequence as a cached batch of the current epoch -> duplicate (original offsets)
 * - newer epoch, or a producer not seen before -> the sequence must start at 0
 * - otherwise the first sequence must be the last one + 1 (wrapping at 2^31-1) -> else OUT_OF_ORDER_SEQUENCE
 *
 * The state is derived from the log (the batch headers carry producer id, epoch and sequences) and can be
 * rebuilt from it; snapshots taken at roll and clean shutdown (`<offset>.snapshot`, see producer-snapshot.ts)
 * bound how much of the log has to be read at start-up. Sequences are counted in records, as Kafka does.
 *
 * Every batch a leader appends is checked by these rules, the JSON route's too: it writes under a request
 * producer id with the next sequence and tags each batch with its request sequence (request-tag.ts), which
 * the cached batches keep (`requestSequence`) and snapshots persist.
 */
import { BrokerError } from '../common/errors.js';
import { hasProducerId, lastOffsetOf, type RecordBatchHeader } from './record-batch.js';

export const CACHED_BATCHES_PER_PRODUCER = 5;
const MAX_SEQUENCE = 0x7fffffff;

export interface ProducerBatch {
  firstSequence: number;
  lastSequence: number;
  firstOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /**
   * The JSON route's request sequence of the batch (request-tag.ts): a number when known, null for a batch
   * appended without one; absent when the state was rebuilt from batch headers (or a follower copied the
   * batch) and the tag has not been read from the batch's first record yet (producer-requests.ts).
   */
  requestSequence?: number | null;
}

export interface ProducerEntry {
  producerId: number;
  producerEpoch: number;
  /** oldest first, at most CACHED_BATCHES_PER_PRODUCER */
  batches: ProducerBatch[];
  lastTimestamp: number;
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; batch: ProducerBatch };

function lastSequenceOf(header: RecordBatchHeader): number {
  const last = header.baseSequence + header.lastOffsetDelta;
  return last > MAX_SEQUENCE ? last - MAX_SEQUENCE - 1 : last;
}

/** The sequence after `sequence` (Kafka's wrap at 2^31-1). */
export function nextSequence(sequence: number): number {
  return sequence === MAX_SEQUENCE ? 0 : sequence + 1;
}

export class ProducerStateMap {
  readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  /** The fencing rule: an epoch older than the producer's current one is refused. */
  private checkEpoch(header: RecordBatchHeader): void {
    const entry = this.get(header.producerId);
    if (entry && header.producerEpoch < entry.producerEpoch) {
      throw new BrokerError(
        'INVALID_PRODUCER_EPOCH',
        `producer ${header.producerId} epoch ${header.producerEpoch} is fenced by epoch ${entry.producerEpoch}`,
        { details: { producerId: header.producerId, producerEpoch: header.producerEpoch, currentEpoch: entry.producerEpoch } },
      );
    }
  }

  /** Checks a batch against the state; throws the contract's error or says whether to append it. */
  check(header: RecordBatchHeader): SequenceCheck {
    if (!hasProducerId(header)) return { kind: 'append' };
    this.checkEpoch(header);
    const entry = this.producers.get(header.producerId);
    const details = { producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequence: header.baseSequence };
    if (header.baseSequence < 0) {
      throw new BrokerError('OUT_OF_ORDER_SEQUENCE', `producer ${header.producerId} sent a batch without a sequence`, { details });
    }
    if (entry && header.producerEpoch === entry.producerEpoch) {
      const last = lastSequenceOf(header);
      const duplicate = entry.batches.find((b) => b.firstSequence === header.baseSequence && b.lastSequence === last);
      if (duplicate) return { kind: 'duplicate', batch: duplicate };
      const previous = entry.batches[entry.batches.length - 1];
      const expected = previous ? nextSequence(previous.lastSequence) : 0;
      if (header.baseSequence !== expected) {
        throw new BrokerError(
          'OUT_OF_ORDER_SEQUENCE',
          `producer ${header.producerId} epoch ${header.producerEpoch}: sequence ${header.baseSequence}, expected ${expected}`,
          { details: { ...details, expectedSequence: expected } },
        );
      }
      return { kind: 'append' };
    }
    if (header.baseSequence !== 0) {
      throw new BrokerError(
        'OUT_OF_ORDER_SEQUENCE',
        `producer ${header.producerId} epoch ${header.producerEpoch} must start at sequence 0, not ${header.baseSequence}`,
        { details: { ...details, expectedSequence: 0 } },
      );
    }
    return { kind: 'append' };
  }

  /**
   * Records an appended batch (also used when rebuilding from the log, where no check is made) with its
   * request sequence when the appender knows it (see ProducerBatch.requestSequence).
   */
  update(header: RecordBatchHeader, requestSequence?: number | null): void {
    if (!hasProducerId(header)) return;
    let entry = this.producers.get(header.producerId);
    if (!entry || header.producerEpoch > entry.producerEpoch) {
      entry = { producerId: header.producerId, producerEpoch: header.producerEpoch, batches: [], lastTimestamp: -1 };
      this.producers.set(header.producerId, entry);
    } else if (header.producerEpoch < entry.producerEpoch) {
      return;
    }
    const batch: ProducerBatch = {
      firstSequence: header.baseSequence,
      lastSequence: lastSequenceOf(header),
      firstOffset: header.baseOffset,
      lastOffset: lastOffsetOf(header),
      maxTimestamp: header.maxTimestamp,
    };
    if (requestSequence !== undefined) batch.requestSequence = requestSequence;
    entry.batches.push(batch);
    if (entry.batches.length > CACHED_BATCHES_PER_PRODUCER) entry.batches.shift();
    entry.lastTimestamp = Math.max(entry.lastTimestamp, header.maxTimestamp);
  }

  /**
   * Forgets producers whose newest batch timestamp is `expirationMs` or more before `now` (Kafka's
   * producer.id.expiration.ms), so the state does not grow with every producer that ever wrote. A retry from
   * such a producer then counts as a new producer (sequence 0 expected). Returns how many were removed.
   */
  removeExpired(now: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (now - entry.lastTimestamp >= expirationMs) {
        this.producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  /** A copy to try appends against; `commitTo` makes its changes real. */
  fork(): ProducerStateOverlay {
    return new ProducerStateOverlay(this);
  }

  clear(): void {
    this.producers.clear();
  }

  toJSON(): ProducerEntry[] {
    return [...this.producers.values()];
  }

  static fromJSON(entries: ProducerEntry[]): ProducerStateMap {
    const map = new ProducerStateMap();
    for (const e of entries) map.producers.set(e.producerId, { ...e, batches: e.batches.map((b) => ({ ...b })) });
    return map;
  }
}

/**
 * Provisional state for a group of appends that are written together: later batches of the group are
 * checked against the earlier ones, and nothing reaches the real map unless the write succeeds.
 */
export class ProducerStateOverlay extends ProducerStateMap {
  private readonly touched: { header: RecordBatchHeader; requestSequence: number | null | undefined }[] = [];

  constructor(private readonly base: ProducerStateMap) {
    super();
  }

  override get(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId) ?? this.base.get(producerId);
  }

  override check(header: RecordBatchHeader): SequenceCheck {
    this.pull(header.producerId);
    return super.check(header);
  }

  override update(header: RecordBatchHeader, requestSequence?: number | null): void {
    this.pull(header.producerId);
    super.update(header, requestSequence);
    this.touched.push({ header, requestSequence });
  }

  private pull(producerId: number): void {
    if (producerId < 0 || this.producers.has(producerId)) return;
    const entry = this.base.get(producerId);
    if (entry) this.producers.set(producerId, { ...entry, batches: entry.batches.map((b) => ({ ...b })) });
  }

  commitTo(target: ProducerStateMap): void {
    for (const { header, requestSequence } of this.touched) target.update(header, requestSequence);
  }
}
