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
import type { FileIO } from './file-io.js';
import type { HandleCache } from './handle-cache.js';
import { DEFAULT_LOG_CONFIG, segmentOptionsOf, type FsyncPolicy, type LogConfig, type LogEvents } from './log-config.js';
import { LogSegment, type AppendedBatch } from './log-segment.js';
import { deleteSnapshotsAbove, readLatestSnapshot, writeSnapshot } from './producer-snapshot.js';
import { ProducerStateMap, type ProducerBatch } from './producer-state.js';
import { BATCH_HEADER_SIZE, assignOffsetAndEpoch, batchSize, lastOffsetOf, readBatchHeader, type RecordBatchHeader } from './record-batch.js';
import { decodeRecords, splitBatches } from './batch-decoder.js';
import { GroupSync } from './group-sync.js';
import { Serial } from './serial.js';
import type { TopicPartition } from './segment-files.js';

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

export interface AppendOptions {
  /** stamped into every appended batch (replication uses it for log divergence) */
  leaderEpoch?: number;
  /** batches built by the broker itself: skip the full validation */
  trusted?: boolean;
  /**
   * false for batches whose baseSequence is a per-request sequence checked by the broker (the JSON produce
   * path): the producer epoch is still fenced here, and the batches still enter the producer state.
   */
  checkSequences?: boolean;
}

export interface BatchAppendInfo {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** a retry of a batch that was appended before: nothing was written, these are its original offsets */
  duplicate: boolean;
}

export interface AppendResult {
  batches: BatchAppendInfo[];
  /** true when every batch of the request was a duplicate */
  duplicate: boolean;
}

export interface ReadOptions {
  maxBytes: number;
  /** exclusive upper bound, default the high watermark (replication reads up to the log end offset) */
  maxOffset?: number;
}

export interface ReadResult {
  /** whole batches as stored; the first may start before the requested offset */
  bytes: Buffer;
  /** where the next read continues (the requested offset when nothing was read) */
  nextOffset: number;
}

export interface SegmentInfo {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  maxTimestamp: number;
  active: boolean;
}

interface PendingAppend {
  data: Buffer;
  batches: { at: number; header: RecordBatchHeader }[];
  leaderEpoch: number;
  checkSequences: boolean;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

interface PlannedAppend {
  request: PendingAppend;
  results: BatchAppendInfo[];
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
  private readonly background = new Set<Promise<unknown>>();
  private readonly pendingDeletes = new Set<() => void>();
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
      batches = options.trusted ? trustedSplit(data) : splitBatches(data);
    } catch (err) {
      return Promise.reject(err);
    }
    if (batches.length === 0) return Promise.reject(new BrokerError('INVALID_REQUEST', 'no record batch to append'));
    for (const { header } of batches) {
      if (batchSize(header) > this.config.maxMessageBytes) {
        return Promise.reject(
          new BrokerError('RECORD_TOO_LARGE', `record batch of ${batchSize(header)} bytes exceeds maxMessageBytes ${this.config.maxMessageBytes}`, {
            details: { maxMessageBytes: this.config.maxMessageBytes },
          }),
        );
      }
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
      // Batches of one request are checked in order against the state that includes the earlier ones, and
      // join the unit only if all of them pass.
      const requestState = overlay.fork();
      const results: BatchAppendInfo[] = [];
      let offset = nextOffset;
      try {
        for (const { header } of request.batches) {
          const check = request.checkSequences ? requestState.check(header) : requestState.checkEpoch(header);
          if (check.kind === 'duplicate') {
            results.push(duplicateInfo(check.batch));
            continue;
          }
          results.push({ baseOffset: offset, lastOffset: offset + header.lastOffsetDelta, maxTimestamp: header.maxTimestamp, duplicate: false });
          requestState.update({ ...header, baseOffset: offset });
          offset += header.lastOffsetDelta + 1;
        }
      } catch (err) {
        request.reject(err);
        continue;
      }
      requestState.commitTo(overlay);
      request.batches.forEach(({ at, header }, i) => {
        const result = results[i]!;
        if (result.duplicate) return;
        assignOffsetAndEpoch(request.data, at, result.baseOffset, request.leaderEpoch);
        const size = batchSize(header);
        buffers.push(request.data.subarray(at, at + size));
        written.push({ lastOffset: result.lastOffset, maxTimestamp: header.maxTimestamp, size });
        unitBytes += size;
      });
      nextOffset = offset;
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
    return segment.size + bytes > this.config.segmentBytes || nextOffset - 1 - segment.baseOffset > 0x7fffffff || segment.indexesFull;
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
    this.runInBackground(async () => {
      await old.onBecomeInactive();
      this.dirty.delete(old);
      if (this.logEndOffset >= snapshot.offset) await writeSnapshot(this.deps.handles.io, this.dir, snapshot.offset, snapshot.state);
      // Everything before the new segment is now on disk, data and indexes.
      if (this.segments.includes(next)) this.recoveryPoint = Math.max(this.recoveryPoint, next.baseOffset);
    }, `finishing segment ${old.baseOffset} after roll`);
  }

  private runInBackground(task: () => Promise<void>, what: string): void {
    const p = task().catch((err) => this.deps.events.error({ partition: this.name, err }, `${what} failed`));
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  // ---------------------------------------------------------------- read

  /**
   * Reads whole batches starting with the one that holds `offset`, up to `maxBytes` (at least one batch, so a
   * batch larger than maxBytes still makes progress) and below `maxOffset`. Stops at a segment end.
   */
  async read(offset: number, options: ReadOptions): Promise<ReadResult> {
    const maxOffset = options.maxOffset ?? this.highWatermark;
    if (offset < this.logStartOffset || offset > maxOffset) {
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${this.logStartOffset}, ${maxOffset}] of ${this.name}`, {
        details: { logStartOffset: this.logStartOffset, highWatermark: this.highWatermark },
      });
    }
    const empty = { bytes: Buffer.alloc(0), nextOffset: offset };
    if (offset === maxOffset) return empty;
    for (let i = this.segmentIndexFor(offset); i < this.segments.length; i++) {
      const bytes = await this.segments[i]!.readFrom(offset, options.maxBytes);
      if (bytes === null) continue;
      return trimToBatches(bytes, maxOffset, offset, options.maxBytes);
    }
    return empty;
  }

  /** Index into `segments` of the segment whose range holds `offset` (binary search on base offsets). */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /**
   * The first offset below the high watermark whose record timestamp is >= `timestamp` (Kafka's
   * ListOffsets), found through the time indexes; null when there is none.
   */
  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    for (const segment of this.segments) {
      await segment.ensureIndexesLoaded();
      if (segment.baseOffset >= this.highWatermark) return null;
      const found = await segment.findOffsetByTimestamp(timestamp, (batch, header) => decodeRecords(batch, header));
      if (found) return found.offset < this.highWatermark ? found : null;
    }
    return null;
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
      await Promise.all(this.background);
      const target = Math.max(offset, 0);
      while (this.segments.length > 1 && this.activeSegment.baseOffset >= target) {
        const removed = this.segments.pop()!;
        this.dirty.delete(removed);
        await this.scheduleDelete(removed, 0);
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
   * segment and never past the high watermark. The files are renamed `.deleted` at once and removed after
   * `fileDeleteDelayMs`, so reads already in progress finish. Returns what was deleted.
   */
  deleteSegmentsBefore(offset: number): Promise<{ deletedSegments: number; freedBytes: number }> {
    return this.serial.run(async () => {
      const limit = Math.min(offset, this.highWatermark);
      let deletedSegments = 0;
      let freedBytes = 0;
      while (this.segments.length > 1 && this.segments[0]!.nextOffset <= limit && this.segments[1]!.baseOffset <= limit) {
        const segment = this.segments.shift()!;
        freedBytes += segment.size;
        deletedSegments++;
        await this.scheduleDelete(segment, this.config.fileDeleteDelayMs);
      }
      if (deletedSegments > 0) {
        this.deps.events.info({ partition: this.name, deletedSegments, freedBytes, logStartOffset: this.logStartOffset }, 'deleted old segments');
      }
      return { deletedSegments, freedBytes };
    });
  }

  private async scheduleDelete(segment: LogSegment, delayMs: number): Promise<void> {
    const renamed = await segment.markDeleted();
    const remove = async () => {
      this.pendingDeletes.delete(cancel);
      segment.dropHandles();
      for (const path of renamed) {
        await this.deps.handles.io.unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') this.deps.events.warn({ path, err }, 'could not remove deleted segment file');
        });
      }
    };
    const cancelTimer = this.deps.clock.setTimer(delayMs, () => this.runInBackground(remove, 'removing deleted segment'));
    const cancel = () => {
      cancelTimer();
      this.runInBackground(remove, 'removing deleted segment');
    };
    this.pendingDeletes.add(cancel);
  }

  /** Size, range and age of every segment (for retention and describe). */
  async segmentInfos(): Promise<SegmentInfo[]> {
    const infos: SegmentInfo[] = [];
    for (const s of this.segments) {
      await s.ensureIndexesLoaded();
      infos.push({ baseOffset: s.baseOffset, nextOffset: s.nextOffset, sizeBytes: s.size, maxTimestamp: s.maxTimestamp, active: s === this.activeSegment });
    }
    return infos;
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
    await Promise.all(this.background);
    for (const cancel of [...this.pendingDeletes]) cancel();
    await Promise.all(this.background);
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
    for (const p of this.queue.splice(0)) p.reject(new BrokerError('KAFKA_STORAGE_ERROR', `log ${this.name} was abandoned`));
    for (const s of this.segments) s.dropHandles();
  }

  /** Removes all files of this partition (topic deletion); the log must not be used afterwards. */
  async deleteAll(): Promise<void> {
    this.abandon();
    for (const cancel of [...this.pendingDeletes]) cancel();
    await Promise.all(this.background);
    await this.deps.handles.io.removeTree(this.dir);
  }
}

function duplicateInfo(batch: ProducerBatch): BatchAppendInfo {
  return { baseOffset: batch.firstOffset, lastOffset: batch.lastOffset, maxTimestamp: batch.maxTimestamp, duplicate: true };
}

function countRecords(request: PendingAppend): number {
  let records = 0;
  for (const { header } of request.batches) records += header.lastOffsetDelta + 1;
  return records;
}

/** Headers of batches the broker built itself (already known valid). */
function trustedSplit(data: Buffer): { at: number; header: RecordBatchHeader }[] {
  const out: { at: number; header: RecordBatchHeader }[] = [];
  for (let at = 0; at < data.length; ) {
    const header = readBatchHeader(data, at);
    out.push({ at, header });
    at += batchSize(header);
  }
  return out;
}

/**
 * Cuts `bytes` (batches from a segment) to whole batches with baseOffset < maxOffset that fit in `maxBytes`,
 * keeping the first batch even when it alone is larger (so a reader always makes progress).
 */
function trimToBatches(bytes: Buffer, maxOffset: number, requested: number, maxBytes: number): ReadResult {
  let at = 0;
  let nextOffset = requested;
  while (at + BATCH_HEADER_SIZE <= bytes.length) {
    const header = readBatchHeader(bytes, at);
    const size = batchSize(header);
    if (header.baseOffset >= maxOffset || at + size > bytes.length || (at > 0 && at + size > maxBytes)) break;
    at += size;
    nextOffset = lastOffsetOf(header) + 1;
  }
  return { bytes: bytes.subarray(0, at), nextOffset };
}

/**
 * Producer state as of `endOffset`: the newest snapshot at or below it, then the batch headers after it.
 */
export async function rebuildProducerState(
  io: FileIO,
  dir: string,
  segments: LogSegment[],
  endOffset: number,
  events: LogEvents,
): Promise<ProducerStateMap> {
  const snapshot = await readLatestSnapshot(io, dir, endOffset);
  if (snapshot?.skipped.length) events.warn({ skipped: snapshot.skipped }, 'ignored unreadable producer snapshots; reading the log instead');
  const state = snapshot && snapshot.offset >= 0 ? snapshot.state : new ProducerStateMap();
  const from = snapshot && snapshot.offset >= 0 ? snapshot.offset : 0;
  for (const segment of segments) {
    if (segment.nextOffset <= from) continue;
    const position = from > segment.baseOffset ? (await segment.findBatch(from))?.position ?? segment.size : 0;
    await segment.forEachBatchHeader(position, (header) => {
      if (header.baseOffset >= endOffset) return false;
      if (lastOffsetOf(header) >= from) state.update(header);
      return true;
    });
  }
  return state;
}
