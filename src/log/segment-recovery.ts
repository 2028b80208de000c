/**
 * Recovery of one segment after an unclean stop: every batch is validated (length, magic, CRC-32C, offsets
 * increasing) and the indexes and bookkeeping are rebuilt from the valid prefix. Nothing is cut here: the
 * loader decides what to do with invalid bytes (a torn tail is truncated, corruption is quarantined).
 */
import { probeBatch } from './batch-decoder.js';
import { MAX_RELATIVE_OFFSET, type LogSegment } from './log-segment.js';
import { lastOffsetOf } from './record-batch.js';

const RECOVERY_CHUNK = 1024 * 1024;

/** Result of validating a segment's bytes during recovery. */
export interface SegmentRecovery {
  validBytes: number;
  validBatches: number;
  /** bytes after the last valid batch (0 when the segment is whole) */
  invalidBytes: number;
  /** 'torn' = incomplete last batch; 'corrupt' = a complete batch that fails its checks */
  invalid: null | { kind: 'torn' | 'corrupt'; reason: string; position: number };
}

/**
 * Validates every batch (length, magic, CRC, offsets increasing) and rebuilds the indexes from the valid
 * prefix. Does not truncate: the caller decides what to do with invalid bytes (see SegmentRecovery).
 * A batch claiming more bytes than the file has left is reported as torn (what a crash mid-write leaves).
 */
export async function recoverSegment(segment: LogSegment): Promise<SegmentRecovery> {
  const maxBatchSize = Number.MAX_SAFE_INTEGER;
  segment.resetBookkeeping();
  let position = 0;
  let batches = 0;
  let invalid: SegmentRecovery['invalid'] = null;
  let nextExpected = segment.baseOffset;
  scan: while (position < segment.size) {
    const chunk = await segment.read(position, RECOVERY_CHUNK);
    if (chunk.length === 0) {
      invalid = { kind: 'torn', reason: 'file is shorter than its recorded size', position };
      break;
    }
    let local = 0;
    while (local < chunk.length) {
      let probe = probeBatch(chunk, local, maxBatchSize);
      if (probe.kind === 'truncated' && position + local + probe.needed <= segment.size) {
        // The batch is whole on disk but runs past this chunk: continue from it with a fresh read.
        if (local > 0) break;
        probe = probeBatch(await segment.read(position, probe.needed), 0, maxBatchSize);
      }
      const here = position + local;
      if (probe.kind === 'truncated') {
        invalid = { kind: 'torn', reason: `incomplete batch: ${segment.size - here} of ${probe.needed} bytes`, position: here };
        break scan;
      }
      if (probe.kind === 'corrupt') {
        invalid = { kind: 'corrupt', reason: probe.reason, position: here };
        break scan;
      }
      if (probe.header.baseOffset < nextExpected) {
        invalid = { kind: 'corrupt', reason: `offset ${probe.header.baseOffset} goes backwards (expected >= ${nextExpected})`, position: here };
        break scan;
      }
      if (lastOffsetOf(probe.header) - segment.baseOffset > MAX_RELATIVE_OFFSET) {
        invalid = { kind: 'corrupt', reason: `last offset ${lastOffsetOf(probe.header)} is past what a segment at ${segment.baseOffset} can index`, position: here };
        break scan;
      }
      segment.indexBatch({ lastOffset: lastOffsetOf(probe.header), maxTimestamp: probe.header.maxTimestamp, size: probe.size }, here);
      nextExpected = lastOffsetOf(probe.header) + 1;
      batches++;
      local += probe.size;
    }
    position += local;
  }
  const validBytes = invalid ? invalid.position : position;
  return { validBytes, validBatches: batches, invalidBytes: segment.size - validBytes, invalid };
}

