/**
 * Sparse time index (`.timeindex`): 12-byte entries, big-endian
 *
 *   timestamp      i64   largest timestamp seen in the segment up to this entry (ms)
 *   relativeOffset i32   last offset of the batch that carried it, minus the segment's base offset
 *
 * Timestamps never decrease (an entry is added only when the maximum grew), so the index answers "where do
 * records with timestamp >= T start" even though record timestamps themselves may go backwards: every record
 * at or before an entry's offset has a timestamp <= the entry's timestamp.
 */
import { readInt64, writeInt64 } from './buffers.js';
import type { HandleCache } from './handle-cache.js';
import { SparseIndex } from './sparse-index.js';

export const TIME_INDEX_ENTRY_SIZE = 12;

export class TimeIndex extends SparseIndex {
  constructor(handles: HandleCache, path: string, baseOffset: number, maxIndexBytes: number) {
    super(handles, path, baseOffset, TIME_INDEX_ENTRY_SIZE, Math.floor(maxIndexBytes / TIME_INDEX_ENTRY_SIZE));
  }

  protected keyAt(data: Buffer, at: number): number {
    return readInt64(data, at);
  }

  protected problem(): string | null {
    let previousTimestamp = -Infinity;
    let previousOffset = -1;
    for (let i = 0; i < this.entries; i++) {
      let timestamp: number;
      try {
        timestamp = this.key(i);
      } catch {
        return `entry ${i}: timestamp does not fit in 53 bits`;
      }
      const relative = this.entryAt(i).readInt32BE(8);
      if (timestamp < previousTimestamp) return `entry ${i}: timestamp ${timestamp} goes backwards`;
      if (relative < previousOffset || relative < 0) return `entry ${i}: relative offset ${relative} goes backwards`;
      previousTimestamp = timestamp;
      previousOffset = relative;
    }
    return null;
  }

  lastEntry(): { timestamp: number; offset: number } | null {
    if (this.entries === 0) return null;
    const entry = this.entryAt(this.entries - 1);
    return { timestamp: readInt64(entry, 0), offset: this.baseOffset + entry.readInt32BE(8) };
  }

  /** Appends unless the timestamp does not exceed the last entry's (the index keeps a running maximum). */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry();
    if (last && (timestamp <= last.timestamp || offset < last.offset)) return;
    if (this.isFull) return;
    this.appendEntry((data, at) => {
      writeInt64(data, at, timestamp);
      data.writeInt32BE(offset - this.baseOffset, at + 8);
    });
  }

  /**
   * The offset after which records with timestamp >= `timestamp` can start: the offset of the last entry
   * whose timestamp is < `timestamp` (every record up to it is older), or the base offset when there is none.
   */
  lookup(timestamp: number): number {
    const i = this.floorEntry(timestamp, true);
    return i < 0 ? this.baseOffset : this.baseOffset + this.entryAt(i).readInt32BE(8);
  }

  /** Drops entries for offsets >= `offset`. */
  truncateTo(offset: number): void {
    let keep = this.entries;
    while (keep > 0 && this.baseOffset + this.entryAt(keep - 1).readInt32BE(8) >= offset) keep--;
    this.truncateEntries(keep);
  }
}
