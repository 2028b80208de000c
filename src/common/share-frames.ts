/**
 * The binary reply of a share-group receive (`POST /share-groups/:group/receive` with
 * `Accept: application/vnd.sluice.record-batch`): the leases as a small JSON header, then the leased records
 * as Kafka record batches, so values travel as raw bytes (no base64, no JSON escaping). Integers big-endian.
 *
 *   reply   := headerLength u32, header (headerLength bytes of UTF-8 JSON), batches
 *   header  := {"parts": [[topic, partition, bytes], ...], "leases": [[part, offset, deliveryCount, receipt], ...]}
 *   batches := for each part in order, `bytes` bytes of record batches holding exactly its leased records
 *
 * A part's batches are built from the records leased in this reply (uncompressed, one batch per run of
 * consecutive offsets, each record keeping its offset and timestamp), not copied from the log: a stored
 * batch may hold records leased to other receivers. `part` indexes `parts`. Offsets are below 2^53.
 * Pure: shared by the broker (encode) and the client (decode).
 */
import { decodeRecords, splitBatchFrames } from '../log/batch-decoder.js';
import { batchSize, encodeBatch, type StoredRecord } from '../log/record-batch.js';

export interface LeasedRecord {
  topic: string;
  partition: number;
  record: StoredRecord;
  deliveryCount: number;
  receipt: string;
}

/** The reply as a list of buffers (the header first), for one write. */
export function encodeShareFrames(leased: readonly LeasedRecord[]): Buffer[] {
  const parts: [string, number, number][] = [];
  const partIndex = new Map<string, number>();
  const runs: StoredRecord[][][] = [];
  const leases: [number, number, number, string][] = [];
  for (const l of leased) {
    const key = `${l.topic}\u0000${l.partition}`;
    let index = partIndex.get(key);
    if (index === undefined) {
      index = parts.length;
      partIndex.set(key, index);
      parts.push([l.topic, l.partition, 0]);
      runs.push([]);
    }
    const partRuns = runs[index]!;
    const last = partRuns[partRuns.length - 1];
    if (last && last[last.length - 1]!.offset + 1 === l.record.offset) last.push(l.record);
    else partRuns.push([l.record]);
    leases.push([index, l.record.offset, l.deliveryCount, l.receipt]);
  }
  const batches: Buffer[] = [];
  runs.forEach((partRuns, index) => {
    for (const run of partRuns) {
      const batch = encodeBatch({ baseOffset: run[0]!.offset, records: run.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })) });
      parts[index]![2] += batch.length;
      batches.push(batch);
    }
  });
  const header = Buffer.from(JSON.stringify({ parts, leases }), 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(header.length, 0);
  return [length, header, ...batches];
}

/** Parses a whole reply (checking every batch's frame and CRC); throws RangeError or CORRUPT_MESSAGE. */
export function decodeShareFrames(data: Buffer): LeasedRecord[] {
  if (data.length < 4) throw new RangeError('share receive reply shorter than its header length');
  const headerLength = data.readUInt32BE(0);
  if (4 + headerLength > data.length) throw new RangeError('share receive reply ends inside its header');
  const header = JSON.parse(data.subarray(4, 4 + headerLength).toString('utf8')) as { parts: [string, number, number][]; leases: [number, number, number, string][] };
  const byPart = new Map<number, Map<number, StoredRecord>>();
  let at = 4 + headerLength;
  header.parts.forEach(([, , bytes], index) => {
    if (at + bytes > data.length) throw new RangeError('share receive reply ends inside its batches');
    const chunk = data.subarray(at, at + bytes);
    const records = new Map<number, StoredRecord>();
    for (const { at: start, header: batchHeader } of splitBatchFrames(chunk)) {
      for (const r of decodeRecords(chunk.subarray(start, start + batchSize(batchHeader)), batchHeader)) records.set(r.offset, r);
    }
    byPart.set(index, records);
    at += bytes;
  });
  return header.leases.map(([part, offset, deliveryCount, receipt]) => {
    const record = byPart.get(part)?.get(offset);
    const p = header.parts[part];
    if (!record || !p) throw new RangeError(`share receive reply names offset ${offset} of part ${part} without its record`);
    return { topic: p[0], partition: p[1], record, deliveryCount, receipt };
  });
}
