/**
 * The pure part of appending: splitting and checking an append request, and planning one request against
 * the producer state: which batches are duplicates, which offsets the others get (their headers are
 * rewritten in place), and what the segment will be told about each written batch.
 *
 * Batches of one request are checked in order against a state that includes the earlier ones, and the
 * request joins the write only if all of them pass (a request is atomic).
 */
import { BrokerError } from '../common/errors.js';
import { batchesOf, splitBatches } from './batch-decoder.js';
import { MAX_RELATIVE_OFFSET, type AppendedBatch } from './log-segment.js';
import type { ProducerBatch, ProducerStateMap } from './producer-state.js';
import { assignOffsetAndEpoch, batchSize, hasProducerId, type RecordBatchHeader } from './record-batch.js';
import { isRequestProducerId, REQUEST_PRODUCER_ID_BASE } from './request-tag.js';

export interface AppendOptions {
  /** stamped into every appended batch (replication uses it for log divergence) */
  leaderEpoch?: number;
  /**
   * the batches were validated already (the produce path checks frames and records before appending, the
   * broker builds its own): only their frames are walked here
   */
  trusted?: boolean;
  /**
   * The JSON route's request sequence, tagged into the batches' first records (request-tag.ts): kept in the
   * producer state with them. Given exactly for batches of a request producer id (else INVALID_REQUEST).
   * Every batch of a leader append is checked by Kafka's per-partition sequence rules either way.
   */
  requestSequence?: number;
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

export interface PendingAppend {
  data: Buffer;
  batches: { at: number; header: RecordBatchHeader }[];
  leaderEpoch: number;
  /** AppendOptions.requestSequence; null when not given */
  requestSequence: number | null;
  /** a follower's copy of the leader's batches: offsets and epochs kept, producer state updated unchecked */
  follower: boolean;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

export interface PlannedAppend {
  request: PendingAppend;
  results: BatchAppendInfo[];
}

export interface RequestPlan {
  results: BatchAppendInfo[];
  /** the bytes of the batches to write (duplicates left out) */
  buffers: Buffer[];
  written: AppendedBatch[];
  bytes: number;
  nextOffset: number;
}

/** Splits `data` into batches (validating each unless `trusted`) and enforces `maxMessageBytes`. */
export function splitForAppend(data: Buffer, trusted: boolean, maxMessageBytes: number): { at: number; header: RecordBatchHeader }[] {
  const batches = trusted ? trustedSplit(data) : splitBatches(data);
  if (batches.length === 0) throw new BrokerError('INVALID_REQUEST', 'no record batch to append');
  let records = 0;
  for (const { header } of batches) {
    records += header.lastOffsetDelta + 1;
    if (batchSize(header) > maxMessageBytes) {
      throw new BrokerError('RECORD_TOO_LARGE', `record batch of ${batchSize(header)} bytes exceeds maxMessageBytes ${maxMessageBytes}`, {
        details: { maxMessageBytes },
      });
    }
  }
  // A request goes into one segment whole, so its offsets must fit in what a segment can index.
  if (records > MAX_RELATIVE_OFFSET) {
    throw new BrokerError('RECORD_TOO_LARGE', `a request of ${records} records does not fit in one segment (at most ${MAX_RELATIVE_OFFSET})`);
  }
  return batches;
}

/**
 * Plans `request` at `nextOffset`: throws the producer-state error of its first refused batch (and changes
 * nothing), or assigns offsets, records the batches in `overlay` and returns what to write.
 */
export function planRequest(request: PendingAppend, overlay: ProducerStateMap, nextOffset: number): RequestPlan {
  if (request.follower) return planFollowerRequest(request, overlay, nextOffset);
  const requestState = overlay.fork();
  const results: BatchAppendInfo[] = [];
  let offset = nextOffset;
  for (const { header } of request.batches) {
    checkRequestTag(header, request.requestSequence);
    const check = requestState.check(header);
    if (check.kind === 'duplicate') {
      results.push(duplicateInfo(check.batch));
      continue;
    }
    results.push({ baseOffset: offset, lastOffset: offset + header.lastOffsetDelta, maxTimestamp: header.maxTimestamp, duplicate: false });
    requestState.update({ ...header, baseOffset: offset }, request.requestSequence);
    offset += header.lastOffsetDelta + 1;
  }
  requestState.commitTo(overlay);
  const buffers: Buffer[] = [];
  const written: AppendedBatch[] = [];
  let bytes = 0;
  request.batches.forEach(({ at, header }, i) => {
    const result = results[i]!;
    if (result.duplicate) return;
    assignOffsetAndEpoch(request.data, at, result.baseOffset, request.leaderEpoch);
    const size = batchSize(header);
    buffers.push(request.data.subarray(at, at + size));
    written.push({ lastOffset: result.lastOffset, maxTimestamp: header.maxTimestamp, size });
    bytes += size;
  });
  return { results, buffers, written, bytes, nextOffset: offset };
}

/**
 * A follower appends the leader's batches as they are: they must start at its log end offset and follow on
 * without gaps (the replica fetcher asks from there); their producers enter the state without checks, as
 * the leader checked them.
 */
function planFollowerRequest(request: PendingAppend, overlay: ProducerStateMap, nextOffset: number): RequestPlan {
  const results: BatchAppendInfo[] = [];
  const buffers: Buffer[] = [];
  const written: AppendedBatch[] = [];
  let offset = nextOffset;
  let bytes = 0;
  for (const { at, header } of request.batches) {
    if (header.baseOffset !== offset) {
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `a follower append starts at offset ${header.baseOffset}, the log ends at ${offset}`, {
        details: { baseOffset: header.baseOffset, logEndOffset: offset },
      });
    }
    const size = batchSize(header);
    results.push({ baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta, maxTimestamp: header.maxTimestamp, duplicate: false });
    buffers.push(request.data.subarray(at, at + size));
    written.push({ lastOffset: header.baseOffset + header.lastOffsetDelta, maxTimestamp: header.maxTimestamp, size });
    bytes += size;
    offset = header.baseOffset + header.lastOffsetDelta + 1;
  }
  const state = overlay.fork();
  for (const { header } of request.batches) state.update(header);
  state.commitTo(overlay);
  return { results, buffers, written, bytes, nextOffset: offset };
}

/** Request producer ids are the JSON route's alone, and its batches always say which request they belong to. */
function checkRequestTag(header: RecordBatchHeader, requestSequence: number | null): void {
  if (!hasProducerId(header) && requestSequence === null) return;
  if (isRequestProducerId(header.producerId) !== (requestSequence !== null)) {
    throw new BrokerError('INVALID_REQUEST', `producer id ${header.producerId}: request sequences go with request producer ids (from ${REQUEST_PRODUCER_ID_BASE}) and only with them`);
  }
}

function duplicateInfo(batch: ProducerBatch): BatchAppendInfo {
  return { baseOffset: batch.firstOffset, lastOffset: batch.lastOffset, maxTimestamp: batch.maxTimestamp, duplicate: true };
}

export function countRecords(request: PendingAppend): number {
  let records = 0;
  for (const { header } of request.batches) records += header.lastOffsetDelta + 1;
  return records;
}

/** Headers of batches validated before (or built by the broker itself). */
function trustedSplit(data: Buffer): { at: number; header: RecordBatchHeader }[] {
  return Array.from(batchesOf(data), ({ at, header }) => ({ at, header }));
}

