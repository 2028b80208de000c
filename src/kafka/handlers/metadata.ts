/**
 * Metadata: the brokers and the topics asked for (all of them for a null list, or an empty one before v1),
 * with each partition's leader, replicas and ISR from the cluster view. Topics are not created on demand:
 * an unknown topic is UNKNOWN_TOPIC_OR_PARTITION (create it with CreateTopics or the HTTP API).
 */
import { Metadata } from '../generated/index.js';
import { INTERNAL_TOPIC_PREFIX } from '../../common/topic-names.js';
import { expected, KafkaErrors } from '../errors.js';
import type { KafkaServices } from '../services.js';

export function metadataHandler(s: KafkaServices) {
  return async (_ctx: unknown, version: number, request: Metadata.MetadataRequest): Promise<Metadata.MetadataResponse> => {
    const all = request.topics === null || (version === 0 && request.topics.length === 0);
    const names = all ? s.topics.list().map((t) => t.name) : request.topics!.map((t) => t.name);
    const topics: Metadata.MetadataResponseTopic[] = names.map((name) => {
      try {
        const partitions = s.cluster.partitions(name).map((p, index) => ({
          errorCode: p.leaderId === -1 ? KafkaErrors.LEADER_NOT_AVAILABLE : KafkaErrors.NONE,
          partitionIndex: index,
          leaderId: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicaNodes: p.replicas,
          isrNodes: p.isr,
          offlineReplicas: p.leaderId === -1 ? p.replicas : [],
        }));
        return { errorCode: KafkaErrors.NONE, name, isInternal: name.startsWith(INTERNAL_TOPIC_PREFIX), partitions, topicAuthorizedOperations: -2147483648 };
      } catch (err) {
        return { errorCode: expected(err).code, name, isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 };
      }
    });
    return {
      throttleTimeMs: 0,
      brokers: s.cluster.brokers(),
      clusterId: s.cluster.clusterId,
      controllerId: s.cluster.controllerId(),
      topics,
      clusterAuthorizedOperations: -2147483648,
    };
  };
}
