/**
 * The dead-letter topic of a share group: a record that is rejected, or that reached maxDeliveryCount, is
 * appended there as it was (key, value, headers, timestamp) with headers saying where it came from:
 * sluice-dlq-topic, sluice-dlq-partition, sluice-dlq-offset, sluice-dlq-delivery-count, sluice-dlq-reason
 * (rejected | max-deliveries). Keyed records go to the partition their key chooses; others to the source
 * partition's number modulo the dead-letter topic's partitions, so records of one source partition keep
 * their order there.
 */
import { partitionForKey } from '../common/murmur2.js';
import { encodeBatch, type RecordInput, type StoredRecord } from '../log/record-batch.js';
import type { TopicManager } from '../topics/topic-manager.js';

export type DeadLetterReason = 'rejected' | 'max-deliveries';

export interface DeadLetter {
  topic: string;
  partition: number;
  record: StoredRecord;
  deliveryCount: number;
  reason: DeadLetterReason;
}

/** Records per appended batch are cut at about this many bytes (below the default maxMessageBytes). */
const MAX_BATCH_BYTES = 512 * 1024;

/** Appends the records to `topic` (UNKNOWN_TOPIC if it is gone); resolves once they are durable. */
export async function appendDeadLetters(topics: TopicManager, topic: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const count = topics.topic(topic).partitions;
  const byPartition = new Map<number, RecordInput[][]>();
  const sizes = new Map<number, number>();
  for (const l of letters) {
    const target = l.record.key ? partitionForKey(l.record.key, count) : l.partition % count;
    const input: RecordInput = {
      key: l.record.key,
      value: l.record.value,
      timestamp: l.record.timestamp,
      headers: [
        ...l.record.headers,
        { key: 'sluice-dlq-topic', value: l.topic },
        { key: 'sluice-dlq-partition', value: String(l.partition) },
        { key: 'sluice-dlq-offset', value: String(l.record.offset) },
        { key: 'sluice-dlq-delivery-count', value: String(l.deliveryCount) },
        { key: 'sluice-dlq-reason', value: l.reason },
      ],
    };
    const size = (l.record.key?.length ?? 0) + (l.record.value?.length ?? 0) + 200;
    let chunks = byPartition.get(target);
    if (!chunks) byPartition.set(target, (chunks = [[]]));
    if ((sizes.get(target) ?? 0) + size > MAX_BATCH_BYTES && chunks[chunks.length - 1]!.length > 0) {
      chunks.push([]);
      sizes.set(target, 0);
    }
    chunks[chunks.length - 1]!.push(input);
    sizes.set(target, (sizes.get(target) ?? 0) + size);
  }
  await Promise.all(
    [...byPartition].map(([p, chunks]) =>
      topics.partition(topic, p).appendAsLeader(Buffer.concat(chunks.map((records) => encodeBatch({ records }))), { trusted: true }),
    ),
  );
}
