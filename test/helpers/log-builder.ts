/** Builds record batches and reads logs back as plain values, for storage tests. */
import type { PartitionLog } from '../../src/log/partition-log.js';
import { encodeBatch } from '../../src/log/record-batch.js';
import { batchesOf, decodeRecords } from '../../src/log/batch-decoder.js';

export function batchOf(values: string[], options: { timestamp?: number; producerId?: number; producerEpoch?: number; baseSequence?: number; compression?: 'none' | 'lz4' } = {}): Buffer {
  const timestamp = options.timestamp ?? 1_700_000_000_000;
  return encodeBatch({
    records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp })),
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    baseSequence: options.baseSequence,
    compression: options.compression,
  });
}

/** Every record of the log below `maxOffset` (default the log end offset) as [offset, value] pairs. */
export async function readAll(log: PartitionLog, from = log.logStartOffset, maxOffset = log.logEndOffset): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let offset = from;
  while (offset < maxOffset) {
    const { bytes, nextOffset } = await log.read(offset, { maxBytes: 64 * 1024, maxOffset });
    if (nextOffset === offset) break;
    for (const batch of batchesOf(bytes)) {
      for (const r of decodeRecords(batch.bytes, batch.header)) {
        if (r.offset >= offset) out.push([r.offset, r.value?.toString() ?? '']);
      }
    }
    offset = nextOffset;
  }
  return out;
}
