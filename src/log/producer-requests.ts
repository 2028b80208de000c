/**
 * Reading the JSON route's request sequences back from the log (see request-tag.ts): the producer state
 * rebuilt from batch headers after a crash, or copied by a follower, knows a request producer's batches
 * but not which request each one was, because the request sequence sits in the batch's first record.
 * It is read from there the first time it is asked for (a JSON request of that producer), and then kept.
 */
import { BrokerError } from '../common/errors.js';
import { inflatePayload } from './batch-inflation.js';
import { RecordWalker } from './batch-decoder.js';
import { Pacer } from './pacer.js';
import type { ProducerBatch, ProducerEntry } from './producer-state.js';
import { batchSize, BATCH_HEADER_SIZE, readBatchHeader } from './record-batch.js';
import { requestSequenceIn } from './request-tag.js';

/** Reads whole batches from the one holding `offset` (at least one batch). */
export type BatchReader = (offset: number) => Promise<Buffer>;

/**
 * Fills in `requestSequence` of every cached batch of `entry` that lacks it. A batch the log no longer holds
 * (retention went past it) or that is not what the state says (it changed under us) gets null: its request
 * cannot be told any more.
 */
export async function readRequestSequences(entry: ProducerEntry, read: BatchReader): Promise<void> {
  for (const batch of entry.batches) {
    if (batch.requestSequence !== undefined) continue;
    batch.requestSequence = await requestSequenceOf(entry.producerId, batch, read);
  }
}

async function requestSequenceOf(producerId: number, batch: ProducerBatch, read: BatchReader): Promise<number | null> {
  let bytes: Buffer;
  try {
    bytes = await read(batch.firstOffset);
  } catch (err) {
    if (err instanceof BrokerError && err.code === 'OFFSET_OUT_OF_RANGE') return null;
    throw err;
  }
  if (bytes.length < BATCH_HEADER_SIZE) return null;
  const header = readBatchHeader(bytes, 0);
  const size = batchSize(header);
  if (header.baseOffset !== batch.firstOffset || header.producerId !== producerId || header.baseSequence !== batch.firstSequence || bytes.length < size) {
    return null;
  }
  const walker = new RecordWalker(await inflatePayload(bytes.subarray(0, size), header, new Pacer()), header);
  const first = walker.next();
  return first ? requestSequenceIn(first.record.headers) : null;
}
