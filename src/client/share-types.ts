/** Shapes of the share-group administration calls (Admin) as the broker returns them. */

export interface ShareGroupConfig {
  visibilityTimeoutMs: number;
  maxDeliveryCount: number;
  deadLetterTopic: string | null;
  startFrom: 'latest' | 'earliest';
}

export interface ShareGroupSummary {
  group: string;
  topics: string[];
}

export interface SharePartitionState {
  topic: string;
  partition: number;
  /** every record below it is accepted, rejected or gone by retention */
  startOffset: number;
  /** leased now */
  acquired: number;
  /** waiting for a receiver (up to the high watermark) */
  available: number;
  /** neither accepted nor rejected: acquired + available */
  lag: number;
}

export interface ShareGroupDescription {
  group: string;
  config: ShareGroupConfig;
  partitions: SharePartitionState[];
}
