/**
 * Sparse offset index (`.index`): 8-byte entries, big-endian
 *
 *   relativeOffset i32   last offset of an indexed batch minus the segment's base offset
 *   position       i32   byte position of that batch in the .log
 *
 * Relative offsets strictly increase and so do positions. `lookup(offset)` gives the position of the last
 * indexed batch whose last offset is <= offset (0 when none): reading forward from there, batch header by batch
 * header, reaches the batch that holds `offset` within about `indexIntervalBytes`.
 */
import type { HandleCache } from './handle-cache.js';
import { SparseIndex } from './sparse-index.js';

export const OFFSET_INDEX_ENTRY_SIZE = 8;

export class OffsetIndex extends SparseIndex {
  constructor(handles: HandleCache, path: string, baseOffset: number, maxIndexBytes: number) {
    super(handles, path, baseOffset, OFFSET_INDEX_ENTRY_SIZE, Math.floor(maxIndexBytes / OFFSET_INDEX_ENTRY_SIZE));
  }

  protected keyAt(data: Buffer, at: number): number {
    return data.readInt32BE(at);
  }

  protected problem(maxPosition: number): string | null {
    let previousOffset = -1;
    let previousPosition = -1;
    for (let i = 0; i < this.entries; i++) {
      const entry = this.entryAt(i);
      const relative = entry.readInt32BE(0);
      const position = entry.readInt32BE(4);
      if (relative <= previousOffset && i > 0) return `entry ${i}: relative offset ${relative} does not increase`;
      if (relative < 0) return `entry ${i}: negative relative offset ${relative}`;
      if (position <= previousPosition && i > 0) return `entry ${i}: position ${position} does not increase`;
      if (position < 0 || position >= maxPosition) return `entry ${i}: position ${position} outside the log (${maxPosition} bytes)`;
      previousOffset = relative;
      previousPosition = position;
    }
    return null;
  }

  append(lastOffset: number, position: number): void {
    this.appendEntry((data, at) => {
      data.writeInt32BE(lastOffset - this.baseOffset, at);
      data.writeInt32BE(position, at + 4);
    });
  }

  /** Position to start scanning from for `offset`. */
  lookup(offset: number): number {
    const i = this.floorEntry(offset - this.baseOffset, false);
    return i < 0 ? 0 : this.entryAt(i).readInt32BE(4);
  }

  lastEntry(): { offset: number; position: number } | null {
    if (this.entries === 0) return null;
    const entry = this.entryAt(this.entries - 1);
    return { offset: this.baseOffset + entry.readInt32BE(0), position: entry.readInt32BE(4) };
  }

  /** Drops entries for offsets >= `offset`. */
  truncateTo(offset: number): void {
    const i = this.floorEntry(offset - this.baseOffset, true);
    this.truncateEntries(i + 1);
  }
}
