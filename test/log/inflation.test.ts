/**
 * Bounded decompression (compression.ts), the record walker's slices (batch-decoder.ts) and the paced check
 * of incoming batches and timestamp lookups (batch-inflation.ts), on real LZ4 frames from lz4-napi.
 */
import fc from 'fast-check';
import { compressFrameSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { RecordWalker, checkRecords, splitBatchFrames } from '../../src/log/batch-decoder.js';
import { decompress, decompressAsync, inflatedSizeBound, lz4FrameShape } from '../../src/log/compression.js';
import { BrokerError } from '../../src/common/errors.js';
import { checkIncomingRecords, checkInflatedBounds, effectiveInflationLimits, firstRecordAtOrAfter } from '../../src/log/batch-inflation.js';
import { BATCH, BATCH_HEADER_SIZE, LOG_OVERHEAD, computeBatchCrc, encodeBatch, readBatchHeader } from '../../src/log/record-batch.js';
import { MiB, tinyRecordsBatch, zeroRecordBatch } from '../helpers/bombs.js';

function refusal(fn: () => unknown): { code: string; details: unknown } | null {
  try {
    fn();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(BrokerError);
    return { code: (err as BrokerError).code, details: (err as BrokerError).details };
  }
}

describe('bounded decompression', () => {
  it('the frame bound is never below the real size, and close to it for a bomb', () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 300_000 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 * MiB })).map(([byte, n]) => Buffer.alloc(n, byte)),
    );
    fc.assert(
      fc.property(data, (input) => {
        const frame = compressFrameSync(input);
        const bound = inflatedSizeBound('lz4', frame);
        expect(bound).toBeGreaterThanOrEqual(input.length);
        expect(bound).toBeLessThanOrEqual(Math.max(256 * frame.length, input.length + 4 * MiB));
      }),
      { numRuns: 60 },
    );
    const bomb = compressFrameSync(Buffer.alloc(200 * MiB));
    expect(bomb.length).toBeLessThan(MiB);
    expect(lz4FrameShape(bomb).maxDecompressed).toBeGreaterThanOrEqual(200 * MiB);
    expect(lz4FrameShape(bomb).maxDecompressed).toBeLessThan(205 * MiB);
  });

  it('refuses above the limit with RECORD_TOO_LARGE (sync and on the threadpool), accepts up to it', async () => {
    const frame = compressFrameSync(Buffer.alloc(3 * MiB, 7));
    const bound = inflatedSizeBound('lz4', frame);
    expect(refusal(() => decompress('lz4', frame, bound - 1))).toEqual({ code: 'RECORD_TOO_LARGE', details: { inflatedBytes: bound, maxInflatedBytes: bound - 1 } });
    await expect(decompressAsync('lz4', frame, bound - 1)).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
    expect(decompress('lz4', frame, bound).equals(Buffer.alloc(3 * MiB, 7))).toBe(true);
    expect((await decompressAsync('lz4', frame, bound)).equals(Buffer.alloc(3 * MiB, 7))).toBe(true);
    await expect(decompressAsync('lz4', Buffer.concat([frame.subarray(0, 20), Buffer.alloc(9)]))).rejects.toMatchObject({ code: 'CORRUPT_MESSAGE' });
  });
});

describe('record walker slices', () => {
  it('checking in slices of any size agrees with checking at once, and spends at most the budget', () => {
    const batches = fc.array(
      fc.record({
        value: fc.option(fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)), { nil: null }),
        headers: fc.array(fc.record({ key: fc.string({ maxLength: 4 }), value: fc.constant(null) }), { maxLength: 40 }),
      }),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(batches, fc.integer({ min: 1, max: 50 }), fc.nat(), (records, budget, flip) => {
        const batch = encodeBatch({ records: records.map((r) => ({ ...r, key: null, timestamp: 1 })) });
        const header = readBatchHeader(batch);
        // Half the runs corrupt one payload byte: both ways of checking must refuse it alike.
        if (flip % 2 === 1) batch[BATCH_HEADER_SIZE + (flip % (batch.length - BATCH_HEADER_SIZE))]! ^= 0x41;
        const atOnce = refusal(() => checkRecords(batch, header))?.code ?? 'ok';
        const sliced =
          refusal(() => {
            const walker = new RecordWalker(batch.subarray(BATCH_HEADER_SIZE), header);
            do expect(walker.check(budget)).toBeLessThanOrEqual(budget);
            while (!walker.done);
          })?.code ?? 'ok';
        expect(sliced).toBe(atOnce);
      }),
      { numRuns: 300 },
    );
  });

  it('a record with a million headers is checked in slices, not in one go', () => {
    const headers = Array.from({ length: 1_000_000 }, () => ({ key: '', value: null }));
    const batch = encodeBatch({ records: [{ key: null, value: null, headers, timestamp: 1 }], compression: 'lz4' });
    const walker = new RecordWalker(decompress('lz4', batch.subarray(BATCH_HEADER_SIZE)), readBatchHeader(batch));
    let slices = 0;
    do {
      expect(walker.check(16_384)).toBeLessThanOrEqual(16_384);
      slices++;
    } while (!walker.done);
    expect(slices).toBeGreaterThan(60);
  });
});

describe('checking incoming batches', () => {
  const limits = { maxBatchInflatedBytes: 64 * MiB, maxRequestInflatedBytes: 256 * MiB };

  it('refuses a bomb from its frame, naming the batch, and a request whose bounds add up above the limit', () => {
    const data = Buffer.concat([encodeBatch({ records: [{ value: 'ok' }] }), zeroRecordBatch(200 * MiB)]);
    const batches = splitBatchFrames(data);
    const refused = refusal(() => checkInflatedBounds(data, batches, limits));
    expect(refused).toMatchObject({ code: 'RECORD_TOO_LARGE', details: { batch: 1, maxBatchInflatedBytes: 64 * MiB } });
    const ten = zeroRecordBatch(10 * MiB);
    const many = Buffer.concat([ten, ten, ten]);
    expect(refusal(() => checkInflatedBounds(many, splitBatchFrames(many), { ...limits, maxRequestInflatedBytes: 25 * MiB }))).toMatchObject({
      code: 'RECORD_TOO_LARGE',
      details: { maxRequestInflatedBytes: 25 * MiB },
    });
  });

  it('effective limits never refuse what would be accepted uncompressed, nor pass what a reader refuses', () => {
    const settings = { maxBatchInflatedBytes: 64 * MiB, maxRequestInflatedBytes: 8 * MiB, maxRequestBytes: 16 * MiB };
    expect(effectiveInflationLimits(settings, MiB)).toEqual({ maxBatchInflatedBytes: 64 * MiB, maxRequestInflatedBytes: 16 * MiB });
    expect(effectiveInflationLimits(settings, 100 * MiB).maxBatchInflatedBytes).toBe(100 * MiB);
    expect(effectiveInflationLimits(settings, 2_000 * MiB).maxBatchInflatedBytes).toBe(256 * MiB);
  });

  it('lets the event loop run while it walks a million records and inflates 60 MiB', async () => {
    const data = Buffer.concat([tinyRecordsBatch(1_000_000), zeroRecordBatch(60 * MiB)]);
    const batches = splitBatchFrames(data);
    const bounds = checkInflatedBounds(data, batches, limits);
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    await checkIncomingRecords(data, batches, bounds, limits);
    ticking = false;
    expect(turns).toBeGreaterThan(50);
  });

  it('finds the first record at or after a timestamp in a batch of 300,000 without blocking the event loop', async () => {
    const batch = encodeBatch({ records: Array.from({ length: 300_000 }, (_, i) => ({ value: null, timestamp: 1_000 + i })), compression: 'lz4' });
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    expect(await firstRecordAtOrAfter(batch, readBatchHeader(batch), 1_000 + 299_990)).toEqual({ offset: 299_990, timestamp: 1_000 + 299_990 });
    ticking = false;
    expect(turns).toBeGreaterThan(10);
    expect(await firstRecordAtOrAfter(batch, readBatchHeader(batch), 2_000_000)).toBeNull();
  });

  it('refuses a corrupt record deep in a big batch with CORRUPT_MESSAGE, naming the record', async () => {
    const good = tinyRecordsBatch(100_000);
    const payload = decompress('lz4', good.subarray(BATCH_HEADER_SIZE));
    payload[payload.length - 1] = 0x41; // the last record's header count becomes -33
    const bad = withPayload(good, compressFrameSync(payload));
    const batches = splitBatchFrames(bad);
    await expect(checkIncomingRecords(bad, batches, checkInflatedBounds(bad, batches, limits), limits)).rejects.toMatchObject({
      code: 'CORRUPT_MESSAGE',
      message: expect.stringMatching(/^record 99999 does not parse/),
    });
  });
});

/** `batch`'s header with another payload, batchLength and CRC made to match. */
function withPayload(batch: Buffer, payload: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, BATCH_HEADER_SIZE), payload]);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH.batchLength);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), BATCH.crc);
  return out;
}
