import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/common/errors.js';
import { BATCH, assignOffsetAndEpoch, codecOf, encodeBatch, readBatchHeader, type RecordInput, type StoredRecord } from '../../src/log/record-batch.js';
import { decodeBatch, probeBatch, splitBatches } from '../../src/log/batch-decoder.js';

/** Full validation of one batch (frame and records), as the produce path runs it; returns its header. */
const validateBatch = (buffer: Buffer) => splitBatches(buffer)[0]!.header;
import * as codec from '../../src/log/record-batch.js';
import * as decoder from '../../src/log/batch-decoder.js';
import { KAFKA_FIXTURES, loadFixture, type FixtureRecord } from '../helpers/fixtures.js';

function asFixtureRecord(record: StoredRecord): FixtureRecord {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : record.key.toString('utf8'),
    value: record.value === null ? null : record.value.toString('utf8'),
    headers: Object.fromEntries(record.headers.map((h) => [h.key, h.value?.toString('utf8') ?? null])),
  };
}

const GOLDEN = new URL('./golden/', import.meta.url);

describe('record batch codec against kafkajs-written fixtures', () => {
  for (const name of ['plain', 'lz4', 'idempotent']) {
    it(`decodes ${name}.bin exactly`, () => {
      const { bytes, expected } = loadFixture(name);
      const { header, records } = decodeBatch(bytes);
      expect(codecOf(header)).toBe(expected.codec);
      expect(header).toMatchObject({
        baseOffset: expected.baseOffset,
        baseTimestamp: expected.baseTimestamp,
        maxTimestamp: expected.maxTimestamp,
        producerId: expected.producerId,
        producerEpoch: expected.producerEpoch,
        baseSequence: expected.baseSequence,
        recordCount: expected.records.length,
      });
      expect(records.map(asFixtureRecord)).toEqual(expected.records);
    });
  }

  it('splits the fixture segment into its three batches', () => {
    const segment = readFileSync(`${KAFKA_FIXTURES}segment-00000000000000000000.log`);
    const batches = splitBatches(segment);
    expect(batches.map((b) => b.header.baseOffset)).toEqual([0, 5, 105]);
  });

  it('re-encodes the plain fixture to the same bytes kafkajs wrote', () => {
    const { bytes } = loadFixture('plain');
    const { header, records } = decodeBatch(bytes);
    const again = encodeBatch({
      baseOffset: header.baseOffset,
      partitionLeaderEpoch: header.partitionLeaderEpoch,
      baseTimestamp: header.baseTimestamp,
      records: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
    });
    expect(again.equals(bytes)).toBe(true);
  });
});

describe('golden bytes of sluice-encoded batches', () => {
  const records: RecordInput[] = [
    { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1_700_000_000_000, headers: [{ key: 'h', value: Buffer.from('x') }] },
    { key: null, value: null, timestamp: 1_700_000_000_007 },
    { key: Buffer.from(''), value: Buffer.from('a'.repeat(600)), timestamp: 1_699_999_999_990 },
  ];
  for (const compression of ['none', 'lz4'] as const) {
    it(`${compression} batch matches test/log/golden/${compression}.bin`, () => {
      const batch = encodeBatch({ records, compression, baseOffset: 42, partitionLeaderEpoch: 3 });
      const golden = readFileSync(new URL(`${compression}.bin`, GOLDEN));
      expect(batch.toString('hex')).toBe(golden.toString('hex'));
      const decoded = decodeBatch(golden);
      expect(decoded.records.map((r) => r.offset)).toEqual([42, 43, 44]);
      expect(decoded.header.maxTimestamp).toBe(1_700_000_000_007);
    });
  }
});

const recordArb = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { nil: null }),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 10 }),
      value: fc.option(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)), { nil: null }),
    }),
    { maxLength: 3 },
  ),
  timestamp: fc.integer({ min: 0, max: 4_000_000_000_000 }),
});
const batchArb = fc.record({
  records: fc.array(recordArb, { minLength: 1, maxLength: 20 }),
  compression: fc.constantFrom('none' as const, 'lz4' as const),
  baseOffset: fc.integer({ min: 0, max: 2 ** 40 }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  producerId: fc.integer({ min: -1, max: 2 ** 50 }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
});

describe('codec properties', () => {
  it('decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        const { header, records } = decodeBatch(encodeBatch(input));
        expect(header).toMatchObject({
          baseOffset: input.baseOffset,
          partitionLeaderEpoch: input.partitionLeaderEpoch,
          producerId: input.producerId,
          producerEpoch: input.producerEpoch,
          baseSequence: input.baseSequence,
          recordCount: input.records.length,
          maxTimestamp: Math.max(...input.records.map((r) => r.timestamp)),
        });
        expect(codecOf(header)).toBe(input.compression);
        expect(records).toEqual(
          input.records.map((r, i) => ({ ...r, offset: input.baseOffset + i })),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('detects every truncation', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), (input, cut) => {
        const batch = encodeBatch(input);
        const length = 1 + (cut % (batch.length - 1)); // an empty buffer holds no batch at all
        expect(probeBatch(batch.subarray(0, length), 0).kind).toBe('truncated');
        expect(() => validateBatch(batch.subarray(0, length))).toThrow(BrokerError);
      }),
      { numRuns: 300 },
    );
  });

  it('detects every flipped bit outside baseOffset and leader epoch', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (input, pick, bit) => {
        const batch = encodeBatch(input);
        // Bytes 0-7 (baseOffset) and 12-15 (leader epoch) are outside the CRC by design.
        const covered = batch.length - 12;
        let at = 8 + (pick % covered);
        if (at >= 12) at += 4;
        batch[at]! ^= 1 << bit;
        expect(() => validateBatch(batch)).toThrow(BrokerError);
      }),
      { numRuns: 500 },
    );
  });

  it('the allocation-free record check accepts what the decoder does, and refuses records above maxTimestamp', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (input, pick, xor) => {
        const batch = encodeBatch({ ...input, compression: 'none' });
        const at = codec.BATCH_HEADER_SIZE + (pick % (batch.length - codec.BATCH_HEADER_SIZE));
        batch.writeUInt8(batch.readUInt8(at) ^ xor, at);
        batch.writeUInt32BE(codec.computeBatchCrc(batch, 0, batch.length), BATCH.crc);
        const header = readBatchHeader(batch);
        const outcome = (fn: () => unknown) => {
          try {
            fn();
            return 'ok';
          } catch (err) {
            expect(err).toBeInstanceOf(BrokerError);
            return 'refused';
          }
        };
        const checked = outcome(() => decoder.checkRecords(batch, header));
        const decoded = outcome(() => decoder.decodeRecords(batch, header));
        if (checked === 'refused' && decoded === 'ok') {
          // The one extra rule of the append path: no record newer than the batch's maxTimestamp.
          expect(decoder.decodeRecords(batch, header).some((r) => r.timestamp > header.maxTimestamp)).toBe(true);
        } else {
          expect(checked).toBe(decoded);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rewrites baseOffset and leader epoch without invalidating the CRC', () => {
    const { bytes } = loadFixture('lz4');
    const copy = Buffer.from(bytes);
    assignOffsetAndEpoch(copy, 0, 1_000_000, 7);
    const header = validateBatch(copy);
    expect(header.baseOffset).toBe(1_000_000);
    expect(header.partitionLeaderEpoch).toBe(7);
    expect(copy.readUInt32BE(BATCH.crc)).toBe(readBatchHeader(bytes).crc);
    expect(decodeBatch(copy).records[99]!.offset).toBe(1_000_099);
  });

  it('refuses an LZ4 payload with bytes after its frame, or a second frame', () => {
    const { bytes } = loadFixture('lz4');
    const header = readBatchHeader(bytes);
    const payload = bytes.subarray(codec.BATCH_HEADER_SIZE);
    for (const extra of [Buffer.from([0]), payload]) {
      const tampered = Buffer.concat([bytes, extra]);
      tampered.writeInt32BE(header.batchLength + extra.length, BATCH.batchLength);
      tampered.writeUInt32BE(codec.computeBatchCrc(tampered, 0, tampered.length), BATCH.crc);
      expect(() => validateBatch(tampered)).toThrow(/after the LZ4 frame/);
    }
  });

  it('refuses unsupported codecs and wrong magic with CORRUPT_MESSAGE', () => {
    const gzip = encodeBatch({ records: [{ value: Buffer.from('x') }] });
    gzip.writeInt16BE(1, BATCH.attributes);
    // Recompute the CRC so that only the codec is wrong.
    gzip.writeUInt32BE(codec.computeBatchCrc(gzip, 0, gzip.length), BATCH.crc);
    expect(() => validateBatch(gzip)).toThrow(/gzip is not supported/);
    const magic = encodeBatch({ records: [{ value: null }] });
    magic.writeInt8(1, BATCH.magic);
    expect(() => validateBatch(magic)).toThrow(/magic 1/);
  });
});

