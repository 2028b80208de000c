/**
 * A bounded cache of open file descriptors, least recently used first out.
 *
 * A broker with 10,000 partitions has at least 10,000 segment files, far more than the default limit of
 * 1,024 open files. Every segment therefore asks this cache for its descriptor around each operation
 * (`use`), and the cache closes the least recently used descriptors that nobody is using once more than
 * `capacity` are open. A descriptor in use is pinned and never closed under its user; the cache may briefly
 * exceed its capacity when more than `capacity` files are in use at once.
 *
 * Closing a descriptor loses nothing: written bytes are in the page cache, and fdatasync through a later
 * descriptor of the same file flushes them.
 */
import { sep } from 'node:path';
import type { FileIO, OpenMode } from './file-io.js';

interface Entry {
  fd: Promise<number>;
  mode: OpenMode;
  pins: number;
  /** set when the entry was dropped while pinned: close when the last user leaves */
  closeWhenIdle: boolean;
}

export class HandleCache {
  private readonly entries = new Map<string, Entry>();
  private opened = 0;

  constructor(
    readonly io: FileIO,
    readonly capacity: number,
  ) {
    if (capacity < 1) throw new RangeError('handle cache capacity must be at least 1');
  }

  /** Open descriptors right now (for tests and metrics). */
  get openCount(): number {
    return this.entries.size;
  }

  /** Descriptors opened since start (for tests and metrics). */
  get openedTotal(): number {
    return this.opened;
  }

  /** Runs `fn` with a descriptor of `path` open in `mode` (readwrite serves read too). */
  async use<T>(path: string, mode: 'read' | 'readwrite', fn: (fd: number) => Promise<T>): Promise<T> {
    let entry = this.entries.get(path);
    if (entry && mode === 'readwrite' && entry.mode === 'read') {
      this.drop(path);
      entry = undefined;
    }
    if (entry) {
      this.entries.delete(path);
      this.entries.set(path, entry);
    } else {
      entry = { fd: this.io.open(path, mode), mode, pins: 0, closeWhenIdle: false };
      this.opened++;
      this.entries.set(path, entry);
      entry.fd.catch(() => {
        if (this.entries.get(path) === entry) this.entries.delete(path);
      });
    }
    // Pin before evicting, so the eviction can never pick the entry this call is about to use.
    entry.pins++;
    this.evict();
    try {
      return await fn(await entry.fd);
    } finally {
      entry.pins--;
      if (entry.pins === 0 && entry.closeWhenIdle) void this.closeEntry(entry);
      else this.evict();
    }
  }

  /** Closes the descriptor of `path` (now, or when its last user leaves). Call before unlink or rename. */
  drop(path: string): void {
    const entry = this.entries.get(path);
    if (!entry) return;
    this.entries.delete(path);
    if (entry.pins === 0) void this.closeEntry(entry);
    else entry.closeWhenIdle = true;
  }

  /** Drops the descriptor of every file below `dir` (a partition that failed to load, before its files go). */
  dropUnder(dir: string): void {
    const prefix = dir.endsWith(sep) ? dir : dir + sep;
    for (const path of [...this.entries.keys()]) if (path.startsWith(prefix)) this.drop(path);
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => (e.pins === 0 ? this.closeEntry(e) : ((e.closeWhenIdle = true), undefined))));
  }

  private evict(): void {
    if (this.entries.size <= this.capacity) return;
    for (const [path, entry] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      if (entry.pins > 0) continue;
      this.entries.delete(path);
      void this.closeEntry(entry);
    }
  }

  private async closeEntry(entry: Entry): Promise<void> {
    try {
      await this.io.close(await entry.fd);
    } catch {
      // An fd that failed to open has nothing to close; a failed close loses no data (nothing is buffered
      // in user space), and durability was established by fdatasync before anything was acknowledged.
    }
  }
}
