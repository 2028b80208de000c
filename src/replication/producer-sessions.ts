/**
 * Idempotence of the JSON produce path, where a producer numbers its *requests* (0, 1, 2, ... per epoch)
 * and one request may write to several partitions: the per-producer half of it.
 *
 * The data carries everything (request-tag.ts): each partition's batch of request S is written under the
 * producer's request producer id with that partition's next Kafka sequence, checked by Kafka's rules, and
 * tagged with S. So the partitions' producer state (rebuilt from the log after any crash) says which
 * requests reached which partition. The per-partition half (duplicate, repair or append) is
 * ReplicaManager.produceRequestBatch; this file keeps what spans partitions: the producer's epoch and last
 * request sequence (for gap detection), and one request at a time per producer.
 *
 * Rules, checked in this order (as Kafka does): producer id issued (else UNKNOWN_PRODUCER_ID); epoch equal to
 * the registered one (else INVALID_PRODUCER_EPOCH); sequence = last + 1 (0 for a new epoch) -> a new request;
 * sequence <= last -> a retry, which every partition answers from its own state; sequence > last + 1 ->
 * OUT_OF_ORDER_SEQUENCE.
 *
 * Sessions are built from every partition's state at the first idempotent request after start-up (the last
 * sequence of each is read from its partitions' newest batches when the producer is next seen), and a session
 * is forgotten when it has been idle for producerIdExpirationMs and its partitions have forgotten the producer
 * too (so a returning producer is never mistaken for a new one while any partition still knows it).
 */
import { BrokerError } from '../common/errors.js';
import type { Partition } from './partition.js';
import type { Clock } from '../log/clock.js';
import { Serial } from '../log/serial.js';
import { isRequestProducerId, issuedProducerId, requestProducerId } from '../log/request-tag.js';

export interface ProducerStamp {
  id: number;
  epoch: number;
  sequence: number;
}

interface Session {
  epoch: number;
  /** highest request sequence appended in this epoch (-1: none); null until read from the partitions */
  lastSequence: number | null;
  /** partitions that may hold this producer's JSON batches */
  partitions: Set<Partition>;
  serial: Serial;
  /** clock time of the last request */
  lastUsed: number;
}

export interface ProducerSessionOptions {
  clock: Clock;
  /** a session idle this long is forgotten once its partitions forgot the producer (producerIdExpirationMs) */
  expirationMs: number;
  /** how often idle sessions are looked for */
  checkIntervalMs: number;
}

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
    /** every partition, to find the producers' JSON batches after a restart */
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
      session = { epoch, lastSequence: -1, partitions: new Set(), serial: new Serial(), lastUsed: now };
      sessions.set(producerId, session);
    }
    session.lastUsed = now;
    return session;
  }

  /**
   * One pass over every partition's producer state (once per start, in memory): each JSON producer's newest
   * epoch and the partitions that know it. Their last request sequences are read when each is next seen.
   */
  private sessionsFromLogs(now: number): Map<number, Session> {
    const sessions = new Map<number, Session>();
    for (const partition of this.allPartitions()) {
      for (const entry of partition.producerEntries()) {
        if (!isRequestProducerId(entry.producerId)) continue;
        const id = issuedProducerId(entry.producerId);
        let session = sessions.get(id);
        if (!session) sessions.set(id, (session = { epoch: entry.producerEpoch, lastSequence: null, partitions: new Set(), serial: new Serial(), lastUsed: now }));
        session.epoch = Math.max(session.epoch, entry.producerEpoch);
        session.partitions.add(partition);
      }
    }
    return sessions;
  }

  /**
   * A partition whose producer state this broker did not build through its own sessions (it just became
   * its leader, having copied the batches as a follower): its JSON producers join their sessions, whose last
   * request sequence is read again from their partitions at their next request.
   */
  learnPartition(partition: Partition): void {
    if (!this.sessions) return; // built from every partition at the first idempotent request
    const now = this.options.clock.now();
    for (const entry of partition.producerEntries()) {
      if (!isRequestProducerId(entry.producerId)) continue;
      const id = issuedProducerId(entry.producerId);
      let session = this.sessions.get(id);
      if (!session) this.sessions.set(id, (session = { epoch: entry.producerEpoch, lastSequence: null, partitions: new Set(), serial: new Serial(), lastUsed: now }));
      if (entry.producerEpoch > session.epoch) session.epoch = entry.producerEpoch;
      session.lastSequence = null;
      session.partitions.add(partition);
    }
  }

  /** Idle sessions go once no partition of theirs holds the producer's state any more (or would keep it). */
  private expireIdle(now: number): void {
    this.lastExpiryCheck = now;
    for (const [id, session] of this.sessions!) {
      if (now - session.lastUsed < this.options.expirationMs || !session.serial.idle) continue;
      const requestId = requestProducerId(id);
      for (const p of session.partitions) {
        const entry = p.isClosed ? undefined : p.producerEntry(requestId);
        if (!entry || now - entry.lastTimestamp >= this.options.expirationMs) session.partitions.delete(p);
      }
      if (session.partitions.size === 0) this.sessions!.delete(id);
    }
  }

  /**
   * Runs one idempotent request: checks the producer and the request sequence, then calls `execute` with
   * whether it is the producer's next request (else a retry). Requests of one producer run one at a time,
   * and the next one starts only when every append of this one has settled (`track`), even if this one's
   * reply went out earlier (a timeout): otherwise a retry could be planned while its first attempt is still
   * landing, and land twice.
   */
  run<T>(
    stamp: ProducerStamp,
    partitions: Partition[],
    execute: (next: boolean, track: (append: Promise<unknown>) => void) => Promise<T>,
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
          session.lastSequence ??= await this.lastSequenceInLogs(stamp.id, session);
          const expected = session.lastSequence + 1;
          if (stamp.sequence > expected) throw outOfOrder(stamp, expected);
          for (const p of partitions) session.partitions.add(p);
          const appends: Promise<unknown>[] = [];
          const work = execute(stamp.sequence === expected, (append) => appends.push(append));
          work.then(resolve, reject);
          // `track` is called when an append starts, which is before `work` settles (a timeout included)
          await Promise.allSettled([work]);
          await Promise.allSettled(appends);
          if (session.lastSequence !== null && session.epoch === stamp.epoch && partitions.some((p) => holds(p, requestProducerId(stamp.id), stamp))) {
            session.lastSequence = Math.max(session.lastSequence, stamp.sequence);
          }
        })
        .catch(reject);
    });
  }

  /** The newest request sequence of the session's epoch that any of its partitions holds (-1: none). */
  private async lastSequenceInLogs(id: number, session: Session): Promise<number> {
    let last = -1;
    for (const p of session.partitions) {
      if (p.isClosed) continue;
      const entry = await p.producerBatches(requestProducerId(id));
      if (!entry || entry.producerEpoch !== session.epoch) continue;
      for (const b of entry.batches) if (typeof b.requestSequence === 'number') last = Math.max(last, b.requestSequence);
    }
    return last;
  }
}

function holds(partition: Partition, requestId: number, stamp: ProducerStamp): boolean {
  const entry = partition.producerEntry(requestId);
  return entry !== undefined && entry.producerEpoch === stamp.epoch && entry.batches.some((b) => b.requestSequence === stamp.sequence);
}

export function outOfOrder(stamp: ProducerStamp, expected: number): BrokerError {
  return new BrokerError(
    'OUT_OF_ORDER_SEQUENCE',
    `producer ${stamp.id} epoch ${stamp.epoch}: request sequence ${stamp.sequence}, expected ${expected}`,
    { details: { producerId: stamp.id, producerEpoch: stamp.epoch, sequence: stamp.sequence, expectedSequence: expected } },
  );
}
