/** What the Kafka handlers use: the broker's own parts (the same ones the HTTP API serves), and the cluster view. */
import type { Logger } from 'pino';
import type { Clock } from '../log/clock.js';
import type { TopicManager } from '../topics/topic-manager.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { FetchManager } from '../replication/fetch-manager.js';
import type { GroupCoordinator } from '../groups/group-coordinator.js';
import type { ProducerIdentity } from '../replication/producer-sessions.js';
import type { KafkaClusterView } from './cluster-view.js';

export interface KafkaServices {
  clock: Clock;
  topics: TopicManager;
  replicas: ReplicaManager;
  fetches: FetchManager;
  groups: GroupCoordinator;
  /** issues producer ids from the same space as POST /producers (the metadata store) */
  registerProducer(name: string | null): Promise<ProducerIdentity>;
  cluster: KafkaClusterView;
  /** upper bound of a fetch's max wait (maxFetchWaitMs) */
  maxFetchWaitMs: number;
  /** a group without members waits this long after its first join before it completes the rebalance */
  initialRebalanceDelayMs: number;
  logger: Logger;
}
