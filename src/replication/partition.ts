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
 * its movement, not on a timer.
 *
 * Replication (docs/replication.md). As leader, each follower's fetch offset is its acknowledgement
 * (`recordFollowerFetch`); the high watermark is the smallest acknowledged end over the ISR (isr-rules.ts),
 * held where it is while a member's position under this epoch is unknown (a new leader does not advance past
 * what it knows committed until its followers fetched). A follower not caught up for `replicaLagTimeMaxMs`
 * is proposed out of the ISR, one that caught up back in, through `alterIsr` (isr-changes.ts). As follower,
 * the fetcher (replica-fetcher.ts) appends the leader's batches with their offsets and epochs
 * (`appendAsFollower`), truncates a diverged tail first, and hands on the leader's high watermark.
 */
import { BrokerError } from '../common/errors.js';
import type { TopicConfig } from './topic-config.js';
import type { AppendOptions, AppendResult, PartitionLog, ReadResult } from '../log/partition-log.js';
import type { ProducerBatch, ProducerEntry } from '../log/producer-state.js';
import type { RetentionPolicy } from '../log/retention.js';
import type { TopicPartition } from '../log/segment-files.js';
import { mayJoinIsr } from './isr-rules.js';
import type { AcceptedIsr } from './isr-changes.js';
import { DEFAULT_REPLICA_LAG_TIME_MAX_MS, type PartitionDeps, type PartitionRole } from './partition-role.js';
import { LeaderTerm, type FollowerLag } from './leader-term.js';
import { DelayedOperations } from './delayed-operations.js';

export type { FollowerLag };

/** The high watermark a set of in-sync replica positions allows: the smallest of them (pure). */
export function highWatermarkOf(isrPositions: readonly number[]): number {
  return Math.min(...isrPositions);
}

export { DEFAULT_REPLICA_LAG_TIME_MAX_MS, type PartitionDeps, type PartitionRole } from './partition-role.js';

export class Partition {
  #highWatermark: number;
  #leaderEpoch = 0;
  #leader: number | null;
  #replicas: readonly number[];
  #isr: readonly number[];
  /** end of the records this broker's appends acknowledged (its own position in the ISR) */
  private acknowledgedEnd: number;
  /** acks=all and long polls parked on the high watermark; followers' long polls (leader side) */
  private readonly delayed = new DelayedOperations();
  private closedReason: BrokerError | null = null;
  private readonly unsubscribe: () => void;
  #version: number | undefined;
  /** leader: what it knows of its followers in this leader epoch; null on a follower */
  private term: LeaderTerm | null = null;

  constructor(
    readonly topicPartition: TopicPartition,
    private readonly log: PartitionLog,
    private readonly deps: PartitionDeps,
    /** from the high-watermark checkpoint; on a single node the ISR is this broker, so it moves to the log end */
    checkpointedHighWatermark = log.logStartOffset,
  ) {
    // Single node: this broker leads its only replica. Cluster mode: nothing until the controller's role.
    this.#leader = deps.awaitsRole ? null : deps.brokerId;
    this.#replicas = [deps.brokerId];
    this.#isr = deps.awaitsRole ? [] : [deps.brokerId];
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
   * one in force is stale and ignored (false). A new leader epoch starts a term: the epoch is recorded at the
   * log end offset in the epoch cache (before any append of it), every follower's position is unknown until
   * it fetches, ISR members count as caught up from now. The same epoch again only updates ISR and replicas.
   */
  makeLeader(role: PartitionRole): boolean {
    if (role.leader !== this.deps.brokerId) throw new Error(`makeLeader: the role names broker ${role.leader} as leader, not this broker`);
    if (this.isStale(role)) return false;
    const newTerm = !this.isLeader || role.leaderEpoch !== this.#leaderEpoch || this.term === null;
    this.applyRole(role);
    if (newTerm) {
      this.term?.end();
      const end = this.log.logEndOffset;
      this.term = new LeaderTerm(end, role.replicas, role.isr, {
        tp: this.topicPartition,
        brokerId: this.deps.brokerId,
        clock: this.deps.clock,
        events: this.deps.events,
        alterIsr: this.deps.alterIsr ?? (async (_tp, p) => ({ ...p, replicas: this.#replicas })),
      });
      this.log.assignLeaderEpoch(role.leaderEpoch, end).catch((err) =>
        this.deps.events.error({ partition: this.name, leaderEpoch: role.leaderEpoch, err }, 'recording the new leader epoch in the epoch cache failed'),
      );
      this.deps.events.info({ partition: this.name, leaderEpoch: role.leaderEpoch, isr: role.isr, logEndOffset: end, highWatermark: this.#highWatermark }, 'became leader');
      this.term.startChecks(Math.max(1, Math.floor(this.replicaLagTimeMaxMs / 2)), () => this.maybeShrinkIsr());
    } else {
      this.term!.isrChanges.reset();
      this.term!.updateReplicas(role.replicas, role.isr);
    }
    this.maybeIncrementHighWatermark();
    this.notifyReplicaWaiters();
    return true;
  }

  /**
   * Another broker leads (or none, `role.leader` null): appends from producers are refused with
   * NOT_LEADER_OR_FOLLOWER from now on, acks=all waits end with it, parked replica fetches end. A role older
   * than the one in force is stale and ignored (false). The fetcher (replica-fetcher.ts) is the cluster
   * layer's to start: `ReplicaFetcherManager.follow`.
   */
  makeFollower(role: PartitionRole): boolean {
    if (role.leader === this.deps.brokerId) throw new Error('makeFollower: the role names this broker as leader');
    if (this.isStale(role)) return false;
    this.applyRole(role);
    this.term?.end();
    this.term = null;
    this.wakeAll();
    this.notifyReplicaWaiters();
    return true;
  }

  private isStale(role: PartitionRole): boolean {
    if (role.leaderEpoch !== this.#leaderEpoch) return role.leaderEpoch < this.#leaderEpoch;
    return role.version !== undefined && this.#version !== undefined && role.version < this.#version;
  }

  private applyRole(role: PartitionRole): void {
    this.#leader = role.leader;
    this.#leaderEpoch = role.leaderEpoch;
    this.#isr = [...role.isr];
    this.#replicas = [...role.replicas];
    if (role.version !== undefined) this.#version = role.version;
  }

  get replicaLagTimeMaxMs(): number {
    return this.deps.replicaLagTimeMaxMs ?? DEFAULT_REPLICA_LAG_TIME_MAX_MS;
  }

  /** Leader: whether the ISR is smaller than the replica set. */
  get isUnderReplicated(): boolean {
    return this.isLeader && this.#isr.length < this.#replicas.length;
  }

  /** Leader: each follower's lag (records behind, ms since caught up). Empty on a follower. */
  followerLags(): FollowerLag[] {
    return this.isLeader && this.term ? this.term.lags(this.acknowledgedEnd) : [];
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
  async appendAsLeader(data: Buffer, options: Omit<AppendOptions, 'leaderEpoch'> = {}): Promise<AppendResult & { leaderEpoch: number }> {
    this.checkLeader();
    const leaderEpoch = this.#leaderEpoch;
    const result = { ...(await this.log.append(data, { ...options, leaderEpoch })), leaderEpoch };
    const end = Math.max(...result.batches.map((b) => b.lastOffset)) + 1;
    if (end > this.acknowledgedEnd) this.acknowledgedEnd = end;
    this.maybeIncrementHighWatermark();
    this.notifyReplicaWaiters();
    return result;
  }

  /**
   * Resolves when the high watermark reaches `offset` (acks=all: every in-sync replica has the batch) while
   * this broker still leads in `leaderEpoch` (the epoch the batch was appended in, from appendAsLeader);
   * REQUEST_TIMED_OUT after `timeoutMs`; NOT_LEADER_OR_FOLLOWER when this broker stops leading first (the
   * record may or may not survive: the client retries, idempotence keeps it single); the partition's close
   * reason if it goes away first.
   */
  awaitHighWatermark(offset: number, timeoutMs: number, leaderEpoch = this.#leaderEpoch): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closedReason) return reject(this.closedReason);
      const epoch = leaderEpoch;
      let cancelWait = () => {};
      const cancelTimer = this.deps.clock.setTimer(timeoutMs, () => {
        cancelWait();
        reject(new BrokerError('REQUEST_TIMED_OUT', `${this.name}: not acknowledged by the in-sync replicas within ${timeoutMs} ms (the append may still complete)`));
      });
      // Leadership first: once the epoch moved on, the offset may hold another leader's record (this log was
      // truncated and refilled as a follower), so a high watermark past it proves nothing about ours.
      const check = () => {
        const moved = !this.isLeader || this.#leaderEpoch !== epoch;
        if (!moved && this.#highWatermark >= offset) {
          cancelTimer();
          resolve();
        } else if (this.closedReason) {
          cancelTimer();
          reject(this.closedReason);
        } else if (moved) {
          cancelTimer();
          reject(new BrokerError('NOT_LEADER_OR_FOLLOWER', `${this.name}: leadership moved (epoch ${epoch} -> ${this.#leaderEpoch}) before the in-sync replicas acknowledged`, {
            details: { leader: this.#leader ?? -1 },
          }));
        } else {
          cancelWait = this.whenHighWatermarkReaches(offset, check);
        }
      };
      cancelWait = this.whenHighWatermarkReaches(offset, check);
    });
  }

  // ---------------------------------------------------------------- leader: followers' fetches

  /**
   * Fencing of a follower's request (replica fetch, epoch end offsets): NOT_LEADER_OR_FOLLOWER unless this
   * broker leads and `replicaId` is one of its followers; FENCED_LEADER_EPOCH when the follower's epoch is
   * older than this leader's (it missed a change), UNKNOWN_LEADER_EPOCH when newer (this broker has not
   * heard of it yet).
   */
  checkReplicaRequest(replicaId: number, currentLeaderEpoch: number): void {
    if (this.closedReason) throw this.closedReason;
    this.checkLeader();
    if (currentLeaderEpoch < this.#leaderEpoch) {
      throw new BrokerError('FENCED_LEADER_EPOCH', `${this.name}: leader epoch ${currentLeaderEpoch} is older than the current ${this.#leaderEpoch}`, { details: { leaderEpoch: this.#leaderEpoch } });
    }
    if (currentLeaderEpoch > this.#leaderEpoch) {
      throw new BrokerError('UNKNOWN_LEADER_EPOCH', `${this.name}: leader epoch ${currentLeaderEpoch} is newer than this leader's ${this.#leaderEpoch}`, { details: { leaderEpoch: this.#leaderEpoch } });
    }
    if (replicaId === this.deps.brokerId || !this.#replicas.includes(replicaId)) {
      throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `broker ${replicaId} is not a follower of ${this.name} (replicas ${this.#replicas.join(',')})`, { details: { leader: this.#leader ?? -1 } });
    }
  }

  /**
   * A follower fetches from `fetchOffset`: everything below it is on its disk, so this is its
   * acknowledgement. Updates its position and caught-up time, proposes it into the ISR once it caught up,
   * and moves the high watermark. OFFSET_OUT_OF_RANGE (with the log start and end offsets) when the offset
   * is below the log start or past what this leader has.
   */
  recordFollowerFetch(replicaId: number, currentLeaderEpoch: number, fetchOffset: number): void {
    this.checkReplicaRequest(replicaId, currentLeaderEpoch);
    if (fetchOffset < this.log.logStartOffset || fetchOffset > this.acknowledgedEnd) {
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `${this.name}: replica fetch offset ${fetchOffset} outside [${this.log.logStartOffset}, ${this.acknowledgedEnd}]`, {
        details: { logStartOffset: this.log.logStartOffset, logEndOffset: this.acknowledgedEnd, highWatermark: this.#highWatermark },
      });
    }
    const term = this.term!;
    const state = term.recordFetch(replicaId, fetchOffset, this.acknowledgedEnd);
    if (!this.#isr.includes(replicaId) && mayJoinIsr(state, this.#highWatermark, term.epochStartOffset)) {
      this.proposeIsr([...this.#isr, replicaId], 'expand');
    }
    this.maybeIncrementHighWatermark();
  }

  /** Whole batches from `offset` up to what this leader acknowledged (committed or not): a follower's read. */
  readForFollower(offset: number, maxBytes: number): Promise<ReadResult> {
    if (offset >= this.acknowledgedEnd) return Promise.resolve({ bytes: Buffer.alloc(0), nextOffset: offset });
    return this.log.read(offset, { maxBytes, maxOffset: this.acknowledgedEnd });
  }

  /**
   * Parks `fire` until there is something new for a follower at `fetchOffset` that knows `knownHighWatermark`:
   * records past its offset, a higher high watermark, a role change, or the end of this partition.
   */
  whenFollowerHasNews(fetchOffset: number, knownHighWatermark: number, fire: () => void): () => void {
    const epoch = this.#leaderEpoch;
    return this.delayed.untilReady(
      () => this.acknowledgedEnd > fetchOffset || this.#highWatermark > knownHighWatermark || !this.isLeader || this.#leaderEpoch !== epoch || this.isClosed,
      fire,
    );
  }

  /** Leader epoch → end offset, from this log's epoch cache (the answer to a follower's OffsetsForLeaderEpoch). */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    return this.log.epochs.endOffsetFor(epoch, this.log.logEndOffset);
  }

  /** The newest epoch in this log's epoch cache (-1 when none). */
  get latestLogEpoch(): number {
    return this.log.epochs.latestEpoch;
  }

  private notifyReplicaWaiters(): void {
    this.delayed.checkConditions();
  }

  private proposeIsr(isr: number[], reason: 'expand' | 'shrink'): void {
    const term = this.term;
    if (!term) return;
    const ordered = this.#replicas.filter((id) => isr.includes(id));
    term.isrChanges.propose(
      { leaderEpoch: this.#leaderEpoch, isr: ordered, version: this.#version, reason },
      (accepted) => this.applyAcceptedIsr(accepted, reason),
      () => this.maybeIncrementHighWatermark(),
    );
  }

  private applyAcceptedIsr(accepted: AcceptedIsr, reason: 'expand' | 'shrink'): void {
    if (!this.isLeader || accepted.leaderEpoch !== this.#leaderEpoch) return;
    const before = this.#isr;
    this.#isr = [...accepted.isr];
    if (accepted.replicas.length > 0) this.#replicas = [...accepted.replicas];
    if (accepted.version !== undefined) this.#version = accepted.version;
    this.deps.events.info({ partition: this.name, leaderEpoch: this.#leaderEpoch, from: before, to: this.#isr }, reason === 'shrink' ? 'ISR shrunk' : 'ISR expanded');
    this.deps.onIsrChange?.(this, reason);
  }

  /** Leader: proposes the ISR without the followers not caught up for replicaLagTimeMaxMs (checked every half of it). */
  maybeShrinkIsr(): void {
    if (!this.isLeader || !this.term) return;
    const lagging = this.term.lagging(this.#isr, this.replicaLagTimeMaxMs);
    if (lagging.length > 0) this.proposeIsr(this.#isr.filter((id) => !lagging.includes(id)), 'shrink');
  }

  // ---------------------------------------------------------------- follower

  /**
   * Appends the leader's batches as they are (offsets and leader epochs kept, producer state rebuilt from
   * them); must start at this log's end offset. Resolves once durable under the fsync policy: the next fetch
   * offset, this follower's acknowledgement, may then be sent.
   */
  async appendAsFollower(data: Buffer): Promise<AppendResult> {
    if (this.isLeader) throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `${this.name}: this broker leads; it takes no follower appends`);
    const result = await this.log.appendAsFollower(data);
    const end = Math.max(...result.batches.map((b) => b.lastOffset)) + 1;
    if (end > this.acknowledgedEnd) this.acknowledgedEnd = end;
    return result;
  }

  /** Follower: the leader's high watermark, capped at this log's end (Kafka: min(leader HW, own LEO)); never back. */
  updateFollowerHighWatermark(leaderHighWatermark: number): void {
    if (this.isLeader) return;
    this.setHighWatermark(this.clamp(Math.min(leaderHighWatermark, this.acknowledgedEnd)));
  }

  /** Follower: drops the tail from `offset` on (a diverged tail, found through the leader's epochs). */
  truncateTo(offset: number): Promise<void> {
    if (this.isLeader) return Promise.reject(new BrokerError('NOT_LEADER_OR_FOLLOWER', `${this.name}: a leader's log is not truncated`));
    return this.log.truncateTo(offset);
  }

  /** Follower: the log starts over, empty, at the leader's log start offset (it ends below it). */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    if (this.isLeader) return Promise.reject(new BrokerError('NOT_LEADER_OR_FOLLOWER', `${this.name}: a leader's log is not truncated`));
    return this.log.truncateFullyAndStartAt(offset);
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
    return this.delayed.untilOffset(offset, fire);
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
    this.term?.end();
    this.term = null;
    this.wakeAll();
    this.notifyReplicaWaiters();
  }

  // ---------------------------------------------------------------- high watermark

  private clamp(offset: number): number {
    return Math.min(Math.max(offset, this.log.logStartOffset), this.log.logEndOffset);
  }

  /**
   * Leader: the high watermark the ISR allows (the maximal ISR while a change is in flight); held while a
   * member's position under this epoch is unknown. Followers take theirs from the leader.
   */
  private maybeIncrementHighWatermark(): void {
    if (!this.isLeader) return;
    // On a single node (no term: no followers) the ISR is this broker alone.
    const candidate = this.term ? this.term.highWatermarkCandidate(this.#isr, this.acknowledgedEnd) : highWatermarkOf([this.acknowledgedEnd]);
    if (candidate !== null) this.setHighWatermark(this.clamp(candidate));
  }

  /** The one place the high watermark moves forward. */
  private setHighWatermark(next: number): void {
    if (next <= this.#highWatermark) return;
    this.#highWatermark = next;
    this.delayed.completeUpTo(next);
    this.notifyReplicaWaiters();
  }

  /** The log was cut, reopened or given up under us: the high watermark follows it down if it must. */
  private logChanged(): void {
    const end = this.log.logEndOffset;
    if (this.acknowledgedEnd > end) this.acknowledgedEnd = end;
    if (this.acknowledgedEnd < this.log.logStartOffset) this.acknowledgedEnd = this.log.logStartOffset;
    if (this.#highWatermark > end) {
      this.deps.events.warn({ partition: this.name, highWatermark: this.#highWatermark, logEndOffset: end }, 'the log was cut below the high watermark');
      this.#highWatermark = this.clamp(end);
    }
    if (this.#highWatermark < this.log.logStartOffset) this.#highWatermark = this.log.logStartOffset;
    if (this.log.isClosed) this.wakeAll();
    else this.maybeIncrementHighWatermark();
    this.notifyReplicaWaiters();
  }

  private wakeAll(): void {
    this.delayed.wakeOffsetWaits();
  }
}

/** How the replication layer finds partitions and their topic's settings (the topic manager, one layer up). */
export interface PartitionDirectory {
  /** the partition; UNKNOWN_TOPIC or UNKNOWN_TOPIC_OR_PARTITION when there is none */
  partition(topic: string, partition: number): Partition;
  /** the topic's effective settings; UNKNOWN_TOPIC when there is no such topic */
  topicConfig(topic: string): TopicConfig;
}
