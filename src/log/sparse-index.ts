/**
 * The shared core of the offset index and the time index (Kafka's AbstractIndex): a sorted array of
 * fixed-size entries, searched by binary search, persisted as a flat file.
 *
 * Invariants: entries are sorted by key (strictly increasing for the offset index, non-decreasing for the time
 * index); there are never more than `maxEntries`.
 *
 * Entries live in memory (a Buffer that grows by doubling) and reach the file only at segment roll, clean
 * shutdown and after recovery rebuilt them: an index is derived data, rebuilt from the .log by recovery for
 * every segment past the recovery point, so it never needs to be written on the append path. The file is
 * preallocated to its maximum size when the segment is created (as Kafka does) and trimmed to its entries
 * when the segment becomes inactive. An inactive segment's index is read from its file on first use.
 */
import type { HandleCache } from './handle-cache.js';
import { readFully, writeFully } from './file-io.js';

const INITIAL_ENTRIES = 64;

export abstract class SparseIndex {
  private data: Buffer = Buffer.alloc(0);
  private count = 0;
  private flushedCount = 0;
  /** false until the entries were read from the file (lazy for inactive segments) */
  private loaded = false;

  protected constructor(
    protected readonly handles: HandleCache,
    public path: string,
    readonly baseOffset: number,
    readonly entrySize: number,
    readonly maxEntries: number,
  ) {}

  /** Key used for ordering and search (relative offset, or timestamp). */
  protected abstract keyAt(data: Buffer, at: number): number;
  /** Checks the loaded entries; returns a description of the first problem, or null. */
  protected abstract problem(maxPosition: number): string | null;

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  protected entryAt(i: number): Buffer {
    return this.data.subarray(i * this.entrySize, (i + 1) * this.entrySize);
  }

  protected key(i: number): number {
    return this.keyAt(this.data, i * this.entrySize);
  }

  /** An empty index whose file is created and preallocated now. */
  async create(): Promise<void> {
    this.loaded = true;
    this.count = 0;
    this.flushedCount = 0;
    const fd = await this.handles.io.open(this.path, 'create');
    try {
      await this.handles.io.truncate(fd, this.maxEntries * this.entrySize);
    } catch (err) {
      // The file is ours (created just now): remove it, or the next attempt would find it there.
      await this.handles.io.close(fd).catch(() => undefined);
      await this.handles.io.unlink(this.path).catch(() => undefined);
      throw err;
    }
    await this.handles.io.close(fd);
  }

  /** Starts empty in memory (the entries are about to be rebuilt); the file is rewritten on the next flush. */
  resetForRebuild(): void {
    this.loaded = true;
    this.count = 0;
    this.flushedCount = 0;
  }

  /**
   * Reads the entries from the file. Returns null when they are sane, or the reason they are not (missing
   * file, size not a multiple of the entry size, unsorted keys, positions past `maxPosition`); the caller then
   * rebuilds the index from the log.
   */
  async load(maxPosition: number): Promise<string | null> {
    const size = await this.handles.io.fileSize(this.path);
    if (size === null) return 'index file is missing';
    if (size % this.entrySize !== 0) return `index size ${size} is not a multiple of ${this.entrySize}`;
    if (size / this.entrySize > this.maxEntries) return `index has ${size / this.entrySize} entries, max ${this.maxEntries}`;
    const bytes = await this.handles.use(this.path, 'read', (fd) => readFully(this.handles.io, fd, 0, size));
    this.data = Buffer.from(bytes);
    this.count = bytes.length / this.entrySize;
    this.flushedCount = this.count;
    this.loaded = true;
    const problem = this.problem(maxPosition);
    if (problem) this.resetForRebuild();
    return problem;
  }

  protected appendEntry(fill: (data: Buffer, at: number) => void): void {
    if (this.count >= this.maxEntries) throw new RangeError(`index ${this.path} is full`);
    const needed = (this.count + 1) * this.entrySize;
    if (needed > this.data.length) {
      const grown = Buffer.alloc(Math.min(this.maxEntries, Math.max(INITIAL_ENTRIES, this.count * 2)) * this.entrySize);
      this.data.copy(grown, 0, 0, this.count * this.entrySize);
      this.data = grown;
    }
    fill(this.data, this.count * this.entrySize);
    this.count++;
  }

  /**
   * Index of the last entry whose key is <= `target` (or < `target` when `strict`), -1 when there is none.
   * Binary search: O(log n).
   */
  protected floorEntry(target: number, strict: boolean): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const key = this.key(mid);
      if (key < target || (!strict && key === target)) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  /** Drops entries from `index` on (used by truncation). */
  protected truncateEntries(index: number): void {
    if (index >= this.count) return;
    this.count = Math.max(0, index);
    this.flushedCount = Math.min(this.flushedCount, this.count);
  }

  /** Writes entries that are not yet in the file and, with `sync`, fdatasyncs it. */
  async flush(sync: boolean): Promise<void> {
    if (!this.loaded) return;
    const from = this.flushedCount;
    const to = this.count;
    await this.handles.use(this.path, 'readwrite', async (fd) => {
      if (to > from) {
        await writeFully(this.handles.io, fd, [this.data.subarray(from * this.entrySize, to * this.entrySize)], from * this.entrySize);
      }
      if (sync) await this.handles.io.datasync(fd);
    });
    this.flushedCount = to;
  }

  /** Flushes and cuts the preallocated file down to its entries (segment roll and clean close). */
  async trimToEntries(): Promise<void> {
    if (!this.loaded) return;
    await this.flush(false);
    await this.handles.use(this.path, 'readwrite', async (fd) => {
      await this.handles.io.truncate(fd, this.count * this.entrySize);
      await this.handles.io.datasync(fd);
    });
  }

  /** Rewrites the whole file from memory (after a rebuild). */
  async rewrite(): Promise<void> {
    await this.handles.use(this.path, 'readwrite', (fd) => this.handles.io.truncate(fd, 0)).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const fd = await this.handles.io.open(this.path, 'create');
      await this.handles.io.close(fd);
    });
    this.flushedCount = 0;
    await this.trimToEntries();
  }

}
