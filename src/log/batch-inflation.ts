/**
 * Inflating and walking record batches without letting one batch tie up the broker. 823 KB of LZ4 can hold
 * 200 MiB of records, so the compressed size that maxMessageBytes bounds says little about the work; here:
 *
 * - what each incoming batch may inflate to (decompressed records; an uncompressed batch's payload as it
 *   is) is bounded by `maxBatchInflatedBytes`, and the sum over the request by `maxRequestInflatedBytes`.
 *   Both are checked first on the LZ4 frames' upper bounds (from the block sizes, compression.ts), so a
 *   refused request is never inflated, then each batch again on its real decompressed length. Above:
 *   RECORD_TOO_LARGE.
 * - a payload that may inflate past ASYNC_INFLATE_BYTES is decompressed on the libuv threadpool;
 * - records are walked in slices with a turn of the event loop between them (pacer.ts), so /health and
 *   other requests are served meanwhile; a KiB inflated on the event loop counts as eight records.
 *
 * Batches are handled one after the other and each inflated payload is dropped before the next, so memory
 * stays at one batch's inflated size. Readers of stored batches (JSON fetch, timestamp lookups) use the
 * same inflation and pacing, under the hard cap MAX_DECOMPRESSED_BYTES.
 */
import { RecordWalker, batchCodec } from './batch-decoder.js';
import { MAX_DECOMPRESSED_BYTES, decompress, decompressAsync, inflatedSizeBound } from './compression.js';
import { BrokerError, isBrokerError } from '../common/errors.js';
import { Pacer } from './pacer.js';
import { BATCH_HEADER_SIZE, batchSize, type RecordBatchHeader } from './record-batch.js';

export interface InflationLimits {
  /** largest inflated size of one batch */
  maxBatchInflatedBytes: number;
  /** largest sum of the inflated sizes of the batches of one request */
  maxRequestInflatedBytes: number;
}

/** The broker settings the limits derive from. */
export type InflationSettings = InflationLimits & { maxRequestBytes: number };

/** Payloads that may inflate past this go to the threadpool; below it the hop costs more than inflating. */
const ASYNC_INFLATE_BYTES = 1024 * 1024;
/** Units per KiB inflated on the event loop (LZ4 runs at roughly 1 µs a KiB into fresh memory). */
const UNITS_PER_KIB = 8;

/**
 * The limits for one request to a topic: the settings, raised so that whatever is accepted uncompressed is
 * accepted compressed too (a batch may inflate to the topic's maxMessageBytes, a request to maxRequestBytes),
 * and a batch capped at what every reader inflates (MAX_DECOMPRESSED_BYTES).
 */
export function effectiveInflationLimits(settings: InflationSettings, maxMessageBytes: number): InflationLimits {
  return {
    maxBatchInflatedBytes: Math.min(Math.max(settings.maxBatchInflatedBytes, maxMessageBytes), MAX_DECOMPRESSED_BYTES),
    maxRequestInflatedBytes: Math.max(settings.maxRequestInflatedBytes, settings.maxRequestBytes),
  };
}

type Batches = readonly { at: number; header: RecordBatchHeader }[];

/**
 * The upper bound of each batch's inflated size, from the headers and LZ4 frame structure only (nothing is
 * decompressed). Throws RECORD_TOO_LARGE at the first batch, or the running sum, above the limits, and
 * CORRUPT_MESSAGE for an unsupported codec or a malformed frame.
 */
export function checkInflatedBounds(data: Buffer, batches: Batches, limits: InflationLimits): number[] {
  const bounds: number[] = [];
  let total = 0;
  batches.forEach(({ at, header }, batch) => {
    const bound = inflatedSizeBound(batchCodec(header), data.subarray(at + BATCH_HEADER_SIZE, at + batchSize(header)));
    if (bound > limits.maxBatchInflatedBytes) throw batchTooLarge(batch, bound, limits.maxBatchInflatedBytes, false);
    total += bound;
    if (total > limits.maxRequestInflatedBytes) {
      throw new BrokerError('RECORD_TOO_LARGE', `the record batches of the request may inflate to ${total} bytes or more, above maxRequestInflatedBytes ${limits.maxRequestInflatedBytes}`, {
        details: { inflatedBytes: total, maxRequestInflatedBytes: limits.maxRequestInflatedBytes },
      });
    }
    bounds.push(bound);
  });
  return bounds;
}

/**
 * Checks every batch's records (as checkRecords: structure, offset deltas, timestamps, nothing left over)
 * within the limits, yielding the event loop as it goes; `bounds` are checkInflatedBounds' answer. Throws
 * RECORD_TOO_LARGE or CORRUPT_MESSAGE.
 */
export async function checkIncomingRecords(data: Buffer, batches: Batches, bounds: readonly number[], limits: InflationLimits): Promise<void> {
  const pacer = new Pacer();
  for (let batch = 0; batch < batches.length; batch++) {
    const { at, header } = batches[batch]!;
    let payload: Buffer;
    try {
      payload = await inflatePayload(data.subarray(at, at + batchSize(header)), header, pacer, limits.maxBatchInflatedBytes, bounds[batch]);
    } catch (err) {
      if (isBrokerError(err, 'RECORD_TOO_LARGE')) throw batchTooLarge(batch, err.details?.inflatedBytes as number, limits.maxBatchInflatedBytes, true);
      throw err;
    }
    const walker = new RecordWalker(payload, header);
    do {
      if (pacer.spend(walker.check(pacer.budget))) await pacer.turn();
    } while (!walker.done);
  }
}

/**
 * The decompressed payload (records) of one batch (`batch` is exactly its bytes): on the threadpool when it
 * may inflate past ASYNC_INFLATE_BYTES, else here, counting the work on `pacer`. `bound` saves walking the
 * frame again when the caller has it.
 */
export async function inflatePayload(batch: Buffer, header: RecordBatchHeader, pacer: Pacer, maxBytes = MAX_DECOMPRESSED_BYTES, bound?: number): Promise<Buffer> {
  const codec = batchCodec(header);
  const payload = batch.subarray(BATCH_HEADER_SIZE);
  if (codec === 'none') return payload;
  if ((bound ?? inflatedSizeBound(codec, payload)) > ASYNC_INFLATE_BYTES) {
    const inflated = await decompressAsync(codec, payload, maxBytes);
    pacer.restart();
    return inflated;
  }
  const inflated = decompress(codec, payload, maxBytes);
  if (pacer.spend((inflated.length >> 10) * UNITS_PER_KIB)) await pacer.turn();
  return inflated;
}

/**
 * The first record of a stored batch whose timestamp is >= `timestamp`, decoding one record at a time (a
 * batch may hold millions) and yielding the event loop as it goes.
 */
export async function firstRecordAtOrAfter(batch: Buffer, header: RecordBatchHeader, timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
  const pacer = new Pacer();
  const walker = new RecordWalker(await inflatePayload(batch, header, pacer), header);
  for (let next = walker.next(); next !== null; next = walker.next()) {
    if (next.record.timestamp >= timestamp) return { offset: next.record.offset, timestamp: next.record.timestamp };
    if (pacer.spend(1 + next.record.headers.length)) await pacer.turn();
  }
  return null;
}

function batchTooLarge(batch: number, inflatedBytes: number, limit: number, exact: boolean): BrokerError {
  const verb = exact ? 'inflates' : 'may inflate';
  return new BrokerError('RECORD_TOO_LARGE', `record batch ${batch} of the request ${verb} to ${inflatedBytes} bytes of records, above maxBatchInflatedBytes ${limit}`, {
    details: { batch, inflatedBytes, maxBatchInflatedBytes: limit },
  });
}
