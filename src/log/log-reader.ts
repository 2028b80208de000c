/**
 * The read side of a partition log, over its ordered segments: reads bounded by an offset (the high
 * watermark for consumers), lookups by timestamp, and segment descriptions. Finding a segment is a binary
 * search on base offsets; inside it, the sparse index and a short forward scan (log-segment.ts).
 */
import { trimToBatches } from './batch-decoder.js';
import { firstRecordAtOrAfter } from './batch-inflation.js';
import type { LogSegment } from './log-segment.js';
import { batchSize, type RecordBatchHeader } from './record-batch.js';

export interface ReadOptions {
  maxBytes: number;
  /** exclusive upper bound: the high watermark for consumers (replication reads up to the log end offset) */
  maxOffset: number;
}

export interface ReadResult {
  /** whole batches as stored; the first may start before the requested offset */
  bytes: Buffer;
  /** where the next read continues (the requested offset when nothing was read) */
  nextOffset: number;
}

/** Index into `segments` of the segment whose range holds `offset` (binary search on base offsets). */
function segmentIndexFor(segments: LogSegment[], offset: number): number {
  let low = 0;
  let high = segments.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (segments[mid]!.baseOffset <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch, so a batch larger than
 * maxBytes still makes progress) and below `maxOffset`. The caller has checked the range.
 */
export async function readSegments(segments: LogSegment[], offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
  const empty = { bytes: Buffer.alloc(0), nextOffset: offset };
  if (offset === maxOffset) return empty;
  for (let i = segmentIndexFor(segments, offset); i < segments.length; i++) {
    const bytes = await segments[i]!.readFrom(offset, maxBytes);
    if (bytes === null) continue;
    return trimToBatches(bytes, maxOffset, offset, maxBytes);
  }
  return empty;
}

/** The first offset below `highWatermark` whose record timestamp is >= `timestamp`, via the time indexes. */
export async function findOffsetByTimestamp(
  segments: LogSegment[],
  timestamp: number,
  highWatermark: number,
): Promise<{ offset: number; timestamp: number } | null> {
  for (const segment of segments) {
    await segment.ensureIndexesLoaded();
    if (segment.baseOffset >= highWatermark) return null;
    const found = await findInSegment(segment, timestamp);
    if (found) return found.offset < highWatermark ? found : null;
  }
  return null;
}

/** The first offset in `segment` whose record timestamp is >= `timestamp`, with that timestamp. */
async function findInSegment(segment: LogSegment, timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
  if (segment.maxTimestamp < timestamp) return null;
  const start = segment.offsetIndex.lookup(segment.timeIndex.lookup(timestamp));
  let candidate: { position: number; header: RecordBatchHeader } | null = null;
  await segment.forEachBatchHeader(start, (header, position) => {
    if (header.maxTimestamp < timestamp) return true;
    candidate = { position, header };
    return false;
  });
  if (candidate === null) return null;
  const { position, header } = candidate as { position: number; header: RecordBatchHeader };
  const bytes = await segment.read(position, batchSize(header));
  return firstRecordAtOrAfter(bytes, header, timestamp);
}

