/**
 * Reading record batches: the frame check that recovery runs on every stored batch (`probeBatch`), the full
 * validation of incoming batches (`splitBatches`: frames, then `checkRecords`), and record decoding. Pure functions over
 * Buffers, like the encoder in record-batch.ts, which also documents the byte layout.
 */
import { Reader } from './buffers.js';
import { decompress, type CompressionCodec } from './compression.js';
import { corruptMessage } from '../common/errors.js';
import {
  BATCH,
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  MAGIC_V2,
  batchSize,
  codecOf,
  computeBatchCrc,
  isControlBatch,
  lastOffsetOf,
  readBatchHeader,
  timestampTypeOf,
  type DecodedBatch,
  type RecordBatchHeader,
  type RecordHeader,
  type StoredRecord,
} from './record-batch.js';

export type BatchProbe =
  | { kind: 'batch'; header: RecordBatchHeader; size: number }
  /** Fewer bytes than the batch claims: a torn write at the tail of a log, or a short read. */
  | { kind: 'truncated'; needed: number }
  | { kind: 'corrupt'; reason: string };

/**
 * Checks the frame of the batch at `at` (length, magic, CRC, header sanity) without decoding records.
 * This is what recovery runs on every batch after the recovery point, and what produce runs before decoding.
 */
export function probeBatch(buffer: Buffer, at: number, maxBatchSize = 0x7fffffff, end = buffer.length): BatchProbe {
  const available = end - at;
  if (available < LOG_OVERHEAD) return { kind: 'truncated', needed: LOG_OVERHEAD };
  const batchLength = buffer.readInt32BE(at + BATCH.batchLength);
  const size = batchLength + LOG_OVERHEAD;
  if (size < BATCH_HEADER_SIZE) return { kind: 'corrupt', reason: `batchLength ${batchLength} is smaller than a header` };
  if (size > maxBatchSize) return { kind: 'corrupt', reason: `batch of ${size} bytes exceeds the limit of ${maxBatchSize}` };
  if (available < BATCH_HEADER_SIZE) return { kind: 'truncated', needed: size };
  const magic = buffer.readInt8(at + BATCH.magic);
  if (magic !== MAGIC_V2) return { kind: 'corrupt', reason: `magic ${magic}, expected 2` };
  if (available < size) return { kind: 'truncated', needed: size };
  const stored = buffer.readUInt32BE(at + BATCH.crc);
  const actual = computeBatchCrc(buffer, at, size);
  if (stored !== actual) {
    return { kind: 'corrupt', reason: `CRC mismatch: stored ${hex(stored)}, computed ${hex(actual)}` };
  }
  let header: RecordBatchHeader;
  try {
    header = readBatchHeader(buffer, at);
  } catch (err) {
    return { kind: 'corrupt', reason: (err as Error).message };
  }
  const problem = headerProblem(header);
  return problem ? { kind: 'corrupt', reason: problem } : { kind: 'batch', header, size };
}

/** What is wrong with a batch header's own fields (counts, offsets, attributes), or null: no CRC, no records. */
export function headerProblem(header: RecordBatchHeader): string | null {
  // As Kafka's LogValidator: a batch holds at least one record and its offsets are exactly its records'. A
  // header-only batch claiming 2^31 offsets would otherwise push offsets past what a segment can index.
  if (header.recordCount <= 0) return `record count ${header.recordCount} (a batch holds at least one record)`;
  if (header.lastOffsetDelta !== header.recordCount - 1) {
    return `lastOffsetDelta ${header.lastOffsetDelta} does not match ${header.recordCount} records`;
  }
  if (header.baseOffset < 0) return `negative baseOffset ${header.baseOffset}`;
  if (header.attributes & ~0x3f) return `unknown attribute bits ${hex(header.attributes)}`;
  return null;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** The codec of a batch, refusing a compressed control batch (CORRUPT_MESSAGE). */
export function batchCodec(header: RecordBatchHeader): CompressionCodec {
  const codec = codecOf(header);
  if (isControlBatch(header) && codec !== 'none') throw corruptMessage('compressed control batch');
  return codec;
}

/**
 * Walks the records of a batch and checks their structure (lengths, offset deltas, header counts, nothing
 * left over) without building record objects: the append path's validation, cheaper than decodeRecords.
 * `maxInflatedBytes` bounds the decompressed payload (RECORD_TOO_LARGE above).
 */
export function checkRecords(batch: Buffer, header: RecordBatchHeader, maxInflatedBytes?: number): void {
  const payload = decompress(batchCodec(header), batch.subarray(BATCH_HEADER_SIZE), maxInflatedBytes);
  new RecordWalker(payload, header).check(Infinity);
}

/**
 * A cursor over the records of one batch's (decompressed) payload, so that a long batch can be checked in
 * slices (`check(budget)`, the event loop runs between slices: batch-inflation.ts) and decoded one record at
 * a time (`next()`, a reader stops when it has enough). Throws CORRUPT_MESSAGE saying which record does not parse; after the
 * last record, bytes left over are corrupt too.
 */
export class RecordWalker {
  private readonly reader: Reader;
  private index = 0;
  /** While a record's headers are being checked: where it ends, its length, headers still to check. */
  private recordEnd = -1;
  private recordLength = 0;
  private headersLeft = 0;
  // The time index and timestamp lookups trust maxTimestamp, so no record may be newer than it.
  private readonly createTime: boolean;

  constructor(
    payload: Buffer,
    private readonly header: RecordBatchHeader,
  ) {
    this.reader = new Reader(payload);
    this.createTime = timestampTypeOf(header) === 'create';
  }

  get done(): boolean {
    return this.index >= this.header.recordCount;
  }

  /**
   * Checks records without building them, for at most about `budget` units of work (a record's fields are a
   * unit, each of its headers another: one record may hold millions of headers, so a slice can end inside
   * one); returns the units spent. After the last record, `done` is true and nothing may be left over.
   */
  check(budget: number): number {
    let units = 0;
    try {
      while (units < budget && !this.done) {
        if (this.recordEnd < 0) {
          this.startRecord();
          units++;
        }
        const headers = Math.min(this.headersLeft, budget - units);
        for (let h = 0; h < headers; h++) this.skipHeader();
        this.headersLeft -= headers;
        units += headers;
        if (this.headersLeft === 0) this.finishRecord();
      }
    } catch (err) {
      throw this.parseError(err);
    }
    if (this.done) this.checkNothingLeft();
    return units;
  }

  /** The next record and its size in the payload (framing included); null after the last one. */
  next(): { record: StoredRecord; size: number } | null {
    if (this.done) {
      this.checkNothingLeft();
      return null;
    }
    const start = this.reader.position;
    try {
      const record = readRecord(this.reader, this.header, this.index);
      this.index++;
      return { record, size: this.reader.position - start };
    } catch (err) {
      throw this.parseError(err);
    }
  }

  /** Reads a record's fields up to its header count. */
  private startRecord(): void {
    const reader = this.reader;
    const header = this.header;
    const length = reader.readVarint();
    const end = reader.position + length;
    if (length < 0 || end > reader.end) throw new RangeError(`record length ${length} passes the payload end`);
    reader.skip(1);
    const timestampDelta = reader.readVarint();
    if (this.createTime && header.baseTimestamp + timestampDelta > header.maxTimestamp) {
      throw new RangeError(`timestamp ${header.baseTimestamp + timestampDelta} is above the batch's maxTimestamp ${header.maxTimestamp}`);
    }
    if (reader.readVarint() !== this.index) throw new RangeError('offsetDelta out of sequence');
    skipNullable(reader);
    skipNullable(reader);
    const headers = reader.readVarint();
    if (headers < 0) throw new RangeError(`negative header count ${headers}`);
    this.recordLength = length;
    this.recordEnd = end;
    this.headersLeft = headers;
  }

  private skipHeader(): void {
    const keyLength = this.reader.readVarint();
    if (keyLength < 0) throw new RangeError(`header key length ${keyLength}`);
    this.reader.skip(keyLength);
    skipNullable(this.reader);
    if (this.reader.position > this.recordEnd) throw new RangeError(`record length ${this.recordLength} does not match its fields`);
  }

  private finishRecord(): void {
    if (this.reader.position !== this.recordEnd) throw new RangeError(`record length ${this.recordLength} does not match its fields`);
    this.recordEnd = -1;
    this.index++;
  }

  private parseError(err: unknown): unknown {
    return err instanceof RangeError ? corruptMessage(`record ${this.index} does not parse: ${err.message}`) : err;
  }

  private checkNothingLeft(): void {
    if (this.reader.remaining !== 0) {
      throw corruptMessage(`${this.reader.remaining} bytes after the last of ${this.header.recordCount} records`);
    }
  }
}

function skipNullable(reader: Reader): void {
  const length = reader.readVarint();
  if (length < -1) throw new RangeError(`invalid length ${length}`);
  if (length > 0) reader.skip(length);
}

/** Decodes a whole batch (CRC checked). */
export function decodeBatch(buffer: Buffer, at = 0): DecodedBatch {
  const header = validateBatchFrame(buffer, at);
  return { header, records: decodeRecords(buffer.subarray(at, at + batchSize(header)), header) };
}

/** The frame check of one batch as an exception: CORRUPT_MESSAGE saying why. */
function validateBatchFrame(buffer: Buffer, at: number, maxBatchSize?: number): RecordBatchHeader {
  const probe = probeBatch(buffer, at, maxBatchSize);
  if (probe.kind === 'batch') return probe.header;
  if (probe.kind === 'truncated') {
    throw corruptMessage(`batch at byte ${at} is truncated: needs ${probe.needed} bytes, has ${buffer.length - at}`);
  }
  throw corruptMessage(`batch at byte ${at} is corrupt: ${probe.reason}`);
}

/** Parses the records of one batch (`batch` is exactly the batch's bytes). */
export function decodeRecords(batch: Buffer, header: RecordBatchHeader): StoredRecord[] {
  const walker = new RecordWalker(decompress(batchCodec(header), batch.subarray(BATCH_HEADER_SIZE)), header);
  const records: StoredRecord[] = new Array(header.recordCount);
  for (let i = 0, next = walker.next(); next !== null; next = walker.next()) records[i++] = next.record;
  return records;
}

function readRecord(reader: Reader, header: RecordBatchHeader, index: number): StoredRecord {
  const length = reader.readVarint();
  const end = reader.position + length;
  if (length < 0 || end > reader.end) throw new RangeError(`record length ${length} passes the payload end`);
  const record = new Reader(reader.buffer, reader.position, end);
  record.readInt8(); // attributes: unused in v2
  const timestampDelta = record.readVarint();
  const offsetDelta = record.readVarint();
  if (offsetDelta !== index) {
    throw corruptMessage(`record ${index} has offsetDelta ${offsetDelta}`);
  }
  const key = record.readNullableBytes();
  const value = record.readNullableBytes();
  const headerCount = record.readVarint();
  if (headerCount < 0 || headerCount > record.remaining) throw new RangeError(`invalid header count ${headerCount}`);
  const headers: RecordHeader[] = new Array(headerCount);
  for (let h = 0; h < headerCount; h++) {
    const keyLength = record.readVarint();
    if (keyLength < 0) throw new RangeError(`header key length ${keyLength}`);
    headers[h] = { key: record.readBytes(keyLength).toString('utf8'), value: record.readNullableBytes() };
  }
  if (record.remaining !== 0) throw new RangeError(`${record.remaining} stray bytes inside record ${index}`);
  reader.position = end;
  const timestamp =
    timestampTypeOf(header) === 'log-append' ? header.maxTimestamp : header.baseTimestamp + timestampDelta;
  return { offset: header.baseOffset + offsetDelta, timestamp, key, value, headers };
}

/**
 * Splits a buffer of back-to-back batches checking only each frame (length, magic, CRC, header sanity), not
 * the records: cheap checks on headers can then run before any decompression. Throws CORRUPT_MESSAGE.
 */
export function splitBatchFrames(buffer: Buffer, maxBatchSize?: number): { at: number; header: RecordBatchHeader }[] {
  const out: { at: number; header: RecordBatchHeader }[] = [];
  for (let at = 0; at < buffer.length; ) {
    const header = validateBatchFrame(buffer, at, maxBatchSize);
    out.push({ at, header });
    at += batchSize(header);
  }
  return out;
}

/** Splits a buffer of back-to-back batches, validating each frame; throws CORRUPT_MESSAGE on the first bad one. */
export function splitBatches(buffer: Buffer, maxBatchSize?: number): { at: number; header: RecordBatchHeader }[] {
  const frames = splitBatchFrames(buffer, maxBatchSize);
  for (const { at, header } of frames) checkRecords(buffer.subarray(at, at + batchSize(header)), header);
  return frames;
}

/** One batch of a buffer of back-to-back batches: where it starts, its header and its bytes. */
export interface BatchView {
  at: number;
  header: RecordBatchHeader;
  bytes: Buffer;
}

/**
 * The one walk over back-to-back batches whose frames are known good (read from this broker's own log, built
 * by it, or validated by splitBatchFrames before): no CRC or header checks, and it stops at a partial batch at
 * the end (a read cut at a byte limit). Readers that must check what they get (the client) check each batch.
 */
export function* batchesOf(buffer: Buffer): Generator<BatchView> {
  for (let at = 0; at + BATCH_HEADER_SIZE <= buffer.length; ) {
    const header = readBatchHeader(buffer, at);
    const size = batchSize(header);
    if (size < BATCH_HEADER_SIZE || at + size > buffer.length) return;
    yield { at, header, bytes: buffer.subarray(at, at + size) };
    at += size;
  }
}

/**
 * Cuts `bytes` (batches from a segment) to whole batches with baseOffset < maxOffset that fit in `maxBytes`,
 * keeping the first batch even when it alone is larger (so a reader always makes progress).
 */
export function trimToBatches(bytes: Buffer, maxOffset: number, requested: number, maxBytes: number): { bytes: Buffer; nextOffset: number } {
  let end = 0;
  let nextOffset = requested;
  for (const { at, header, bytes: batch } of batchesOf(bytes)) {
    if (header.baseOffset >= maxOffset || (at > 0 && at + batch.length > maxBytes)) break;
    end = at + batch.length;
    nextOffset = lastOffsetOf(header) + 1;
  }
  return { bytes: bytes.subarray(0, end), nextOffset };
}
