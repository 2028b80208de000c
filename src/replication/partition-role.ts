/**
 * The types a Partition is built and steered with: its dependencies (PartitionDeps, including the
 * replication hooks the cluster layer provides) and the role the controller gives it (PartitionRole).
 */
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import type { AlterIsr } from './isr-changes.js';
import type { Partition } from './partition.js';

/** Kafka's replica.lag.time.max.ms default. */
export const DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000;

export interface PartitionDeps {
  clock: Clock;
  events: LogEvents;
  /** this broker's id: the leader and only replica of every partition on a single node */
  brokerId: number;
  /** true (cluster mode): no role until makeLeader/makeFollower; false: this broker leads alone at once */
  awaitsRole?: boolean;
  /** a follower not caught up for this long leaves the ISR (default 30,000 ms) */
  replicaLagTimeMaxMs?: number;
  /** proposes an ISR change to the cluster (Kafka's AlterPartition); without it the leader's word is final */
  alterIsr?: AlterIsr;
  /** told of each ISR change this leader made (metrics) */
  onIsrChange?: (partition: Partition, change: 'shrink' | 'expand') => void;
}


/**
 * What the controller decided for a partition (cluster: its record in etcd; single node: this broker leads
 * alone at epoch 0). Applied with `makeLeader` / `makeFollower`.
 */
export interface PartitionRole {
  /** broker id of the leader; null while none */
  leader: number | null;
  leaderEpoch: number;
  isr: readonly number[];
  replicas: readonly number[];
  /**
   * The cluster's version of the record this role comes from (etcd: its mod revision). Passed back with ISR
   * proposals for the compare-and-swap; with the same leader epoch, a role of a lower version is stale.
   */
  version?: number;
}
