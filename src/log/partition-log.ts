/**
 * The log of one partition: an ordered list of segments, the last of which (the active segment) takes
 * appends. Owns offset assignment, rolling, durability under the fsync policy, reads bounded by the high
 * watermark, lookups by timestamp, truncation and segment deletion.
 *
 * Offsets: log start offset (first segment's base offset) <= high watermark <= log end offset (one past the
 * last appended record). The high watermark is set by the layer above (single node: after the append is
 * durable; with replication: when the ISR has it); reads for consumers stop below it.
 *
 * Appends are queued and written in groups: every request waiting when a write starts goes into one
 * writev, and under fsync `always` all of them share one fdatasync (group-sync.ts). A request's batches are
 * appended together or not at all. A failed write is cut back and rejected without consuming offsets; a failed
 * fdatasync rejects everything not yet durable and truncates the log back to what is (see onSyncFailure).
 *
 * Loading and recovery live in log-loader.ts.
 */
import type { Clock } from './clock.js';
import { BrokerError, storageError } from './errors.js';
import type { HandleCache } from './handle-cache.js';
import { DEFAULT_LOG_CONFIG, segmentOptionsOf, type FsyncPolicy, type LogConfig, type LogEvents } from './log-config.js';
import { LogSegment, MAX_RELATIVE_OFFSET, type AppendedBatch } from './log-segment.js';
import { deleteSnapshotsAbove, readLatestSnapshot, rebuildProducerState, writeSnapshot } from './producer-snapshot.js';
import type { ProducerStateMap } from './producer-state.js';
import type { RecordBatchHeader } from './record-batch.js';
import { findOffsetByTimestamp, describeSegments, readSegments, type ReadOptions, type ReadResult, type SegmentInfo } from './log-reader.js';
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
import { BackgroundWork } from './background-work.js';
import { GroupSync } from './group-sync.js';
import { planRetention, type RetentionPolicy } from './retention.js';
import { Serial } from './serial.js';
import type { TopicPartition } from './segment-files.js';

export type { AppendOptions, AppendResult, BatchAppendInfo } from './append-planner.js';
export type { ReadOptions, ReadResult, SegmentInfo } from './log-reader.js';

/** Largest write of one unit (one writev); more queued data goes into the next unit. */
const MAX_UNIT_BYTES = 4 * 1024 * 1024;

export interface PartitionLogDeps {
  handles: HandleCache;
  clock: Clock;
  events: LogEvents;
  fsyncPolicy: FsyncPolicy;
  /** told how long each fdatasync of a group took (metrics) */
  onSync?: (seconds: number) => void;
}

export class PartitionLog {
  /** oldest first; never empty; the last one is active */
  segments: LogSegment[];
  highWatermark: number;
  /** every offset below it has data and indexes on disk (advanced at roll and clean close) */
  recoveryPoint: number;
  producerState: ProducerStateMap;
  config: LogConfig;
  /** set when an I/O failure could not be repaired: appends are refused, reads still work */
  offlineReason: BrokerError | null = null;

  private readonly queue: PendingAppend[] = [];
  private draining = false;
  /** set while the log is cut back after a failed fdatasync: queued appends wait */
  private repairing = false;
  private readonly serial = new Serial();
  private readonly sync: GroupSync;
  private dirty = new Set<LogSegment>();
  private readonly background: BackgroundWork;
  private closed = false;
  private readonly appendListeners = new Set<() => void>();

  constructor(
    readonly dir: string,
    readonly topicPartition: TopicPartition,
    config: Partial<LogConfig>,
    private readonly deps: PartitionLogDeps,
    state: { segments: LogSegment[]; recoveryPoint: number; producerState: ProducerStateMap; highWatermark?: number },
  ) {
    this.config = { ...DEFAULT_LOG_CONFIG, ...config };
    this.segments = state.segments;
    this.recoveryPoint = state.recoveryPoint;
    this.producerState = state.producerState;
    this.highWatermark = state.highWatermark ?? this.logEndOffset;
    this.background = new BackgroundWork(deps.handles.io, deps.clock, deps.events, this.name);
    this.sync = new GroupSync(
      {
        beginSync: () => this.beginSync(),
        endOffset: () => this.logEndOffset,
        onFailure: (durable, err) => this.onSyncFailure(durable, err),
      },
      this.logEndOffset,
    );
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get logEndOffset(): number {
    return this.activeSegment.nextOffset;
  }

  /** true after close() or abandon() */
  get isClosed(): boolean {
    return this.closed;
  }

  get durableOffset(): number {
    return this.sync.durableOffset;
  }

  get sizeInBytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  get name(): string {
    return `${this.topicPartition.topic}-${this.topicPartition.partition}`;
  }

  updateConfig(config: Partial<LogConfig>): void {
    this.config = { ...this.config, ...config };
  }

  /** Sets the high watermark, clamped to [log start offset, log end offset]. */
  setHighWatermark(offset: number): void {
    const clamped = Math.min(Math.max(offset, this.logStartOffset), this.logEndOffset);
    if (clamped === this.highWatermark) return;
    this.highWatermark = clamped;
    for (const listener of this.appendListeners) listener();
  }

  /** Forgets idempotent producers idle for `expirationMs` (see ProducerStateMap.removeExpired). */
  expireProducers(now: number, expirationMs: number): number {
    return this.producerState.removeExpired(now, expirationMs);
  }

  /** Called whenever the high watermark moves (long polling waits on it). Returns an unsubscribe function. */
  onHighWatermarkChange(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends one or more record batches (back to back in `data`) atomically. Offsets are assigned by
   * rewriting each batch's baseOffset and partitionLeaderEpoch; the bytes are stored as they are.
   * Resolves once the batches are durable under the fsync policy.
   */
  append(data: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new BrokerError('KAFKA_STORAGE_ERROR', `log ${this.name} is closed`));
    if (this.offlineReason) return Promise.reject(this.offlineReason);
    let batches: { at: number; header: RecordBatchHeader }[];
    try {
      batches = splitForAppend(data, options.trusted === true, this.config.maxMessageBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ data, batches, leaderEpoch: options.leaderEpoch ?? 0, checkSequences: options.checkSequences ?? true, resolve, reject });
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
        if (this.queue.length > 0 && !this.offlineReason && !this.repairing) this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.repairing) {
      if (this.offlineReason) {
        for (const p of this.queue.splice(0)) p.reject(this.offlineReason);
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
        this.queue.shift();
        first.reject(err);
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
        await segment.append(buffers, written, this.deps.clock.now());
      } catch (err) {
        for (const p of planned) p.request.reject(err);
        this.deps.events.error({ partition: this.name, err }, 'append failed; the log is unchanged');
        return;
      }
      overlay.commitTo(this.producerState);
      this.dirty.add(segment);
    }
    for (const p of planned) this.acknowledge(p);
  }

  private acknowledge({ request, results }: PlannedAppend): void {
    const result: AppendResult = { batches: results, duplicate: results.every((r) => r.duplicate) };
    const end = Math.max(...results.map((r) => r.lastOffset)) + 1;
    if (this.deps.fsyncPolicy === 'always') {
      this.sync.waitDurable(end).then(
        () => request.resolve(result),
        (err) => request.reject(storageError(`fdatasync of ${this.name}`, err)),
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

  // ---------------------------------------------------------------- durability

  private beginSync(): { upTo: number; run: () => Promise<void> } {
    const upTo = this.logEndOffset;
    const segments = [...this.dirty];
    this.dirty = new Set();
    return {
      upTo,
      run: async () => {
        const started = process.hrtime.bigint();
        for (const s of segments) await s.sync();
        this.deps.onSync?.(Number(process.hrtime.bigint() - started) / 1e9);
      },
    };
  }

  /**
   * An fdatasync failed: the bytes after `durableOffset` may or may not be on disk, and the kernel may
   * have dropped them from the page cache. Cut the log back to what is durable (every waiter after it has
   * been rejected); if even that fails, take the partition offline.
   */
  private async onSyncFailure(durableOffset: number, error: unknown): Promise<void> {
    if (this.deps.fsyncPolicy !== 'always') {
      // Under `interval` and `never` the records after the durable offset were acknowledged already: cutting
      // them would lose acknowledged data. Stop taking appends instead; a restart recovers what is on disk.
      this.goOffline(storageError(`fdatasync of ${this.name} (records up to the log end offset were acknowledged)`, error));
      return;
    }
    this.deps.events.error({ partition: this.name, err: error, durableOffset }, 'fdatasync failed; truncating to the durable offset');
    this.repairing = true;
    try {
      await this.truncateTo(durableOffset);
      await this.activeSegment.sync();
    } catch (err) {
      this.goOffline(storageError(`repairing ${this.name} after a failed fdatasync`, err));
    } finally {
      this.repairing = false;
    }
    if (this.queue.length > 0) this.kick();
  }

  private goOffline(reason: BrokerError): void {
    if (this.offlineReason) return;
    this.offlineReason = reason;
    this.deps.events.error({ partition: this.name, err: reason }, 'partition is offline');
  }

  /**
   * Waits for the background work started so far: finishing rolled segments, and renaming the files of
   * segments retention took out of the log (their removal after fileDeleteDelayMs is not waited for).
   */
  async settle(): Promise<void> {
    await this.background.idle();
  }

  /** Writes everything appended so far to disk (fsync policy `interval`, checkpoints, clean close). */
  async flush(): Promise<void> {
    await this.sync.syncNow();
  }

  // ---------------------------------------------------------------- roll

  /** Starts a new active segment at the log end offset (no-op when the active segment is empty). */
  async roll(): Promise<void> {
    const old = this.activeSegment;
    if (old.isEmpty) return;
    const next = await LogSegment.create(this.deps.handles, this.dir, this.logEndOffset, segmentOptionsOf(this.config));
    next.nextOffset = this.logEndOffset;
    this.segments.push(next);
    const snapshot = { offset: next.baseOffset, state: this.producerState.toJSON().map((e) => ({ ...e, batches: [...e.batches] })) };
    this.background.run(async () => {
      try {
        await old.onBecomeInactive();
      } catch (err) {
        // The rolled segment's data may not be on disk, and a later fdatasync of the same file could wrongly
        // succeed (the kernel reports a write-back error once): stop taking appends.
        this.goOffline(storageError(`finishing rolled segment ${old.baseOffset} of ${this.name}`, err));
        throw err;
      }
      this.dirty.delete(old);
      if (this.logEndOffset >= snapshot.offset) await writeSnapshot(this.deps.handles.io, this.dir, snapshot.offset, snapshot.state);
      // Everything before the new segment is now on disk, data and indexes.
      if (this.segments.includes(next)) this.recoveryPoint = Math.max(this.recoveryPoint, next.baseOffset);
    }, `finishing segment ${old.baseOffset} after roll`);
  }



  // ---------------------------------------------------------------- read

  /**
   * Reads whole batches starting with the one that holds `offset`, up to `maxBytes` (at least one batch)
   * and below `maxOffset` (default the high watermark). Stops at a segment end.
   */
  read(offset: number, options: ReadOptions): Promise<ReadResult> {
    const maxOffset = options.maxOffset ?? this.highWatermark;
    if (offset < this.logStartOffset || offset > maxOffset) {
      return Promise.reject(
        new BrokerError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${this.logStartOffset}, ${maxOffset}] of ${this.name}`, {
          details: { logStartOffset: this.logStartOffset, highWatermark: this.highWatermark },
        }),
      );
    }
    return readSegments(this.segments, offset, options.maxBytes, maxOffset);
  }

  /** The first offset below the high watermark whose record timestamp is >= `timestamp` (Kafka's ListOffsets). */
  offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    return findOffsetByTimestamp(this.segments, timestamp, this.highWatermark);
  }

  /** Size, range and age of every segment (for retention and describe). */
  segmentInfos(): Promise<SegmentInfo[]> {
    return describeSegments(this.segments);
  }

  // ---------------------------------------------------------------- truncate and delete

  /**
   * Removes every batch whose last offset is >= `offset` (the batch holding `offset` goes whole), for
   * replication to drop a diverged tail. The log end offset becomes <= `offset`, except that the first
   * segment's base offset is kept (truncating below the log start offset empties the log there).
   */
  truncateTo(offset: number): Promise<void> {
    return this.serial.run(async () => {
      if (offset >= this.logEndOffset) return;
      // A snapshot still being written after a roll must land before the snapshots above the cut are deleted.
      await this.background.idle();
      const target = Math.max(offset, 0);
      while (this.segments.length > 1 && this.activeSegment.baseOffset >= target) {
        const removed = this.segments.pop()!;
        this.dirty.delete(removed);
        const { error } = await this.background.deleteSegments([removed], 0); // newest first, each durable before the next
        if (error) {
          this.segments.push(removed);
          throw error;
        }
      }
      const active = this.activeSegment;
      await active.truncateTo(target);
      if (active.baseOffset >= target && active.isEmpty) active.nextOffset = active.baseOffset;
      const end = this.logEndOffset;
      this.highWatermark = Math.min(this.highWatermark, end);
      this.recoveryPoint = Math.min(this.recoveryPoint, active.baseOffset);
      this.sync.resetDurableOffset(Math.min(this.sync.durableOffset, end));
      await deleteSnapshotsAbove(this.deps.handles.io, this.dir, end);
      this.producerState = await rebuildProducerState(this.deps.handles.io, this.dir, this.segments, end, this.deps.events);
      this.deps.events.warn({ partition: this.name, offset, logEndOffset: end }, 'log truncated');
    });
  }

  /**
   * Deletes whole segments whose records all lie below `offset` (retention), oldest first; never the active
   * segment and never past the high watermark. The segments leave the log at once; their files are renamed
   * `.deleted` in the background and removed after `fileDeleteDelayMs`, so reads already in progress finish.
   * Returns what was deleted.
   */
  deleteSegmentsBefore(offset: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.serial.run(async () => {
      const limit = Math.min(offset, this.highWatermark);
      let count = 0;
      while (count < this.segments.length - 1 && this.segments[count]!.nextOffset <= limit && this.segments[count + 1]!.baseOffset <= limit) count++;
      return this.deleteOldest(count, 'before offset');
    });
  }

  /**
   * Retention: deletes the oldest segments that `policy` expires at `now` (see retention.ts), rolling first
   * when the active segment expired too. The log start offset moves to the first segment kept; it is the base
   * offset of the first segment file, so it persists once the background renames are synced (until then a
   * restart brings the deleted segments back, for the next pass).
   */
  applyRetention(policy: RetentionPolicy, now: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.serial.run(async () => {
      if (this.closed || this.offlineReason) return { deletedSegments: 0, freedBytes: 0 };
      const plan = await planRetention(this.segments, policy, now, this.highWatermark);
      if (plan.deleteCount === 0) return { deletedSegments: 0, freedBytes: 0 };
      if (plan.rollFirst) {
        await this.roll();
        await this.background.idle(); // the rolled segment is finished (flushed, indexes trimmed) before it goes
      }
      return this.deleteOldest(Math.min(plan.deleteCount, this.segments.length - 1), plan.reason ?? 'retention');
    });
  }

  /** Deletes the `count` oldest segments (never the active one). Runs inside the serial section. */
  private async deleteOldest(count: number, reason: string): Promise<{ deletedSegments: number; freedBytes: number }> {
    // Out of the list at once: no new read starts on them and the log start offset moves now. Their files are
    // renamed and removed in the background (see BackgroundWork), so appends do not wait for that.
    const doomed = this.segments.splice(0, Math.min(count, this.segments.length - 1));
    let freedBytes = 0;
    for (const segment of doomed) {
      this.dirty.delete(segment);
      freedBytes += segment.size;
    }
    this.background.deleteSegmentsInBackground(doomed, this.config.fileDeleteDelayMs);
    const deletedSegments = doomed.length;
    if (deletedSegments > 0) {
      this.deps.events.info({ partition: this.name, deletedSegments, freedBytes, logStartOffset: this.logStartOffset, reason }, 'deleted old segments');
    }
    return { deletedSegments, freedBytes };
  }

  // ---------------------------------------------------------------- close

  /**
   * Clean close: waits for queued appends, flushes data and indexes, trims the active segment's
   * preallocated indexes, snapshots producer state at the log end offset and sets the recovery point to it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.serial.run(async () => {
      this.closed = true;
      for (const p of this.queue.splice(0)) p.reject(new BrokerError('KAFKA_STORAGE_ERROR', `log ${this.name} is closing`));
    });
    await this.background.finish();
    if (this.offlineReason) {
      for (const s of this.segments) s.dropHandles();
      return;
    }
    await this.flush();
    const active = this.activeSegment;
    await active.onBecomeInactive();
    for (const s of this.segments) {
      await s.flushAll().catch((err) => this.deps.events.error({ partition: this.name, segment: s.baseOffset, err }, 'flushing a segment at close failed'));
    }
    const end = this.logEndOffset;
    const latest = await readLatestSnapshot(this.deps.handles.io, this.dir, end);
    if (end > this.logStartOffset && latest?.offset !== end) {
      await writeSnapshot(this.deps.handles.io, this.dir, end, this.producerState.toJSON());
    }
    this.recoveryPoint = end;
    for (const s of this.segments) s.dropHandles();
  }

  /** Closes without flushing (tests simulate a crash; the broker uses it for an offline partition). */
  abandon(): void {
    this.closed = true;
    // Wake long polls waiting on this log: they look the partition up again (and find it gone).
    for (const listener of this.appendListeners) listener();
    for (const p of this.queue.splice(0)) p.reject(new BrokerError('KAFKA_STORAGE_ERROR', `log ${this.name} was abandoned`));
    for (const s of this.segments) s.dropHandles();
  }

  /** Removes all files of this partition (topic deletion); the log must not be used afterwards. */
  async deleteAll(): Promise<void> {
    this.abandon();
    await this.background.finish();
    await this.deps.handles.io.removeTree(this.dir);
  }
}

