/**
 * What a driver is: the way the harness talks to one system (sluice through its client or its JSON route,
 * Redis Streams, NATS JetStream, RabbitMQ streams, ...). The harness runs producers and consumers in client
 * processes (bench/harness/worker.ts); each of them builds its ProducerDriver or ConsumerDriver from a
 * DriverSpec, which is plain data sent over IPC. Topic set-up and tear-down go through the SystemAdmin in the
 * coordinating process.
 *
 * A topic of P partitions is, on systems without partitions, P streams (`<topic>-<p>`); a consumer group is
 * the system's own group concept where it has one (Redis consumer groups, JetStream durable consumers),
 * otherwise members split the partitions among themselves.
 */
export type SystemName = 'sluice-client' | 'sluice-json' | 'sluice-kafka' | 'redis' | 'nats' | 'rabbitmq';

export interface DriverSpec {
  system: SystemName;
  /** where the system listens: the broker URLs for sluice, host:port otherwise */
  urls: string[];
  acks: 'all' | '1' | '0';
  compression: 'none' | 'lz4';
  topics: string[];
  partitions: number;
}

export interface ProducerDriver {
  /**
   * Hands one record to the system. Resolves when the record is accepted (which may wait: backpressure);
   * `acked` settles when the system acknowledged it.
   */
  send(topic: string, key: string | null, value: Buffer): Promise<{ acked: Promise<unknown> }>;
  close(): Promise<void>;
}

export interface ConsumerDriver {
  /** The next values (may be empty after a short wait). */
  poll(): Promise<(Buffer | string)[]>;
  /** Partitions this member reads now (a group member has none until the group assigned them). */
  assignedPartitions(): number;
  close(): Promise<void>;
}

export interface ConsumerSpec {
  group: string;
  member: number;
  members: number;
}

export interface SystemAdmin {
  createTopics(names: string[], partitions: number, replicationFactor: number, config?: Record<string, number | string | null>): Promise<void>;
  deleteTopics(names: string[]): Promise<void>;
}

/** Splits partitions 0..n-1 over `members` members; returns member `member`'s share. */
export function staticShare(partitions: number, member: number, members: number): number[] {
  const out: number[] = [];
  for (let p = member; p < partitions; p += members) out.push(p);
  return out;
}

/** Waits `ms` (only where nothing can be awaited: a driver whose read returned nothing). */
export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
