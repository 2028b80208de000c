/**
 * The files of one partition log (Kafka's LocalLog): an ordered list of segments, the last of which (the
 * active segment) takes appends, and what is done to them as files: reads bounded by an offset the owner
 * gives (the high watermark, which the Partition above owns), lookups by timestamp, rolling to a new segment, cutting the tail, taking the oldest segments out, keeping
 * them durable (log-durability.ts) and finishing rolled ones (rolled-segments.ts), and giving them up.
 * PartitionLog builds on it with the rules of appending: offsets, producer state, acknowledgement, and
 * bringing an offline partition back.
 *
 * Offsets: log start offset (first segment's base offset) <= log end offset (one past the last appended
 * record). The high watermark between them is not the log's: the Partition (src/replication/partition.ts)
 * owns it and passes it to reads, timestamp lookups and retention. Changes the owner did not make (truncation,
 * a reopen from the files, abandonment) are announced to `onChange` listeners.
 *
 * A log that was closed or abandoned answers with the reason it was given (for a deleted topic
 * UNKNOWN_TOPIC); once abandoned, it changes its files no more, and after `quiesce` it touches them no more.
 */
import type { Clock } from './clock.js';
import { BrokerError } from '../common/errors.js';
import type { HandleCache } from './handle-cache.js';
import { DEFAULT_LOG_CONFIG, segmentOptionsOf, type FsyncPolicy, type LogConfig, type LogEvents } from './log-config.js';
import { LogDurability } from './log-durability.js';
import { findOffsetByTimestamp, readSegments, type ReadOptions, type ReadResult } from './log-reader.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import { LogSegment } from './log-segment.js';
import type { ProducerEntry, ProducerStateMap } from './producer-state.js';
import { RolledSegments } from './rolled-segments.js';
import { BackgroundWork } from './background-work.js';
import { Serial } from './serial.js';
import type { TopicPartition } from './segment-files.js';

/** Default of PartitionLogDeps.storageRetryBackoffMs. */
export const DEFAULT_STORAGE_RETRY_BACKOFF_MS = 5_000;

export interface PartitionLogDeps {
  handles: HandleCache;
  clock: Clock;
  events: LogEvents;
  fsyncPolicy: FsyncPolicy;
  /** told how long each fdatasync of a group took (metrics) */
  onSync?: (seconds: number) => void;
  /** how long after a failure an offline partition (disk full), or unfinished roll work, is tried again */
  storageRetryBackoffMs?: number;
}

/** What a log is loaded from: its segments, how far they are known to be on disk, the producer state. */
export interface LogSegmentsState {
  segments: LogSegment[];
  recoveryPoint: number;
  producerState: ProducerStateMap;
  /** the leader-epoch cache (a new log starts with an empty one) */
  epochs?: LeaderEpochCache;
}

export abstract class LocalLog {
  /** oldest first; never empty; the last one is active */
  segments: LogSegment[];
  config: LogConfig;
  /** epoch -> first offset, kept with the log: written before data of a new epoch, cut with the log */
  epochs: LeaderEpochCache;

  /** every rolled segment below it is finished (indexes, and outside `always` data, on disk) */
  protected finishedPoint: number;
  /** appends, rolls, truncation, deletion and reopening of this log, one at a time */
  protected readonly serial = new Serial();
  protected readonly durability: LogDurability;
  protected readonly rolled: RolledSegments;
  protected readonly background: BackgroundWork;
  protected closed = false;
  /** abandoned (a crash in tests, topic deletion): its files are not its own any more */
  protected abandoned = false;
  /** what appends, reads and waiters get once the log is closed or abandoned */
  protected closedReason = new BrokerError('KAFKA_STORAGE_ERROR', 'log is closed');
  protected readonly changeListeners = new Set<() => void>();

  constructor(
    readonly dir: string,
    readonly topicPartition: TopicPartition,
    config: Partial<LogConfig>,
    protected readonly deps: PartitionLogDeps,
    state: LogSegmentsState,
  ) {
    this.config = { ...DEFAULT_LOG_CONFIG, ...config };
    this.segments = state.segments;
    this.epochs = state.epochs ?? new LeaderEpochCache(deps.handles.io, dir);
    this.finishedPoint = state.recoveryPoint;
    const retryBackoffMs = deps.storageRetryBackoffMs ?? DEFAULT_STORAGE_RETRY_BACKOFF_MS;
    this.background = new BackgroundWork(deps.handles.io, deps.clock, deps.events, this.name);
    this.durability = new LogDurability(
      {
        name: this.name,
        logEndOffset: () => this.logEndOffset,
        repair: (durableOffset) => this.repairAfterSyncFailure(durableOffset),
        isClosed: () => this.abandoned,
        resume: () => this.resumeAppends(),
      },
      { ...deps, storageRetryBackoffMs: retryBackoffMs },
      this.logEndOffset,
    );
    this.rolled = new RolledSegments(
      {
        name: this.name,
        dir,
        currentSegments: () => this.segments,
        logEndOffset: () => this.logEndOffset,
        isClosed: () => this.abandoned,
        finishedBelow: (offset) => (this.finishedPoint = Math.max(this.finishedPoint, offset)),
        synced: (segment) => this.durability.forget(segment),
        goOffline: (reason) => this.durability.goOffline(reason),
      },
      { ...deps, io: deps.handles.io, retryBackoffMs },
    );
  }

  /** Cuts the log back to `durableOffset` and makes that durable (after a failed fdatasync under `always`). */
  protected abstract repairAfterSyncFailure(durableOffset: number): Promise<void>;
  /** A repair is over: queued appends may go on. */
  protected abstract resumeAppends(): void;

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
    return this.durability.durableOffset;
  }

  /** Every offset below it has data and indexes on disk (advanced when rolled segments are finished, at clean close). */
  get recoveryPoint(): number {
    // Under `always` the group commit, not the roll, makes a rolled segment's records durable.
    return this.deps.fsyncPolicy === 'always' ? Math.min(this.finishedPoint, this.durableOffset) : this.finishedPoint;
  }

  /** Set when an I/O failure could not be repaired: appends are refused, reads still work. */
  get offlineReason(): BrokerError | null {
    return this.durability.offline.reason;
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

  /**
   * Called when the log changes in a way its owner did not ask for: its tail was cut (a failed fdatasync),
   * it was reopened from its files, or it was given up. Returns an unsubscribe function.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  protected changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  // ---------------------------------------------------------------- read

  /**
   * Reads whole batches starting with the one that holds `offset`, up to `maxBytes` (at least one batch)
   * and below `maxOffset` (for consumers the high watermark, which the OFFSET_OUT_OF_RANGE details call it).
   * Stops at a segment end.
   */
  read(offset: number, options: ReadOptions): Promise<ReadResult> {
    if (this.closed) return Promise.reject(this.closedReason);
    const { maxOffset } = options;
    if (offset < this.logStartOffset || offset > maxOffset) {
      return Promise.reject(
        new BrokerError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${this.logStartOffset}, ${maxOffset}] of ${this.name}`, {
          details: { logStartOffset: this.logStartOffset, highWatermark: maxOffset },
        }),
      );
    }
    return this.unlessClosed(readSegments(this.segments, offset, options.maxBytes, maxOffset));
  }

  /** The first offset below `maxOffset` whose record timestamp is >= `timestamp` (Kafka's ListOffsets). */
  offsetForTimestamp(timestamp: number, maxOffset: number): Promise<{ offset: number; timestamp: number } | null> {
    if (this.closed) return Promise.reject(this.closedReason);
    return this.unlessClosed(findOffsetByTimestamp(this.segments, timestamp, maxOffset));
  }

  /**
   * A read that fails because the log was closed under it (its topic deleted) gets the reason it was closed.
   * One that ends after the log was abandoned gets it too: its files may belong to a new partition by now.
   */
  protected unlessClosed<T>(work: Promise<T>): Promise<T> {
    return work.then(
      (value) => {
        if (this.abandoned) throw this.closedReason;
        return value;
      },
      (err: unknown) => {
        throw this.closed ? this.closedReason : err;
      },
    );
  }

  // ---------------------------------------------------------------- roll and durability

  /**
   * Starts a new active segment at the log end offset (the old one is finished in the background, with
   * `snapshot`, the producer state now, written at the new base offset). No-op when the active segment is empty.
   */
  protected async rollWith(snapshot: () => ProducerEntry[]): Promise<void> {
    const old = this.activeSegment;
    if (old.isEmpty) return;
    const next = await LogSegment.create(this.deps.handles, this.dir, this.logEndOffset, segmentOptionsOf(this.config));
    next.nextOffset = this.logEndOffset;
    this.segments.push(next);
    this.rolled.add(old, next.baseOffset, snapshot());
    this.finishRolledSegments();
  }

  protected finishRolledSegments(): void {
    this.background.run(() => this.rolled.finish(), 'finishing rolled segments');
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
    await this.durability.flush();
  }

  /**
   * A new leader records that `epoch` starts at `startOffset` (its log end offset when it was elected) before
   * it appends anything, as Kafka does at becoming leader: a follower asking for the end of an older epoch is
   * then told where this leader's epoch began even before its first append. Runs in the serial section, so
   * every append of the new epoch comes after it. An epoch at or below the latest known is a no-op.
   */
  assignLeaderEpoch(epoch: number, startOffset: number): Promise<void> {
    return this.serial.run(async () => {
      if (this.closed || epoch <= this.epochs.latestEpoch) return;
      const next = this.epochs.copy();
      next.assign(epoch, Math.min(startOffset, this.logEndOffset));
      await next.flush(this.deps.fsyncPolicy === 'always');
      this.epochs = next;
    });
  }

  // ---------------------------------------------------------------- truncate and delete

  /**
   * The file part of truncation, inside the serial section: removes every batch whose last offset is >= `target`
   * (whole segments newest first, each removal durable before the next, then the active segment's tail).
   */
  protected async cutSegmentsTo(target: number): Promise<void> {
    while (this.segments.length > 1 && this.activeSegment.baseOffset >= target) {
      const removed = this.segments.pop()!;
      this.durability.forget(removed);
      const { error } = await this.background.deleteSegments([removed], 0);
      if (error) {
        this.segments.push(removed);
        throw error;
      }
    }
    const active = this.activeSegment;
    await active.truncateTo(target);
    if (active.baseOffset >= target && active.isEmpty) active.nextOffset = active.baseOffset;
    const end = this.logEndOffset;
    this.finishedPoint = Math.min(this.finishedPoint, active.baseOffset);
    this.durability.resetDurableOffset(end);
  }

  /**
   * Deletes whole segments whose records all lie below `offset`, oldest first, never the active segment (the
   * owner keeps `offset` at or below the high watermark). The segments leave the log at once; their files are renamed
   * `.deleted` in the background and removed after `fileDeleteDelayMs`, so reads already in progress finish.
   * Returns what was deleted.
   */
  deleteSegmentsBefore(offset: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.serial.run(async () => {
      let count = 0;
      while (count < this.segments.length - 1 && this.segments[count]!.nextOffset <= offset && this.segments[count + 1]!.baseOffset <= offset) count++;
      return this.deleteOldest(count, 'before offset');
    });
  }

  /** Deletes the `count` oldest segments (never the active one). Runs inside the serial section. */
  protected async deleteOldest(count: number, reason: string): Promise<{ deletedSegments: number; freedBytes: number }> {
    // Out of the list at once: no new read starts on them and the log start offset moves now. Their files are
    // renamed and removed in the background (see BackgroundWork), so appends do not wait for that.
    const doomed = this.segments.splice(0, Math.min(count, this.segments.length - 1));
    let freedBytes = 0;
    for (const segment of doomed) {
      this.durability.forget(segment);
      freedBytes += segment.size;
    }
    this.background.deleteSegmentsInBackground(doomed, this.config.fileDeleteDelayMs);
    // In memory only: the file's older first entry is cut to the log start again at every load, and the next
    // epoch change rewrites the file, so retention adds no file write (and no directory sync) of its own.
    this.epochs.truncateFromStart(this.logStartOffset);
    const deletedSegments = doomed.length;
    if (deletedSegments > 0) {
      this.deps.events.info({ partition: this.name, deletedSegments, freedBytes, logStartOffset: this.logStartOffset, reason }, 'deleted old segments');
    }
    return { deletedSegments, freedBytes };
  }

  // ---------------------------------------------------------------- give up

  /**
   * Closes without flushing: tests simulate a crash, and topic deletion gives the log up (`reason`, e.g.
   * UNKNOWN_TOPIC, is what appends in flight, sync waiters and later calls get). Wakes long polls waiting on
   * this log: they look the partition up again. Call `quiesce` before the files go away.
   */
  abandon(reason = new BrokerError('KAFKA_STORAGE_ERROR', `log ${this.name} was abandoned`)): void {
    if (this.abandoned) return;
    this.closed = true;
    this.abandoned = true;
    this.closedReason = reason;
    this.changed();
    for (const s of this.segments) s.dropHandles();
  }

  /**
   * After abandon(): resolves once nothing of this log touches its files any more (the write, fdatasync or
   * roll under way has ended, pending segment removals are done), so they can be renamed and removed without
   * a late write landing in a new partition of the same name.
   */
  async quiesce(): Promise<void> {
    await this.serial.run(async () => undefined);
    await this.durability.idle();
    await this.background.finish();
    for (const s of this.segments) s.dropHandles();
  }
}
