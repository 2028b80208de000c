/**
 * Keyless records: every keyless record of one request goes to one partition (one batch, like Kafka's
 * sticky partitioner), and successive requests move round-robin over the partitions. An idempotent request
 * uses its producer id and sequence instead, so that a retry lands on the same partition.
 */
export class StickyPartitioner {
  private readonly next = new Map<string, number>();

  choose(topic: string, partitions: number, producer: { id: number; sequence: number } | null): number {
    if (producer) return (producer.id + producer.sequence) % partitions;
    const n = this.next.get(topic) ?? Math.floor(Math.random() * partitions);
    this.next.set(topic, (n + 1) % partitions);
    return n % partitions;
  }
}
