/**
 * Conversions between the client's record shapes and the shared RecordBatch v2 codec (src/log): producer
 * records to codec input with a size estimate (what `bufferBytes` and `batchBytes` count), and fetched batches
 * to consumer records. There is no second codec here.
 */
import { batchesOf, decodeBatch } from '../log/batch-decoder.js';
import { BATCH_HEADER_SIZE, isControlBatch, type RecordInput } from '../log/record-batch.js';
import { consumerHeaders } from '../log/request-tag.js';
import { invalidArgument } from './errors.js';
import type { Bytes, ConsumerRecord, HeadersInput, ProducerRecord } from './types.js';

/** Worst-case bytes of a record's framing: length, attributes, timestamp and offset deltas, lengths, count. */
const RECORD_OVERHEAD = 5 + 1 + 10 + 5 + 5 + 5 + 5;
const HEADER_OVERHEAD = 10;
export const BATCH_OVERHEAD = BATCH_HEADER_SIZE;

function toBytes(value: Bytes | null | undefined, what: string): Buffer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw invalidArgument(`${what} must be a string, a Uint8Array or null`);
}

function textOrBytes(value: Bytes | null | undefined, what: string): string | Buffer | null {
  return typeof value === 'string' ? value : toBytes(value, what);
}

function byteLength(value: string | Uint8Array | null): number {
  return value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

function headerList(headers: HeadersInput | undefined): { key: string; value: string | Buffer | null }[] {
  if (headers === undefined) return [];
  const entries = Array.isArray(headers) ? headers.map((h) => [h?.key, h?.value] as const) : Object.entries(headers);
  return entries.map(([key, value]) => {
    if (typeof key !== 'string') throw invalidArgument('a header key must be a string');
    return { key, value: textOrBytes(value, `header ${key}`) };
  });
}

export interface PreparedRecord {
  /** Keys are bytes (the partitioner hashes them); values and header values stay strings when given so. */
  input: RecordInput & { key: Buffer | null; timestamp: number };
  /** Upper bound of the record's encoded size (uncompressed). */
  size: number;
}

/** Validates a producer record and turns it into codec input; throws INVALID_REQUEST for bad arguments. */
export function prepareRecord(record: ProducerRecord, now: number): PreparedRecord {
  if (record === null || typeof record !== 'object') throw invalidArgument('send needs a record object');
  if (typeof record.topic !== 'string' || record.topic.length === 0) throw invalidArgument('record.topic must be a topic name');
  if (record.value === undefined) throw invalidArgument('record.value is required (a string, bytes or null)');
  const timestamp = record.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalidArgument(`record.timestamp must be ms since the epoch, not ${record.timestamp}`);
  const key = toBytes(record.key, 'record.key');
  const value = textOrBytes(record.value, 'record.value');
  const headers = headerList(record.headers);
  let size = RECORD_OVERHEAD + (key?.length ?? 0) + byteLength(value);
  for (const h of headers) size += HEADER_OVERHEAD + Buffer.byteLength(h.key) + byteLength(h.value);
  return { input: { key, value, headers, timestamp }, size };
}

/**
 * The records of a binary fetch reply at or after `from`. Every batch is CRC-checked and decoded with the
 * shared codec; control batches are skipped.
 */
export function consumerRecordsOf(body: Buffer, topic: string, partition: number, from: number): ConsumerRecord[] {
  const out: ConsumerRecord[] = [];
  // A reply ends on a whole batch; a partial tail is left alone. Each batch's frame and CRC are checked here.
  for (const batch of batchesOf(body)) {
    const { header, records } = decodeBatch(batch.bytes);
    if (isControlBatch(header)) continue;
    for (const r of records) {
      if (r.offset < from) continue;
      const list = consumerHeaders(header, r.offset, r.headers);
      const headers = Object.fromEntries(list.map((h) => [h.key, h.value])); // own keys only, even "__proto__"
      out.push({ topic, partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers, headerList: list });
    }
  }
  return out;
}
