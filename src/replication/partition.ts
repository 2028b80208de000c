/**
 * One partition on this broker (Kafka's Partition): the owner of its log and the only writer of its high
 * watermark, leader epoch and in-sync replica set, and the one place that knows whether it is offline.
 * Produce, fetch, offsets lookups, commits to `__consumer_offsets`, describe, metrics and retention all go
 * through it; the log below (src/log) knows offsets and files, not what is committed.
 *
 * High watermark = the smallest acknowledged position over the ISR (`highWatermarkOf`). This broker's own
 * position is the end of what its appends acknowledged (under fsync `always`: durable); on a single node the
 * ISR is this broker alone, so the high watermark follows every acknowledged append. It never passes the log
 * end offset and never goes below the log start offset; it only moves back when the log was cut under it
 * (a failed fdatasync under `always`), which the log announces through `onChange`.
 *
 * Waiting on the high watermark is a delayed operation (Kafka's purgatory): `whenHighWatermarkReaches` parks
 * a callback until the high watermark reaches an offset, so `acks=all` and long-polling fetches complete on
 * its movement, not on a timer. Followers will move it the same way (replication).
 */
import type { Clock } from '../log/clock.js';
import { BrokerError } from '../common/errors.js';
import type { TopicConfig } from './topic-config.js';
import type { LogEvents } from '../log/log-config.js';
import type { AppendOptions, AppendResult, PartitionLog, ReadResult } from '../log/partition-log.js';
import type { ProducerBatch, ProducerEntry } from '../log/producer-state.js';
import type { RetentionPolicy } from '../log/retention.js';
import type { TopicPartition } from '../log/segment-files.js';

export interface PartitionDeps {
  clock: Clock;
  events: LogEvents;
  /** this broker's id: the leader and only replica of every partition on a single node */
  brokerId: number;
}

/** The high watermark a set of in-sync replica positions allows: the smallest of them (pure). */
export function highWatermarkOf(isrPositions: readonly number[]): number {
  return Math.min(...isrPositions);
}

/**
 * What the controller decided for a partition (cluster: its record in etcd; single node: this broker leads
 * alone at epoch 0). Applied with `makeLeader` / `makeFollower`.
 */
export interface PartitionRole {
  /** broker id of the leader; null while none */
  leader: number | null;
  leaderEpoch: number;
  isr: readonly number[];
  replicas: readonly number[];
}

interface Waiter {
  offset: number;
  fire: () => void;
}

export class Partition {
  #highWatermark: number;
  #leaderEpoch = 0;
  #leader: number | null;
  #replicas: readonly number[];
  #isr: readonly number[];
  /** end of the records this broker's appends acknowledged (its own position in the ISR) */
  private acknowledgedEnd: number;
  private readonly waiters = new Set<Waiter>();
  private closedReason: BrokerError | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    readonly topicPartition: TopicPartition,
    private readonly log: PartitionLog,
    private readonly deps: PartitionDeps,
    /** from the high-watermark checkpoint; on a single node the ISR is this broker, so it moves to the log end */
    checkpointedHighWatermark = log.logStartOffset,
  ) {
    // Single node until told otherwise: this broker leads its only replica.
    this.#leader = deps.brokerId;
    this.#replicas = [deps.brokerId];
    this.#isr = [deps.brokerId];
    // The epoch this log last wrote in (0 on a single node, where leadership never changes).
    this.#leaderEpoch = Math.max(0, log.epochs.latestEpoch);
    this.#highWatermark = this.clamp(checkpointedHighWatermark);
    // Everything a log loaded was recovered from disk: it is this broker's acknowledged position.
    this.acknowledgedEnd = log.logEndOffset;
    this.unsubscribe = log.onChange(() => this.logChanged());
    this.maybeIncrementHighWatermark();
  }

  get name(): string {
    return this.log.name;
  }

  /** Whether this partition is the one over `log` (a topic deleted and created again has a new log). */
  ownsLog(log: PartitionLog): boolean {
    return this.log === log;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  get leaderEpoch(): number {
    return this.#leaderEpoch;
  }

  get isr(): readonly number[] {
    return this.#isr;
  }

  /** broker id of the leader; null while none is known */
  get leader(): number | null {
    return this.#leader;
  }

  get replicas(): readonly number[] {
    return this.#replicas;
  }

  get isLeader(): boolean {
    return this.#leader === this.deps.brokerId;
  }

  // ---------------------------------------------------------------- role

  /**
   * This broker leads from `role.leaderEpoch` on (the controller's record names it). A role older than the
   * one in force is stale and ignored (false). Appends are stamped with the new epoch from now on.
   */
  makeLeader(role: PartitionRole): boolean {
    if (role.leader !== this.deps.brokerId) throw new Error(`makeLeader: the role names broker ${role.leader} as leader, not this broker`);
    if (role.leaderEpoch < this.#leaderEpoch) return false;
    this.applyRole(role);
    return true;
  }

  /**
   * Another broker leads (or none, `role.leader` null): appends from producers are refused with
   * NOT_LEADER_OR_FOLLOWER from now on. A role older than the one in force is stale and ignored (false).
   */
  makeFollower(role: PartitionRole): boolean {
    if (role.leader === this.deps.brokerId) throw new Error('makeFollower: the role names this broker as leader');
    if (role.leaderEpoch < this.#leaderEpoch) return false;
    this.applyRole(role);
    return true;
  }

  private applyRole(role: PartitionRole): void {
    this.#leader = role.leader;
    this.#leaderEpoch = role.leaderEpoch;
    this.#isr = [...role.isr];
    this.#replicas = [...role.replicas];
  }

  /** NOT_LEADER_OR_FOLLOWER unless this broker leads the partition (details carry the leader's id). */
  checkLeader(): void {
    if (!this.isLeader) {
      throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `this broker does not lead ${this.name} (leader: ${this.#leader ?? 'none'})`, {
        details: { leader: this.#leader ?? -1 },
      });
    }
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get sizeInBytes(): number {
    return this.log.sizeInBytes;
  }

  get segmentCount(): number {
    return this.log.segments.length;
  }

  /** Why appends are refused (an unrepaired I/O failure), or null. */
  get offlineReason(): BrokerError | null {
    return this.log.offlineReason;
  }

  get isClosed(): boolean {
    return this.closedReason !== null || this.log.isClosed;
  }

  /** Idempotence state of one producer in this partition (read-only to callers). */
  producerEntry(producerId: number): Readonly<ProducerEntry> | undefined {
    return this.log.producerState.get(producerId);
  }

  /**
   * One producer's cached batches here with their JSON request sequences (read from the log where the state
   * lacks them, after a crash or on a former follower); undefined when it has no state here.
   */
  producerBatches(producerId: number): Promise<{ producerEpoch: number; batches: readonly Readonly<ProducerBatch>[] } | undefined> {
    return this.log.producerBatches(producerId);
  }

  /** Every producer with state here (JSON producer sessions are rebuilt from them at start-up). */
  producerEntries(): Iterable<Readonly<ProducerEntry>> {
    return this.log.producerState.producers.values();
  }

  // ---------------------------------------------------------------- produce

  /** NOT_ENOUGH_REPLICAS when `acks=all` needs more in-sync replicas than there are. */
  checkEnoughReplicas(minInsyncReplicas: number): void {
    if (this.#isr.length < minInsyncReplicas) {
      throw new BrokerError('NOT_ENOUGH_REPLICAS', `partition ${this.name} needs ${minInsyncReplicas} in-sync replicas for acks=all, has ${this.#isr.length}`, {
        details: { minInsyncReplicas, isr: this.#isr.length },
      });
    }
  }

  /**
   * Appends as the leader: offsets assigned, this partition's leader epoch stamped into every batch. Resolves
   * once the batches are acknowledged locally (durable under the fsync policy); the high watermark moves then.
   */
  async appendAsLeader(data: Buffer, options: Omit<AppendOptions, 'leaderEpoch'> = {}): Promise<AppendResult> {
    this.checkLeader();
    const result = await this.log.append(data, { ...options, leaderEpoch: this.#leaderEpoch });
    const end = Math.max(...result.batches.map((b) => b.lastOffset)) + 1;
    if (end > this.acknowledgedEnd) this.acknowledgedEnd = end;
    this.maybeIncrementHighWatermark();
    return result;
  }

  /**
   * Resolves when the high watermark reaches `offset` (acks=all: every in-sync replica has the batch);
   * REQUEST_TIMED_OUT after `timeoutMs`; the partition's close reason if it goes away first.
   */
  awaitHighWatermark(offset: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closedReason) return reject(this.closedReason);
      const cancelTimer = this.deps.clock.setTimer(timeoutMs, () => {
        cancelWait();
        reject(new BrokerError('REQUEST_TIMED_OUT', `${this.name}: not acknowledged by the in-sync replicas within ${timeoutMs} ms (the append may still complete)`));
      });
      const cancelWait = this.whenHighWatermarkReaches(offset, () => {
        cancelTimer();
        if (this.closedReason && this.#highWatermark < offset) reject(this.closedReason);
        else resolve();
      });
    });
  }

  // ---------------------------------------------------------------- read

  /** Whole batches from the one holding `offset`, below the high watermark (what consumers may see). */
  read(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.log.read(offset, { maxBytes, maxOffset: this.#highWatermark });
  }

  /** Whole batches below the log end offset, committed or not (answering an idempotent retry, replication). */
  readUncommitted(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.log.read(offset, { maxBytes, maxOffset: this.log.logEndOffset });
  }

  /** First offset with timestamp >= `at`; `earliest`/`latest` give the log start offset / high watermark. */
  async listOffset(at: number | 'earliest' | 'latest'): Promise<{ offset: number; timestamp: number | null }> {
    if (at === 'earliest') return { offset: this.logStartOffset, timestamp: null };
    if (at === 'latest') return { offset: this.#highWatermark, timestamp: null };
    const found = await this.log.offsetForTimestamp(at, this.#highWatermark);
    return found ?? { offset: this.#highWatermark, timestamp: null };
  }

  /**
   * Parks `fire` until the high watermark reaches `offset` (at once when it has), or the partition closes.
   * Returns a cancel function. A long-polling fetch at offset o waits for o + 1.
   */
  whenHighWatermarkReaches(offset: number, fire: () => void): () => void {
    if (this.#highWatermark >= offset || this.isClosed) {
      fire();
      return () => undefined;
    }
    const waiter = { offset, fire };
    this.waiters.add(waiter);
    return () => this.waiters.delete(waiter);
  }

  // ---------------------------------------------------------------- segments

  /** Retention of whole segments, never past the high watermark. */
  applyRetention(policy: RetentionPolicy, now: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.log.applyRetention(policy, now, this.#highWatermark);
  }

  /** Deletes whole segments below `offset` (never past the high watermark). */
  deleteSegmentsBefore(offset: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.log.deleteSegmentsBefore(Math.min(offset, this.#highWatermark));
  }

  roll(): Promise<void> {
    return this.log.roll();
  }

  flush(): Promise<void> {
    return this.log.flush();
  }

  /**
   * The partition is gone (its topic deleted) or the broker stops: waiters wake (long polls look the partition
   * up again; a delayed produce gets `reason`), and nothing waits on this object any more.
   */
  close(reason: BrokerError): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.unsubscribe();
    this.wakeAll();
  }

  // ---------------------------------------------------------------- high watermark

  private clamp(offset: number): number {
    return Math.min(Math.max(offset, this.log.logStartOffset), this.log.logEndOffset);
  }

  /** The one place the high watermark moves forward. */
  private maybeIncrementHighWatermark(): void {
    const next = this.clamp(highWatermarkOf([this.acknowledgedEnd]));
    if (next <= this.#highWatermark) return;
    this.#highWatermark = next;
    for (const waiter of [...this.waiters]) {
      if (waiter.offset <= next) {
        this.waiters.delete(waiter);
        waiter.fire();
      }
    }
  }

  /** The log was cut, reopened or given up under us: the high watermark follows it down if it must. */
  private logChanged(): void {
    const end = this.log.logEndOffset;
    if (this.acknowledgedEnd > end) this.acknowledgedEnd = end;
    if (this.#highWatermark > end) {
      this.deps.events.warn({ partition: this.name, highWatermark: this.#highWatermark, logEndOffset: end }, 'the log was cut below the high watermark');
      this.#highWatermark = this.clamp(end);
    }
    if (this.log.isClosed) this.wakeAll();
    else this.maybeIncrementHighWatermark();
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      waiter.fire();
    }
  }
}

/** How the replication layer finds partitions and their topic's settings (the topic manager, one layer up). */
export interface PartitionDirectory {
  /** the partition; UNKNOWN_TOPIC or UNKNOWN_TOPIC_OR_PARTITION when there is none */
  partition(topic: string, partition: number): Partition;
  /** the topic's effective settings; UNKNOWN_TOPIC when there is no such topic */
  topicConfig(topic: string): TopicConfig;
}
