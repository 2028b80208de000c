/**
 * The log of one partition: appends with offset assignment and producer state (idempotence), on top of its
 * segment files (local-log.ts: reads, rolling, durability, truncation, deletion).
 *
 * Appends are queued and written in groups: every request waiting when a write starts goes into one
 * writev, and under fsync `always` all of them share one fdatasync (group-sync.ts). A request's batches are
 * appended together or not at all. A failed write is cut back and rejected without consuming offsets; a failed
 * fdatasync rejects everything not yet durable and truncates the log back to what is (log-durability.ts).
 *
 * A partition that could not repair a failure is offline (offline-state.ts): appends are refused, reads go on.
 * When the failure may pass (a full disk), a later append reopens it in place, once per backoff (`reopen`).
 *
 * A log abandoned for its topic's deletion answers the appends still queued or in flight with the reason it
 * was given (UNKNOWN_TOPIC), never with a storage error.
 *
 * Loading and recovery live in log-loader.ts.
 */
import { BrokerError, storageError } from '../common/errors.js';
import { segmentOptionsOf, type LogConfig } from './log-config.js';
import { loadPartitionState } from './log-loader.js';
import { LocalLog, type LogSegmentsState, type PartitionLogDeps } from './local-log.js';
import { LogSegment, MAX_RELATIVE_OFFSET, type AppendedBatch } from './log-segment.js';
import type { LeaderEpochCache } from './leader-epoch-cache.js';
import { splitBatchFrames } from './batch-decoder.js';
import { deleteSnapshotsAbove, readLatestSnapshot, rebuildProducerState, writeSnapshot } from './producer-snapshot.js';
import { ProducerStateMap, type ProducerBatch } from './producer-state.js';
import { readRequestSequences } from './producer-requests.js';
import type { RecordBatchHeader } from './record-batch.js';
import {
  countRecords,
  planRequest,
  splitForAppend,
  type AppendOptions,
  type AppendResult,
  type PendingAppend,
  type PlannedAppend,
  type RequestPlan,
} from './append-planner.js';
import { planRetention, type RetentionPolicy } from './retention.js';
import type { TopicPartition } from './segment-files.js';

export type { AppendOptions, AppendResult, BatchAppendInfo } from './append-planner.js';
export type { ReadOptions, ReadResult } from './log-reader.js';
export { DEFAULT_STORAGE_RETRY_BACKOFF_MS, type LogSegmentsState, type PartitionLogDeps } from './local-log.js';

/** Largest write of one unit (one writev); more queued data goes into the next unit. */
const MAX_UNIT_BYTES = 4 * 1024 * 1024;

export class PartitionLog extends LocalLog {
  producerState: ProducerStateMap;

  private readonly queue: PendingAppend[] = [];
  private draining = false;

  constructor(dir: string, topicPartition: TopicPartition, config: Partial<LogConfig>, deps: PartitionLogDeps, state: LogSegmentsState) {
    super(dir, topicPartition, config, deps, state);
    this.producerState = state.producerState;
  }

  /** Forgets idempotent producers idle for `expirationMs` (see ProducerStateMap.removeExpired). */
  expireProducers(now: number, expirationMs: number): number {
    return this.producerState.removeExpired(now, expirationMs);
  }

  /** One producer's cached batches, request sequences read from the log where missing (producer-requests.ts). */
  async producerBatches(producerId: number): Promise<{ producerEpoch: number; batches: readonly Readonly<ProducerBatch>[] } | undefined> {
    const entry = this.producerState.get(producerId);
    if (!entry) return undefined;
    await readRequestSequences(entry, async (offset) => (await this.read(offset, { maxBytes: 1, maxOffset: this.logEndOffset })).bytes);
    return entry;
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends one or more record batches (back to back in `data`) atomically. Offsets are assigned by
   * rewriting each batch's baseOffset and partitionLeaderEpoch; the bytes are stored as they are.
   * Resolves once the batches are durable under the fsync policy.
   */
  append(data: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    return this.enqueue(data, () => splitForAppend(data, options.trusted === true, this.config.maxMessageBytes), {
      leaderEpoch: options.leaderEpoch ?? 0,
      requestSequence: options.requestSequence ?? null,
      follower: false,
    });
  }

  /**
   * Appends a follower's copy of the leader's batches (replication): they keep the leader's offsets and leader
   * epochs, and must start at this log's end offset (else OFFSET_OUT_OF_RANGE, nothing written). Frames and
   * CRCs are checked; records are not decoded (the leader validated them). Resolves once durable under the
   * fsync policy.
   */
  appendAsFollower(data: Buffer): Promise<AppendResult> {
    return this.enqueue(data, () => splitBatchFrames(data), { leaderEpoch: -1, requestSequence: null, follower: true });
  }

  private enqueue(
    data: Buffer,
    split: () => { at: number; header: RecordBatchHeader }[],
    kind: Pick<PendingAppend, 'leaderEpoch' | 'requestSequence' | 'follower'>,
  ): Promise<AppendResult> {
    if (this.closed) return Promise.reject(this.closedReason);
    const offline = this.durability.offline;
    // Offline: refused at once, unless a reopen is due (drain tries it first) or under way (the append waits).
    if (offline.status === 'offline' && !offline.reopenDue) return Promise.reject(offline.reason);
    if (this.rolled.retryDue) this.finishRolledSegments();
    let batches: { at: number; header: RecordBatchHeader }[];
    try {
      batches = split();
      if (batches.length === 0) throw new BrokerError('INVALID_REQUEST', 'no record batch to append');
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ data, batches, ...kind, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    void this.serial
      .run(() => this.drain())
      .finally(() => {
        this.draining = false;
        if (this.queue.length > 0 && !this.durability.repairing) this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.durability.repairing) {
      const offline = this.durability.offline;
      if (offline.reopenDue) await this.reload().catch(() => undefined); // a failure is logged and kept as the reason
      if (offline.reason) {
        for (const p of this.queue.splice(0)) p.reject(offline.reason);
        return;
      }
      await this.writeOneUnit();
    }
  }

  /**
   * Plans and writes as many queued requests as fit in the active segment with one writev. A request that
   * does not fit ends the unit; the next unit starts by rolling.
   */
  private async writeOneUnit(): Promise<void> {
    const first = this.queue[0]!;
    if (this.shouldRoll(first.data.length, countRecords(first))) {
      try {
        await this.roll();
      } catch (err) {
        if (this.queue[0] === first) this.queue.shift();
        first.reject(this.closed ? this.closedReason : err);
        return;
      }
    }
    const segment = this.activeSegment;
    const overlay = this.producerState.fork();
    const planned: PlannedAppend[] = [];
    const buffers: Buffer[] = [];
    const written: AppendedBatch[] = [];
    let nextOffset = this.logEndOffset;
    let unitBytes = 0;
    while (this.queue.length > 0) {
      const request = this.queue[0]!;
      // Checked for every request, also the first: an earlier one may have been refused without writing.
      if (this.wouldOverflow(segment, unitBytes + request.data.length, nextOffset + countRecords(request))) break;
      // Bounded units keep the disk busy: the next unit is written while this one's fdatasync runs.
      if (unitBytes > 0 && unitBytes + request.data.length > MAX_UNIT_BYTES) break;
      this.queue.shift();
      let plan: RequestPlan;
      try {
        plan = planRequest(request, overlay, nextOffset);
      } catch (err) {
        request.reject(err);
        continue;
      }
      buffers.push(...plan.buffers);
      written.push(...plan.written);
      unitBytes += plan.bytes;
      nextOffset = plan.nextOffset;
      const results = plan.results;
      planned.push({ request, results });
    }
    if (buffers.length > 0) {
      try {
        await this.recordEpochs(planned);
        await segment.append(buffers, written, this.deps.clock.now());
      } catch (err) {
        for (const p of planned) p.request.reject(this.closed ? this.closedReason : err);
        if (!this.closed) this.deps.events.error({ partition: this.name, err }, 'append failed; the log is unchanged');
        return;
      }
      overlay.commitTo(this.producerState);
      this.durability.written(segment);
    }
    for (const p of planned) this.acknowledge(p);
  }

  /**
   * A batch of a leader epoch newer than the cache's latest starts that epoch: the cache file is written
   * (durably) before the data, as Kafka assigns the epoch before appending, so a restart never finds data of
   * an epoch the cache does not know.
   */
  private async recordEpochs(planned: PlannedAppend[]): Promise<void> {
    let next: LeaderEpochCache | null = null;
    for (const { request, results } of planned) {
      for (let i = 0; i < request.batches.length; i++) {
        const result = results[i]!;
        if (result.duplicate) continue;
        const epoch = request.follower ? request.batches[i]!.header.partitionLeaderEpoch : request.leaderEpoch;
        if (epoch > (next ?? this.epochs).latestEpoch) (next ??= this.epochs.copy()).assign(epoch, result.baseOffset);
      }
    }
    if (!next) return;
    try {
      await next.flush(this.deps.fsyncPolicy === 'always');
    } catch (err) {
      throw storageError(`writing the leader-epoch checkpoint of ${this.name}`, err, next.path);
    }
    this.epochs = next;
  }

  private acknowledge({ request, results }: PlannedAppend): void {
    const result: AppendResult = { batches: results, duplicate: results.every((r) => r.duplicate) };
    const end = Math.max(...results.map((r) => r.lastOffset)) + 1;
    if (this.deps.fsyncPolicy === 'always') {
      this.durability.acknowledgeable(end).then(
        () => request.resolve(result),
        (err) => request.reject(this.closed ? this.closedReason : storageError(`fdatasync of ${this.name}`, err)),
      );
    } else {
      request.resolve(result);
    }
  }

  private wouldOverflow(segment: LogSegment, bytes: number, nextOffset: number): boolean {
    if (segment.isEmpty) return false;
    return segment.size + bytes > this.config.segmentBytes || nextOffset - 1 - segment.baseOffset > MAX_RELATIVE_OFFSET || segment.indexesFull;
  }

  private shouldRoll(bytes: number, records: number): boolean {
    const segment = this.activeSegment;
    if (segment.isEmpty) return false;
    if (this.wouldOverflow(segment, bytes, this.logEndOffset + records)) return true;
    const base = segment.rollingBaseTimestamp;
    return base !== null && this.deps.clock.now() - base > this.config.segmentMs;
  }

  // ---------------------------------------------------------------- roll, reopen

  /** Starts a new active segment at the log end offset (no-op when the active segment is empty). */
  roll(): Promise<void> {
    return this.rollWith(() => this.producerState.toJSON().map((e) => ({ ...e, batches: [...e.batches] })));
  }

  /**
   * Reloads the partition from its directory with the unclean-start recovery (log-loader.ts: every batch from
   * the recovery point is checked, a torn tail cut, indexes rebuilt), in place: the object stays the same, so
   * whoever holds it (topic lookups, the offsets store, waiting fetches) sees the result. An offline partition
   * comes back this way. Under `always` the log is then cut back to the durable offset: the records after it
   * were never acknowledged (their appends were refused), so they must not appear now. The owner hears of it
   * through `onChange` (the high watermark may have to come down to the new log end).
   */
  reopen(): Promise<void> {
    return this.serial.run(() => this.reload());
  }

  private async reload(): Promise<void> {
    if (this.closed) throw this.closedReason;
    const offline = this.durability.offline;
    const before = { logEndOffset: this.logEndOffset, durableOffset: this.durableOffset, reason: offline.reason?.message };
    offline.beginReopen();
    try {
      await this.background.finish();
      for (const s of this.segments) s.dropHandles(); // fresh descriptors: none that saw a write-back error
      const { state } = await loadPartitionState(this.dir, this.topicPartition, this.config, this.deps, { cleanShutdown: false, recoveryPoint: this.recoveryPoint });
      this.segments = state.segments;
      this.producerState = state.producerState;
      this.epochs = state.epochs ?? this.epochs;
      this.finishedPoint = state.recoveryPoint;
      this.rolled.reset();
      if (this.logEndOffset < before.durableOffset) {
        this.deps.events.error({ partition: this.name, ...before, found: this.logEndOffset }, 'records below the durable offset are missing from the files');
      } else if (this.deps.fsyncPolicy === 'always' && this.logEndOffset > before.durableOffset) {
        await this.cutTo(before.durableOffset);
      }
      this.durability.resetDurableOffset(this.logEndOffset, true);
    } catch (err) {
      const reason = storageError(`reopening ${this.name}`, err);
      offline.reopenFailed(reason);
      this.deps.events.warn({ partition: this.name, err: reason }, 'reopening the partition failed; it stays offline');
      throw reason;
    }
    offline.reopened();
    this.changed();
    this.deps.events.warn({ partition: this.name, ...before, logEndOffset: this.logEndOffset }, 'partition reopened from its files; appends go on');
  }

  // ---------------------------------------------------------------- truncate and retention

  /**
   * Removes every batch whose last offset is >= `offset` (the batch holding `offset` goes whole), for
   * replication to drop a diverged tail. The log end offset becomes <= `offset`, except that the first
   * segment's base offset is kept (truncating below the log start offset empties the log there).
   */
  truncateTo(offset: number): Promise<void> {
    return this.serial.run(() => this.cutTo(offset));
  }

  /** truncateTo, inside the serial section. */
  private async cutTo(offset: number): Promise<void> {
    if (this.abandoned) throw this.closedReason;
    if (offset >= this.logEndOffset) return;
    // A snapshot still being written after a roll must land before the snapshots above the cut are deleted.
    await this.background.idle();
    await this.cutSegmentsTo(Math.max(offset, 0));
    const end = this.logEndOffset;
    if (this.epochs.truncateFromEnd(end)) await this.epochs.flush();
    await deleteSnapshotsAbove(this.deps.handles.io, this.dir, end);
    this.producerState = await rebuildProducerState(this.deps.handles.io, this.dir, this.segments, end, this.deps.events);
    this.deps.events.warn({ partition: this.name, offset, logEndOffset: end }, 'log truncated');
    this.changed();
  }

  /**
   * Replaces the whole log by an empty one that starts at `offset` (Kafka's truncateFullyAndStartAt): a
   * follower whose log ends below the leader's log start offset cannot fetch what it misses, so it starts
   * over there. Producer state, snapshots and epochs go with the old segments.
   */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.serial.run(async () => {
      if (this.abandoned) throw this.closedReason;
      if (offset <= this.logEndOffset) throw new RangeError(`truncateFullyAndStartAt(${offset}) at or below the log end offset ${this.logEndOffset}`);
      await this.background.idle();
      const fresh = await LogSegment.create(this.deps.handles, this.dir, offset, segmentOptionsOf(this.config));
      fresh.nextOffset = offset;
      this.segments.push(fresh);
      await this.deleteOldest(this.segments.length - 1, 'truncated fully');
      this.epochs.truncateFromEnd(0);
      await this.epochs.flush();
      await deleteSnapshotsAbove(this.deps.handles.io, this.dir, -1);
      this.producerState = new ProducerStateMap();
      this.finishedPoint = offset;
      this.durability.resetDurableOffset(offset, true);
      this.deps.events.warn({ partition: this.name, logStartOffset: offset }, 'log truncated fully: it starts over at the leader\'s log start offset');
      this.changed();
    });
  }

  protected async repairAfterSyncFailure(durableOffset: number): Promise<void> {
    await this.truncateTo(durableOffset);
    await this.activeSegment.sync();
  }

  protected resumeAppends(): void {
    if (this.queue.length > 0) this.kick();
  }

  /**
   * Retention: deletes the oldest segments that `policy` expires at `now` (see retention.ts), never past
   * `highWatermark`, rolling first when the active segment expired too. The log start offset moves to the first segment kept; it is the base
   * offset of the first segment file, so it persists once the background renames are synced (until then a
   * restart brings the deleted segments back, for the next pass).
   */
  applyRetention(policy: RetentionPolicy, now: number, highWatermark: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.serial.run(async () => {
      if (this.closed || this.offlineReason) return { deletedSegments: 0, freedBytes: 0 };
      const plan = await planRetention(this.segments, policy, now, highWatermark);
      if (plan.deleteCount === 0) return { deletedSegments: 0, freedBytes: 0 };
      if (plan.rollFirst) {
        await this.roll();
        await this.background.idle(); // the rolled segment is finished (indexes trimmed) before it goes
      }
      return this.deleteOldest(Math.min(plan.deleteCount, this.segments.length - 1), plan.reason ?? 'retention');
    });
  }

  // ---------------------------------------------------------------- close

  /**
   * Clean close: waits for queued appends, flushes data and indexes, finishes rolled segments, trims the
   * active segment's preallocated indexes, snapshots producer state at the log end offset and sets the
   * recovery point to it (to the oldest rolled segment that could not be finished, if any: the next start
   * then recovers from there).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.serial.run(async () => {
      this.closed = true;
      this.closedReason = new BrokerError('KAFKA_STORAGE_ERROR', `log ${this.name} is closing`);
      for (const p of this.queue.splice(0)) p.reject(this.closedReason);
    });
    await this.background.finish();
    if (this.offlineReason) {
      for (const s of this.segments) s.dropHandles();
      return;
    }
    await this.flush();
    await this.rolled.finish();
    const active = this.activeSegment;
    await active.sync();
    await active.finishIndexes();
    for (const s of this.segments) {
      await s.flushAll().catch((err) => this.deps.events.error({ partition: this.name, segment: s.baseOffset, err }, 'flushing a segment at close failed'));
    }
    const end = this.logEndOffset;
    const latest = await readLatestSnapshot(this.deps.handles.io, this.dir, end);
    if (end > this.logStartOffset && latest?.offset !== end) {
      await writeSnapshot(this.deps.handles.io, this.dir, end, this.producerState.toJSON());
    }
    this.finishedPoint = this.rolled.oldestPending ?? end;
    for (const s of this.segments) s.dropHandles();
  }

  override abandon(reason?: BrokerError): void {
    if (this.abandoned) return;
    super.abandon(reason);
    for (const p of this.queue.splice(0)) p.reject(this.closedReason);
  }
}
