/** A share group as the manager holds it (shared by the receive and the ack paths). */
import type { ShareGroupConfig } from './share-group-config.js';
import type { SharePartition } from './share-partition.js';

export interface ShareGroup {
  name: string;
  config: ShareGroupConfig;
  partitions: Map<string, SharePartition>;
  /** receives waiting for records */
  waiters: Set<() => void>;
  /** where the next receive starts among its partitions (fairness) */
  cursor: number;
}
