/**
 * Kafka RecordBatch v2: the unit sluice stores, replicates and serves. A pure codec over Buffers; it knows no
 * files and no sockets.
 *
 * Batch layout (big-endian), 61 bytes of header then the records:
 *
 *   offset  size  field
 *   0       8     baseOffset             i64  first offset of the batch (assigned by the leader)
 *   8       4     batchLength            i32  bytes after this field (total size = batchLength + 12)
 *   12      4     partitionLeaderEpoch   i32  epoch of the leader that appended it (assigned by the leader)
 *   16      1     magic                  i8   always 2
 *   17      4     crc                    u32  CRC-32C of bytes 21..end (attributes to the last record)
 *   21      2     attributes             i16  bits 0-2 codec (0 none, 3 lz4), bit 3 timestamp type
 *                                              (0 create, 1 log-append), bit 4 transactional, bit 5 control
 *   23      4     lastOffsetDelta        i32  last offset - baseOffset
 *   27      8     baseTimestamp          i64  ms
 *   35      8     maxTimestamp           i64  ms
 *   43      8     producerId             i64  -1 when not idempotent
 *   51      2     producerEpoch          i16  -1 when not idempotent
 *   53      4     baseSequence           i32  -1 when not idempotent
 *   57      4     recordCount            i32
 *   61      ...   records, compressed as one payload when the codec is not none
 *
 * Record layout (varints are zigzag):
 *   length varint (bytes after this field), attributes i8 (unused, 0), timestampDelta varlong,
 *   offsetDelta varint, keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
 *   headerCount varint, then per header: keyLength varint, key (UTF-8), valueLength varint (-1 = null), value.
 *
 * baseOffset and partitionLeaderEpoch lie outside the CRC, so the leader assigns them by rewriting the header
 * in place (`assignOffsetAndEpoch`) and stores the client's bytes as they are.
 *
 * This module writes batches and reads headers; batch-decoder.ts validates and decodes them.
 */
import { readInt64, sizeOfVarint, writeInt64, writeVarint } from './buffers.js';
import { CODEC_IDS, codecFromId, compress, type CompressionCodec } from './compression.js';
import { crc32c } from './crc32c.js';

export const BATCH_HEADER_SIZE = 61;
/** baseOffset + batchLength: the bytes in front of what batchLength counts. */
export const LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export const BATCH = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
} as const;

const CODEC_MASK = 0x07;
const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

export type TimestampType = 'create' | 'log-append';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordBatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the whole batch is batchLength + LOG_OVERHEAD bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface StoredRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedBatch {
  header: RecordBatchHeader;
  records: StoredRecord[];
}

/**
 * A record to encode; timestamp defaults to the batch's base timestamp. Keys, values and header values may be
 * strings: they are written as UTF-8 straight into the batch, without an intermediate Buffer.
 */
export interface RecordInput {
  key?: Uint8Array | string | null;
  value: Uint8Array | string | null;
  headers?: { key: string; value: Uint8Array | string | null }[];
  timestamp?: number;
}

export interface BatchInput {
  records: RecordInput[];
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  compression?: CompressionCodec;
  timestampType?: TimestampType;
  /** Used when a record has no timestamp of its own; defaults to the first record's or Date.now(). */
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
}

export function batchSize(header: Pick<RecordBatchHeader, 'batchLength'>): number {
  return header.batchLength + LOG_OVERHEAD;
}

export function lastOffsetOf(header: Pick<RecordBatchHeader, 'baseOffset' | 'lastOffsetDelta'>): number {
  return header.baseOffset + header.lastOffsetDelta;
}

export function codecOf(header: Pick<RecordBatchHeader, 'attributes'>): CompressionCodec {
  return codecFromId(header.attributes & CODEC_MASK);
}

export function timestampTypeOf(header: Pick<RecordBatchHeader, 'attributes'>): TimestampType {
  return header.attributes & TIMESTAMP_TYPE_BIT ? 'log-append' : 'create';
}

export function isControlBatch(header: Pick<RecordBatchHeader, 'attributes'>): boolean {
  return (header.attributes & CONTROL_BIT) !== 0;
}

export function isTransactionalBatch(header: Pick<RecordBatchHeader, 'attributes'>): boolean {
  return (header.attributes & TRANSACTIONAL_BIT) !== 0;
}

export function hasProducerId(header: Pick<RecordBatchHeader, 'producerId'>): boolean {
  return header.producerId >= 0;
}

/**
 * Reads the fixed header at `at` without checking the CRC. The caller must ensure BATCH_HEADER_SIZE bytes are
 * present; an i64 field beyond 2^53 throws RangeError.
 */
export function readBatchHeader(buffer: Buffer, at = 0): RecordBatchHeader {
  return {
    baseOffset: readInt64(buffer, at + BATCH.baseOffset),
    batchLength: buffer.readInt32BE(at + BATCH.batchLength),
    partitionLeaderEpoch: buffer.readInt32BE(at + BATCH.partitionLeaderEpoch),
    magic: buffer.readInt8(at + BATCH.magic),
    crc: buffer.readUInt32BE(at + BATCH.crc),
    attributes: buffer.readInt16BE(at + BATCH.attributes),
    lastOffsetDelta: buffer.readInt32BE(at + BATCH.lastOffsetDelta),
    baseTimestamp: readInt64(buffer, at + BATCH.baseTimestamp),
    maxTimestamp: readInt64(buffer, at + BATCH.maxTimestamp),
    producerId: readInt64(buffer, at + BATCH.producerId),
    producerEpoch: buffer.readInt16BE(at + BATCH.producerEpoch),
    baseSequence: buffer.readInt32BE(at + BATCH.baseSequence),
    recordCount: buffer.readInt32BE(at + BATCH.recordCount),
  };
}

/** CRC-32C over attributes..end of the batch that starts at `at` and is `size` bytes long. */
export function computeBatchCrc(buffer: Buffer, at: number, size: number): number {
  return crc32c(buffer.subarray(at + BATCH.attributes, at + size));
}

/** Rewrites the two leader-assigned fields in place. The CRC stays valid because it does not cover them. */
export function assignOffsetAndEpoch(buffer: Buffer, at: number, baseOffset: number, leaderEpoch: number): void {
  writeInt64(buffer, at + BATCH.baseOffset, baseOffset);
  buffer.writeInt32BE(leaderEpoch, at + BATCH.partitionLeaderEpoch);
}

/**
 * Sets the batch's baseSequence and recomputes its CRC (which covers it): the leader numbering a batch the
 * broker built itself (the JSON route's, see request-tag.ts).
 */
export function assignBaseSequence(buffer: Buffer, at: number, baseSequence: number): void {
  buffer.writeInt32BE(baseSequence, at + BATCH.baseSequence);
  const size = buffer.readInt32BE(at + BATCH.batchLength) + LOG_OVERHEAD;
  buffer.writeUInt32BE(computeBatchCrc(buffer, at, size), at + BATCH.crc);
}

/**
 * Encodes a batch. Offsets and leader epoch default to 0 / -1: the leader assigns them at append.
 *
 * Two passes: the first measures every record exactly, the second writes the records straight into the one
 * buffer of the batch (or of the payload to compress), so each key and value is copied once.
 */
export function encodeBatch(input: BatchInput): Buffer {
  const records = input.records;
  const count = records.length;
  if (count === 0) throw new RangeError('a record batch needs at least one record');
  const baseTimestamp = input.baseTimestamp ?? records[0]!.timestamp ?? Date.now();
  let maxTimestamp = -1;
  const keyLengths = new Int32Array(count);
  const valueLengths = new Int32Array(count);
  const bodySizes = new Int32Array(count);
  /** UTF-8 lengths of header keys and values, in order, for the records that have headers */
  const headerLengths: number[] = [];
  let payloadSize = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const timestamp = record.timestamp ?? baseTimestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const keyLength = fieldLength(record.key);
    const valueLength = fieldLength(record.value);
    keyLengths[i] = keyLength;
    valueLengths[i] = valueLength;
    const headers = record.headers ?? EMPTY;
    let size = 1 + sizeOfVarint(timestamp - baseTimestamp) + sizeOfVarint(i) + sizeOfField(keyLength) + sizeOfField(valueLength) + sizeOfVarint(headers.length);
    for (const header of headers) {
      const k = Buffer.byteLength(header.key, 'utf8');
      const v = fieldLength(header.value);
      headerLengths.push(k, v);
      size += sizeOfField(k) + sizeOfField(v);
    }
    bodySizes[i] = size;
    payloadSize += sizeOfVarint(size) + size;
  }

  const codec = input.compression ?? 'none';
  let batch: Buffer;
  if (codec === 'none') {
    batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payloadSize);
    writeRecords(batch, BATCH_HEADER_SIZE, input, baseTimestamp, keyLengths, valueLengths, bodySizes, headerLengths);
  } else {
    const payload = Buffer.allocUnsafe(payloadSize);
    writeRecords(payload, 0, input, baseTimestamp, keyLengths, valueLengths, bodySizes, headerLengths);
    const compressed = compress(codec, payload);
    batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(batch, BATCH_HEADER_SIZE);
  }

  const size = batch.length;
  let attributes = CODEC_IDS[codec];
  if (input.timestampType === 'log-append') attributes |= TIMESTAMP_TYPE_BIT;
  if (input.transactional) attributes |= TRANSACTIONAL_BIT;
  writeInt64(batch, BATCH.baseOffset, input.baseOffset ?? 0);
  batch.writeInt32BE(size - LOG_OVERHEAD, BATCH.batchLength);
  batch.writeInt32BE(input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, BATCH.partitionLeaderEpoch);
  batch.writeInt8(MAGIC_V2, BATCH.magic);
  batch.writeInt16BE(attributes, BATCH.attributes);
  batch.writeInt32BE(count - 1, BATCH.lastOffsetDelta);
  writeInt64(batch, BATCH.baseTimestamp, baseTimestamp);
  writeInt64(batch, BATCH.maxTimestamp, maxTimestamp);
  writeInt64(batch, BATCH.producerId, input.producerId ?? NO_PRODUCER_ID);
  batch.writeInt16BE(input.producerEpoch ?? NO_PRODUCER_EPOCH, BATCH.producerEpoch);
  batch.writeInt32BE(input.baseSequence ?? NO_SEQUENCE, BATCH.baseSequence);
  batch.writeInt32BE(count, BATCH.recordCount);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, size), BATCH.crc);
  return batch;
}

const EMPTY: never[] = [];

type Field = Uint8Array | string | null | undefined;

/** Encoded length of a key, value or header value; -1 for null. */
function fieldLength(field: Field): number {
  if (field === null || field === undefined) return -1;
  return typeof field === 'string' ? Buffer.byteLength(field, 'utf8') : field.length;
}

function sizeOfField(length: number): number {
  return length < 0 ? 1 : sizeOfVarint(length) + length;
}

function writeField(buffer: Buffer, at: number, field: Field, length: number): number {
  at = writeVarint(buffer, at, length);
  if (length <= 0) return at;
  if (typeof field === 'string') buffer.write(field, at, length, 'utf8');
  else buffer.set(field!, at);
  return at + length;
}

/** The second pass of encodeBatch: the records, back to back, from `at`. */
function writeRecords(
  buffer: Buffer,
  at: number,
  input: BatchInput,
  baseTimestamp: number,
  keyLengths: Int32Array,
  valueLengths: Int32Array,
  bodySizes: Int32Array,
  headerLengths: number[],
): void {
  let h = 0;
  for (let i = 0; i < input.records.length; i++) {
    const record = input.records[i]!;
    at = writeVarint(buffer, at, bodySizes[i]!);
    buffer[at++] = 0; // attributes: unused in v2
    at = writeVarint(buffer, at, (record.timestamp ?? baseTimestamp) - baseTimestamp);
    at = writeVarint(buffer, at, i);
    at = writeField(buffer, at, record.key, keyLengths[i]!);
    at = writeField(buffer, at, record.value, valueLengths[i]!);
    const headers = record.headers ?? EMPTY;
    at = writeVarint(buffer, at, headers.length);
    for (const header of headers) {
      at = writeField(buffer, at, header.key, headerLengths[h++]!);
      at = writeField(buffer, at, header.value, headerLengths[h++]!);
    }
  }
}
