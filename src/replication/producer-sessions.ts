/**
 * Idempotence of the JSON produce path, where a producer numbers its *requests* (0, 1, 2, ... per epoch)
 * and one request may write to several partitions.
 *
 * The request sequence is stored in the data itself: every batch a request appends carries producerId,
 * producerEpoch and baseSequence = the request sequence. So the partitions' producer state (rebuilt from
 * the log after any crash) says which requests reached which partition, and a retry after a restart is
 * answered from it: partitions that have the request's batch return its original offsets, partitions that do
 * not (the broker died half-way through the request) get it appended now. Keyless records of an idempotent
 * request are placed by (producerId, sequence), so a retry maps records to the same partitions.
 *
 * Rules, checked in this order (as Kafka does): producer id issued (else UNKNOWN_PRODUCER_ID); epoch not
 * older than the registered one (else INVALID_PRODUCER_EPOCH); sequence = last + 1 (0 for a new epoch) ->
 * append; sequence <= last and still known -> duplicate; otherwise OUT_OF_ORDER_SEQUENCE. Requests of one
 * producer are handled one at a time.
 */
import { BrokerError } from '../common/errors.js';
import type { Partition } from './partition.js';
import type { ProducerBatch } from '../log/producer-state.js';
import type { Clock } from '../log/clock.js';
import { Serial } from '../log/serial.js';

export interface ProducerStamp {
  id: number;
  epoch: number;
  sequence: number;
}

interface Session {
  epoch: number;
  /** highest request sequence appended in this epoch (-1: none) */
  lastSequence: number;
  serial: Serial;
  /** clock time of the last request (sessions idle for expirationMs are dropped) */
  lastUsed: number;
}

export interface ProducerSessionOptions {
  clock: Clock;
  /** a session idle this long is forgotten, as the partitions forget the producer (producerIdExpirationMs) */
  expirationMs: number;
  /** how often idle sessions are looked for */
  checkIntervalMs: number;
}

export type PartitionPlan = { kind: 'append' } | { kind: 'duplicate'; batch: ProducerBatch };

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
  name: string | null;
}

/** Where issued producer ids are looked up (the metadata store, one layer up). */
export interface ProducerRegistry {
  /** The current identity of an issued id (anonymous ids: epoch 0); undefined for an id never issued. */
  getProducer(producerId: number): ProducerIdentity | undefined;
}

export class ProducerSessions {
  /** null until the first idempotent request after start-up, which builds it from every partition's state */
  private sessions: Map<number, Session> | null = null;
  private lastExpiryCheck: number;

  constructor(
    private readonly store: ProducerRegistry,
    /** every partition, to rebuild the producers' last request sequences after a restart */
    private readonly allPartitions: () => Partition[],
    private readonly options: ProducerSessionOptions,
  ) {
    this.lastExpiryCheck = options.clock.now();
  }

  /** Sessions held now (tests: they do not grow with producers gone idle). */
  get size(): number {
    return this.sessions?.size ?? 0;
  }

  /** Fencing checks against the registry (also used by the binary path). */
  checkRegistered(producerId: number, producerEpoch: number): void {
    const registered = this.store.getProducer(producerId);
    if (!registered) {
      throw new BrokerError('UNKNOWN_PRODUCER_ID', `producer id ${producerId} was never issued by this broker (POST /producers)`, {
        details: { producerId },
      });
    }
    if (producerEpoch !== registered.producerEpoch) {
      throw new BrokerError(
        'INVALID_PRODUCER_EPOCH',
        producerEpoch < registered.producerEpoch
          ? `producer ${producerId} epoch ${producerEpoch} is fenced by epoch ${registered.producerEpoch}`
          : `producer ${producerId} epoch ${producerEpoch} was never issued (current ${registered.producerEpoch})`,
        { details: { producerId, producerEpoch, currentEpoch: registered.producerEpoch } },
      );
    }
  }

  private session(producerId: number, epoch: number): Session {
    const now = this.options.clock.now();
    const sessions = (this.sessions ??= this.sessionsFromLogs(now));
    if (now - this.lastExpiryCheck >= this.options.checkIntervalMs) this.expireIdle(now);
    let session = sessions.get(producerId);
    if (!session) {
      session = { epoch, lastSequence: -1, serial: new Serial(), lastUsed: now };
      sessions.set(producerId, session);
    }
    session.lastUsed = now;
    return session;
  }

  /**
   * One pass over every partition's producer state (once per start): each producer's newest epoch and the
   * highest request sequence any partition holds for it. A producer's first request no longer scans them all.
   */
  private sessionsFromLogs(now: number): Map<number, Session> {
    const sessions = new Map<number, Session>();
    for (const partition of this.allPartitions()) {
      for (const entry of partition.producerEntries()) {
        let session = sessions.get(entry.producerId);
        if (!session || entry.producerEpoch > session.epoch) {
          session = { epoch: entry.producerEpoch, lastSequence: -1, serial: new Serial(), lastUsed: now };
          sessions.set(entry.producerId, session);
        } else if (entry.producerEpoch < session.epoch) continue;
        for (const b of entry.batches) session.lastSequence = Math.max(session.lastSequence, b.firstSequence);
      }
    }
    return sessions;
  }

  private expireIdle(now: number): void {
    this.lastExpiryCheck = now;
    for (const [id, session] of this.sessions!) {
      if (now - session.lastUsed >= this.options.expirationMs && session.serial.idle) this.sessions!.delete(id);
    }
  }

  /**
   * Runs one idempotent request: decides per partition whether to append or answer as a duplicate, then
   * calls `execute` with that plan. Requests of one producer run one at a time, and the next one starts only
   * when every append of this one has settled (`track`), even if this one's reply went out earlier (a
   * timeout): otherwise a retry could be planned while its first attempt is still landing, and land twice.
   * Planning always looks at what the partitions hold, so a request that failed part-way (or timed out and
   * then landed) is completed by its retry instead of being appended again.
   */
  run<T>(
    stamp: ProducerStamp,
    partitions: Partition[],
    execute: (plans: PartitionPlan[], track: (append: Promise<unknown>) => void) => Promise<T>,
  ): Promise<T> {
    this.checkRegistered(stamp.id, stamp.epoch);
    if (!Number.isInteger(stamp.sequence) || stamp.sequence < 0 || stamp.sequence > 0x7fffffff) {
      return Promise.reject(new BrokerError('INVALID_REQUEST', 'producer.sequence must be an integer from 0 to 2147483647'));
    }
    const session = this.session(stamp.id, stamp.epoch);
    return new Promise<T>((resolve, reject) => {
      session.serial
        .run(async () => {
          this.checkRegistered(stamp.id, stamp.epoch);
          if (stamp.epoch > session.epoch) {
            session.epoch = stamp.epoch;
            session.lastSequence = -1;
          }
          const expected = session.lastSequence + 1;
          if (stamp.sequence > expected) throw outOfOrder(stamp, expected);
          const plans = partitions.map((p) => this.plan(p, stamp, stamp.sequence === expected));
          const appends: Promise<unknown>[] = [];
          const work = execute(plans, (append) => appends.push(append));
          work.then(resolve, reject);
          await Promise.allSettled([work, ...appends]);
          if (session.epoch === stamp.epoch && partitions.some((p) => this.find(p, stamp) !== undefined)) {
            session.lastSequence = Math.max(session.lastSequence, stamp.sequence);
          }
        })
        .catch(reject);
    });
  }

  private find(partition: Partition, stamp: ProducerStamp): ProducerBatch | undefined {
    const entry = partition.producerEntry(stamp.id);
    if (!entry || entry.producerEpoch !== stamp.epoch) return undefined;
    return entry.batches.find((b) => b.firstSequence === stamp.sequence);
  }

  /** Duplicate when the partition holds the request's batch; append when it cannot (the next sequence). */
  private plan(partition: Partition, stamp: ProducerStamp, isNext: boolean): PartitionPlan {
    const original = this.find(partition, stamp);
    if (original) return { kind: 'duplicate', batch: original };
    return isNext ? { kind: 'append' } : this.planRetry(partition, stamp);
  }

  private planRetry(partition: Partition, stamp: ProducerStamp): PartitionPlan {
    const entry = partition.producerEntry(stamp.id);
    const batches = entry && entry.producerEpoch === stamp.epoch ? entry.batches : [];
    // Not in this partition: appended never, or too long ago to tell. Only the first can be repaired.
    const oldest = batches[0];
    if (oldest && oldest.firstSequence < stamp.sequence) return { kind: 'append' };
    const newest = batches[batches.length - 1];
    if (!newest) return { kind: 'append' };
    throw outOfOrder(stamp, newest.firstSequence + 1);
  }
}

function outOfOrder(stamp: ProducerStamp, expected: number): BrokerError {
  return new BrokerError(
    'OUT_OF_ORDER_SEQUENCE',
    `producer ${stamp.id} epoch ${stamp.epoch}: request sequence ${stamp.sequence}, expected ${expected}`,
    { details: { producerId: stamp.id, producerEpoch: stamp.epoch, sequence: stamp.sequence, expectedSequence: expected } },
  );
}
