/**
 * The JSON convenience path: records of a produce body -> one RecordBatch v2 per partition (then the same
 * append as the binary path), and stored batches -> JSON records for a fetch.
 *
 * Keys and values are UTF-8 text, or base64 with `encoding: base64`; header values are always UTF-8 text.
 */
import { BrokerError } from '../common/errors.js';
import { encodeBatch, isControlBatch, lastOffsetOf, type RecordInput } from '../log/record-batch.js';
import { RecordWalker, batchesOf } from '../log/batch-decoder.js';
import { inflatePayload } from '../log/batch-inflation.js';
import { Pacer } from '../log/pacer.js';
import { consumerHeaders, requestProducerId, requestSequenceHeader } from '../log/request-tag.js';
import type { TopicConfig } from '../replication/topic-config.js';
import { partitionForKey } from '../common/murmur2.js';
import type { StickyPartitioner } from './partitioner.js';

export type Encoding = 'utf8' | 'base64';

export interface JsonRecord {
  key?: string | null;
  value: string | null;
  headers?: Record<string, string | null>;
  partition?: number;
  timestamp?: number;
}

export interface PlannedBatch {
  partition: number;
  data: Buffer;
  /** index in the request of each record of this batch, in batch order */
  recordIndexes: number[];
  timestamps: number[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeText(text: string, encoding: Encoding, what: string, index: number): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  if (!BASE64.test(text)) throw new BrokerError('INVALID_REQUEST', `records[${index}].${what} is not valid base64`, { details: { record: index } });
  return Buffer.from(text, 'base64');
}

/**
 * Places the records on partitions and builds one batch per partition. Throws (and nothing is appended) on
 * a bad partition, a future timestamp, invalid base64 or a batch above maxMessageBytes.
 */
export function planBatches(
  topic: string,
  records: JsonRecord[],
  encoding: Encoding,
  partitions: number,
  config: TopicConfig,
  now: number,
  partitioner: StickyPartitioner,
  producer: { id: number; epoch: number; sequence: number } | null,
): PlannedBatch[] {
  if (records.length === 0) throw new BrokerError('INVALID_REQUEST', 'records must not be empty');
  const latest = now + config.messageTimestampAfterMaxMs;
  const byPartition = new Map<number, { inputs: RecordInput[]; indexes: number[]; timestamps: number[] }>();
  let sticky: number | null = null;
  records.forEach((record, index) => {
    const key = record.key === undefined || record.key === null ? null : decodeText(record.key, encoding, 'key', index);
    // UTF-8 values stay strings: the encoder writes them straight into the batch
    const value = record.value === null ? null : encoding === 'utf8' ? record.value : decodeText(record.value, encoding, 'value', index);
    let partition: number;
    if (record.partition !== undefined) {
      if (record.partition < 0 || record.partition >= partitions) {
        throw new BrokerError('UNKNOWN_PARTITION', `records[${index}]: topic ${topic} has no partition ${record.partition} (it has ${partitions})`, {
          details: { topic, partition: record.partition, partitions },
        });
      }
      partition = record.partition;
    } else if (key !== null) {
      partition = partitionForKey(key, partitions);
    } else {
      sticky ??= partitioner.choose(topic, partitions, producer);
      partition = sticky;
    }
    const timestamp = record.timestamp ?? now;
    if (timestamp > latest) {
      throw new BrokerError('INVALID_TIMESTAMP', `records[${index}].timestamp ${timestamp} is more than ${config.messageTimestampAfterMaxMs} ms in the future`, {
        details: { record: index, timestamp, messageTimestampAfterMaxMs: config.messageTimestampAfterMaxMs },
      });
    }
    const headers = Object.entries(record.headers ?? {}).map(([k, v]) => ({ key: k, value: v }));
    let group = byPartition.get(partition);
    if (!group) byPartition.set(partition, (group = { inputs: [], indexes: [], timestamps: [] }));
    group.inputs.push({ key, value, headers, timestamp });
    group.indexes.push(index);
    group.timestamps.push(timestamp);
  });
  const batches: PlannedBatch[] = [];
  for (const [partition, group] of byPartition) {
    // An idempotent request's batch: the request producer id, its sequence set by the partition's leader,
    // the request sequence tagged on the first record (request-tag.ts).
    if (producer) {
      const first = group.inputs[0]!;
      group.inputs[0] = { ...first, headers: [requestSequenceHeader(producer.sequence), ...(first.headers ?? [])] };
    }
    const data = encodeBatch({
      records: group.inputs,
      compression: config.compression,
      ...(producer ? { producerId: requestProducerId(producer.id), producerEpoch: producer.epoch, baseSequence: 0 } : {}),
    });
    if (data.length > config.maxMessageBytes) {
      throw new BrokerError('RECORD_TOO_LARGE', `the batch for partition ${partition} is ${data.length} bytes, above maxMessageBytes ${config.maxMessageBytes}`, {
        details: { partition, batchBytes: data.length, maxMessageBytes: config.maxMessageBytes },
      });
    }
    batches.push({ partition, data, recordIndexes: group.indexes, timestamps: group.timestamps });
  }
  return batches;
}

export interface FetchedRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

export interface JsonFetchLimits {
  maxRecords: number;
  /** bytes of decoded records (key, value, headers and framing, as in the batch before compression) */
  maxBytes: number;
}

/**
 * Decodes fetched batches to JSON records at or after `from`: at most `maxRecords`, and no more than
 * `maxBytes` of decoded records, except that the first record is returned whatever its size (as Kafka does,
 * so a consumer always makes progress). When a limit stops the walk (possibly inside a batch), `nextOffset`
 * is the first record not returned; otherwise null (the read's own next offset applies). Big payloads are
 * inflated off the event loop and long walks yield to it (pacer.ts).
 */
export async function jsonRecordsOf(bytes: Buffer, from: number, limits: JsonFetchLimits, encoding: Encoding): Promise<{ records: FetchedRecord[]; nextOffset: number | null; decodedBytes: number }> {
  const records: FetchedRecord[] = [];
  const pacer = new Pacer();
  let used = 0;
  for (const { header, bytes: batch } of batchesOf(bytes)) {
    if (isControlBatch(header) || lastOffsetOf(header) < from) continue;
    const walker = new RecordWalker(await inflatePayload(batch, header, pacer), header);
    for (let next = walker.next(); next !== null; next = walker.next()) {
      const { record } = next;
      if (pacer.spend(1 + record.headers.length)) await pacer.turn();
      if (record.offset < from) continue;
      if (records.length >= limits.maxRecords || (records.length > 0 && used + next.size > limits.maxBytes)) {
        return { records, nextOffset: record.offset, decodedBytes: used };
      }
      used += next.size;
      records.push({
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key === null ? null : record.key.toString(encoding),
        value: record.value === null ? null : record.value.toString(encoding),
        headers: Object.fromEntries(consumerHeaders(header, record.offset, record.headers).map((h) => [h.key, h.value === null ? null : h.value.toString('utf8')])),
      });
    }
  }
  return { records, nextOffset: null, decodedBytes: used };
}
