/**
 * One segment of a partition log: a `.log` file of record batches back to back, starting at `baseOffset`,
 * with its offset and time indexes.
 *
 * Invariants:
 * - `size` is the byte length of the complete batches written; nothing beyond it is ever served, and a
 *   failed write is cut back to it before the error is reported.
 * - batches are in offset order and `nextOffset` is one past the last batch's last offset.
 * - every index entry points at a batch boundary below `size`.
 *
 * The segment does not decide when to roll or when to fsync; PartitionLog does. Only the active (last)
 * segment is appended to.
 */
import { basename } from 'node:path';
import { readFully, writeFully } from './file-io.js';
import type { HandleCache } from './handle-cache.js';
import { OffsetIndex } from './offset-index.js';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, batchSize, lastOffsetOf, readBatchHeader, type RecordBatchHeader } from './record-batch.js';
import { segmentPaths } from './segment-files.js';
import { TimeIndex } from './time-index.js';
import { BrokerError, storageError } from '../common/errors.js';
import { headerProblem } from './batch-decoder.js';

/** Indexes store offsets relative to the segment's base offset as i32: no offset of a segment may pass this. */
export const MAX_RELATIVE_OFFSET = 0x7fffffff;

/** What the segment needs to know about each batch it appends. */
export interface AppendedBatch {
  lastOffset: number;
  maxTimestamp: number;
  size: number;
}

export interface SegmentOptions {
  indexIntervalBytes: number;
  maxIndexBytes: number;
}

const SCAN_CHUNK = 64 * 1024;

export class LogSegment {
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  logPath: string;
  size: number;
  nextOffset: number;
  maxTimestamp = -1;
  offsetOfMaxTimestamp: number;
  /**
   * When the segment started, for rolling by segmentMs: the clock time of its first append, or for a segment
   * loaded from disk the file's creation time. Record timestamps are not used: a producer sending old
   * timestamps would otherwise roll a segment per batch.
   */
  rollingBaseTimestamp: number | null = null;
  private bytesSinceLastIndexEntry = 0;
  /** told when a missing or insane index had to be rebuilt from the log */
  onIndexRebuilt: ((reason: string) => void) | null = null;

  private constructor(
    private readonly handles: HandleCache,
    readonly dir: string,
    readonly baseOffset: number,
    size: number,
    private readonly options: SegmentOptions,
  ) {
    const paths = segmentPaths(dir, baseOffset);
    this.logPath = paths.log;
    this.size = size;
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.offsetIndex = new OffsetIndex(handles, paths.index, baseOffset, options.maxIndexBytes);
    this.timeIndex = new TimeIndex(handles, paths.timeIndex, baseOffset, options.maxIndexBytes);
  }

  /** Creates the files of a new, empty segment. */
  static async create(handles: HandleCache, dir: string, baseOffset: number, options: SegmentOptions): Promise<LogSegment> {
    const segment = new LogSegment(handles, dir, baseOffset, 0, options);
    const created: string[] = [];
    try {
      const fd = await handles.io.open(segment.logPath, 'create');
      created.push(segment.logPath);
      await handles.io.close(fd);
      await segment.offsetIndex.create();
      created.push(segment.offsetIndex.path);
      await segment.timeIndex.create();
      created.push(segment.timeIndex.path);
      await handles.io.syncDirectory(dir);
    } catch (err) {
      // Remove what this call created (and only that: an existing file is someone's data), or every later
      // attempt would fail on the half-created files.
      segment.dropHandles();
      for (const path of created) await handles.io.unlink(path).catch(() => undefined);
      throw storageError(`creating ${segment.describe()}`, err, segment.logPath);
    }
    return segment;
  }

  /** An existing segment of `size` bytes; indexes are read lazily. Call `loadTail` or `recover` next. */
  static existing(handles: HandleCache, dir: string, baseOffset: number, size: number, options: SegmentOptions): LogSegment {
    return new LogSegment(handles, dir, baseOffset, size, options);
  }

  /** "segment 5600 of partition orders-3": names the segment in messages that reach clients (no path). */
  describe(): string {
    return `segment ${this.baseOffset} of partition ${basename(this.dir)}`;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  get indexesFull(): boolean {
    return this.offsetIndex.isFull || this.timeIndex.isFull;
  }

  /**
   * Writes `buffers` (whole batches, described by `batches`) at the end of the segment. On any failure the
   * file is cut back to its previous size, so no partial batch is ever left behind.
   */
  async append(buffers: Buffer[], batches: AppendedBatch[], now: number): Promise<void> {
    const position = this.size;
    await this.handles.use(this.logPath, 'readwrite', async (fd) => {
      try {
        await writeFully(this.handles.io, fd, buffers, position);
      } catch (err) {
        await this.handles.io.truncate(fd, position).catch(() => {
          // The cut failed too. The bytes past `size` are never served (reads stop at size), the next write
          // starts at `size` and overwrites them, and recovery cuts whatever is left after the last batch.
        });
        throw storageError(`writing ${this.describe()}`, err, this.logPath);
      }
    });
    await this.ensureIndexesLoaded();
    let at = position;
    for (const batch of batches) {
      this.indexBatch(batch, at);
      at += batch.size;
    }
    this.size = at;
    if (this.rollingBaseTimestamp === null) this.rollingBaseTimestamp = now;
  }

  /** Accounts one batch at `position` in the indexes and bookkeeping (appends, rebuilds, recovery). */
  indexBatch(batch: AppendedBatch, position: number): void {
    if (batch.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = batch.maxTimestamp;
      this.offsetOfMaxTimestamp = batch.lastOffset;
    }
    if (this.bytesSinceLastIndexEntry >= this.options.indexIntervalBytes && !this.indexesFull) {
      this.offsetIndex.append(batch.lastOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += batch.size;
    this.nextOffset = batch.lastOffset + 1;
  }

  async sync(): Promise<void> {
    await this.handles.use(this.logPath, 'readwrite', (fd) => this.handles.io.datasync(fd)).catch((err) => {
      throw storageError(`fdatasync of ${this.describe()}`, err, this.logPath);
    });
  }

  /** Reads up to `length` bytes at `position`, never past `size`. */
  async read(position: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, position + length);
    if (end <= position) return Buffer.alloc(0);
    return this.handles.use(this.logPath, 'read', (fd) => readFully(this.handles.io, fd, position, end - position)).catch((err: unknown) => {
      throw storageError(`reading ${this.describe()}`, err, this.logPath);
    });
  }

  /**
   * Visits batch headers from `position` (a batch boundary) up to `size`, reading in chunks; stops when
   * `visit` returns false. Does not check CRCs.
   */
  async forEachBatchHeader(position: number, visit: (header: RecordBatchHeader, position: number) => boolean | void): Promise<void> {
    const corrupt = (problem: string) => new BrokerError('KAFKA_STORAGE_ERROR', `${this.describe()} is corrupt: ${problem}`, { context: { path: this.logPath } });
    let at = position;
    while (at < this.size) {
      const chunk = await this.read(at, SCAN_CHUNK);
      let local = 0;
      while (local + BATCH_HEADER_SIZE <= chunk.length && at + local < this.size) {
        const header = readBatchHeader(chunk, local);
        if (header.batchLength + LOG_OVERHEAD < BATCH_HEADER_SIZE) {
          throw corrupt(`invalid batch length at byte ${at + local}`);
        }
        if (visit(header, at + local) === false) return;
        local += batchSize(header);
      }
      if (local === 0) throw corrupt(`short batch header at byte ${at}`);
      at += local;
    }
  }

  /** The first batch whose last offset is >= `offset`, with its position; null when the segment ends first. */
  async findBatch(offset: number): Promise<{ position: number; header: RecordBatchHeader } | null> {
    await this.ensureIndexesLoaded();
    let found: { position: number; header: RecordBatchHeader } | null = null;
    await this.forEachBatchHeader(this.offsetIndex.lookup(offset), (header, position) => {
      if (lastOffsetOf(header) >= offset) {
        found = { position, header };
        return false;
      }
      return true;
    });
    return found;
  }

  /**
   * Bytes starting at the batch that holds `offset` (or the first batch after it), at least that whole batch
   * and about `maxBytes`; the end may cut a batch (the caller trims). Null when the segment ends first.
   * One read in the common case: from the index entry, enough to cover the scan to the batch and `maxBytes`.
   */
  async readFrom(offset: number, maxBytes: number): Promise<Buffer | null> {
    await this.ensureIndexesLoaded();
    const start = this.offsetIndex.lookup(offset);
    const chunk = await this.read(start, maxBytes + this.options.indexIntervalBytes + BATCH_HEADER_SIZE);
    let at = 0;
    while (at + BATCH_HEADER_SIZE <= chunk.length) {
      const header = readBatchHeader(chunk, at);
      const size = batchSize(header);
      if (size < BATCH_HEADER_SIZE) break;
      if (lastOffsetOf(header) >= offset) {
        return at + size <= chunk.length ? chunk.subarray(at) : this.read(start + at, Math.max(maxBytes, size));
      }
      at += size;
    }
    if (start + at >= this.size) return null;
    // The batch lies beyond the chunk (very large batches between index entries): scan for it.
    const found = await this.findBatch(offset);
    return found ? this.read(found.position, Math.max(maxBytes, batchSize(found.header))) : null;
  }

  /**
   * Reads the indexes of an inactive segment on first use; a missing or insane index is rebuilt from the log
   * (and the reason returned so the caller can report it).
   */
  async ensureIndexesLoaded(): Promise<string | null> {
    if (this.offsetIndex.isLoaded && this.timeIndex.isLoaded) return null;
    const problem = (await this.offsetIndex.load(this.size)) ?? (await this.timeIndex.load(this.size));
    if (problem === null) {
      const last = this.timeIndex.lastEntry();
      if (last && last.timestamp > this.maxTimestamp) {
        this.maxTimestamp = last.timestamp;
        this.offsetOfMaxTimestamp = last.offset;
      }
      return null;
    }
    const nextOffset = this.nextOffset;
    await this.rebuildIndexes();
    if (this.size === 0) this.nextOffset = nextOffset;
    this.onIndexRebuilt?.(problem);
    return problem;
  }

  /** Recomputes both indexes and the timestamp bookkeeping from batch headers, and rewrites the files. */
  async rebuildIndexes(): Promise<void> {
    this.resetBookkeeping();
    await this.forEachBatchHeader(0, (header, position) => {
      this.indexBatch({ lastOffset: lastOffsetOf(header), maxTimestamp: header.maxTimestamp, size: batchSize(header) }, position);
    });
    await this.offsetIndex.rewrite();
    await this.timeIndex.rewrite();
  }

  /** Forgets indexes and bookkeeping before they are rebuilt from the log. */
  resetBookkeeping(): void {
    this.offsetIndex.resetForRebuild();
    this.timeIndex.resetForRebuild();
    this.bytesSinceLastIndexEntry = 0;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.nextOffset = this.baseOffset;
  }

  /**
   * After a clean stop: loads the indexes, then reads the batch headers after the last index entry to learn
   * `nextOffset` and the largest timestamp. Reads O(indexIntervalBytes), not the segment.
   * Returns a reason when the tail does not parse (the caller then recovers the segment).
   */
  async loadTail(): Promise<string | null> {
    const indexProblem = await this.ensureIndexesLoaded();
    const lastTime = this.timeIndex.lastEntry();
    if (lastTime) {
      this.maxTimestamp = lastTime.timestamp;
      this.offsetOfMaxTimestamp = lastTime.offset;
    }
    const lastEntry = this.offsetIndex.lastEntry();
    let position = lastEntry?.position ?? 0;
    const firstPosition = position;
    this.nextOffset = this.baseOffset;
    let ok = true;
    this.bytesSinceLastIndexEntry = 0;
    await this.forEachBatchHeader(position, (header, at) => {
      // Written by this broker before a clean stop, so the CRCs are not checked here; but the offsets must
      // follow on and fit the indexes (a batch an older broker accepted unchecked sends the segment to recovery).
      if (
        header.baseOffset < this.nextOffset ||
        (at !== firstPosition && header.baseOffset !== this.nextOffset) ||
        at + batchSize(header) > this.size ||
        headerProblem(header) !== null ||
        lastOffsetOf(header) - this.baseOffset > MAX_RELATIVE_OFFSET
      ) {
        ok = false;
        return false;
      }
      if (header.maxTimestamp > this.maxTimestamp) {
        this.maxTimestamp = header.maxTimestamp;
        this.offsetOfMaxTimestamp = lastOffsetOf(header);
      }
      this.nextOffset = lastOffsetOf(header) + 1;
      if (at !== lastEntry?.position) this.bytesSinceLastIndexEntry += batchSize(header);
      position = at + batchSize(header);
    }).catch(() => {
      ok = false;
    });
    if (!ok || position !== this.size) return `segment tail does not parse (after ${indexProblem ?? 'a sane index'})`;
    await this.loadRollingBase();
    return null;
  }

  async loadRollingBase(): Promise<void> {
    this.rollingBaseTimestamp = this.size === 0 ? null : await this.handles.io.createdAtMs(this.logPath);
  }

  /** Cuts the .log file to `bytes` (after recovery found invalid bytes) and writes the rebuilt indexes. */
  async truncateFileTo(bytes: number): Promise<void> {
    await this.handles.use(this.logPath, 'readwrite', async (fd) => {
      await this.handles.io.truncate(fd, bytes);
      await this.handles.io.datasync(fd);
    });
    this.size = bytes;
  }

  /** Writes the in-memory indexes to their files (after recovery rebuilt them). */
  async writeIndexes(): Promise<void> {
    await this.offsetIndex.rewrite();
    await this.timeIndex.rewrite();
  }

  /**
   * Removes every batch whose last offset is >= `offset` (the batch containing `offset` goes whole).
   * Returns the new nextOffset.
   */
  async truncateTo(offset: number): Promise<number> {
    const found = await this.findBatch(offset);
    if (found === null) return this.nextOffset;
    await this.truncateFileTo(found.position);
    // The indexes are cut where the log was, not rebuilt from byte 0: offset entries name the last offset of
    // their batch and time entries the offset of the newest timestamp so far, so every entry at or past the
    // cut batch names an offset >= its base offset (see indexBatch).
    this.offsetIndex.truncateTo(found.header.baseOffset);
    this.timeIndex.truncateTo(found.header.baseOffset);
    await this.offsetIndex.trimToEntries();
    await this.timeIndex.trimToEntries();
    // Bookkeeping from the last entry kept to the new end, as after a clean start: O(indexIntervalBytes).
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    if ((await this.loadTail()) !== null) await this.rebuildIndexes();
    if (this.size === 0) this.rollingBaseTimestamp = null;
    return this.nextOffset;
  }

  /**
   * When a newer segment takes over (or at close): final time index entry, indexes written and trimmed to their
   * entries. The .log is the caller's to sync. Safe to repeat after a failure.
   */
  async finishIndexes(): Promise<void> {
    await this.ensureIndexesLoaded();
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
    await this.offsetIndex.trimToEntries();
    await this.timeIndex.trimToEntries();
  }

  /** Flushes data and index entries written so far (checkpoint and clean close). */
  async flushAll(): Promise<void> {
    await this.sync();
    await this.offsetIndex.flush(true);
    await this.timeIndex.flush(true);
  }

  /** Makes renames and creations in the segment's directory durable. */
  async syncDirectory(): Promise<void> {
    await this.handles.io.syncDirectory(this.dir).catch((err) => {
      throw storageError(`syncing the directory of partition ${basename(this.dir)}`, err, this.dir);
    });
  }

  /** Forgets cached descriptors of this segment's files (before close or removal). */
  dropHandles(): void {
    for (const path of [this.logPath, this.offsetIndex.path, this.timeIndex.path]) this.handles.drop(path);
  }
}
