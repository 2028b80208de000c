/**
 * What Metadata and FindCoordinator tell clients about the cluster: the brokers, each partition's leader and
 * replicas, the coordinator of a group. The seam for cluster mode: a single node answers with itself
 * (singleNodeView); a cluster supplies its own KafkaClusterView (live brokers from the registry, leaders and
 * ISR from the partition-state store) and the handlers stay the same.
 */
import { hostname } from 'node:os';
import type { TopicManager } from '../topics/topic-manager.js';

export interface KafkaNode {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionLeadership {
  /** -1 when the partition has no leader (offline) */
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface KafkaClusterView {
  clusterId: string;
  /** this broker's id */
  localNodeId: number;
  controllerId(): number;
  /** the live brokers, with the address of their Kafka listener */
  brokers(): KafkaNode[];
  /** leader, epoch, replicas and ISR of every partition of a topic (UNKNOWN_TOPIC when it does not exist) */
  partitions(topic: string): PartitionLeadership[];
  /** the broker coordinating a group */
  coordinatorFor(group: string): KafkaNode;
}

/** A listener bound to every interface is advertised under the machine's name. */
export function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host;
}

export function singleNodeView(topics: TopicManager, self: { nodeId: number; host: string; port: number }, clusterId: string): KafkaClusterView {
  const node: KafkaNode = { nodeId: self.nodeId, host: self.host, port: self.port, rack: null };
  return {
    clusterId,
    localNodeId: self.nodeId,
    controllerId: () => self.nodeId,
    brokers: () => [node],
    partitions: (topic) =>
      topics.describe(topic).partitions.map((p) => ({ leaderId: p.leader, leaderEpoch: p.leaderEpoch, replicas: [...p.replicas], isr: [...p.isr] })),
    coordinatorFor: () => node,
  };
}
