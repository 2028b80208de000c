/**
 * The one place that knows the etcd key layout of a cluster. Every key lives under the cluster name (the
 * contract's `clusterName`, default `sluice`), so several clusters can share one etcd:
 *
 *   <cluster>/brokers/<brokerId>                    {"brokerId","url","startedAt","writeId"}, under the broker's lease
 *   <cluster>/election/controller/<leaseId>         etcd3's election recipe: the oldest key is the controller;
 *                                                   value {"brokerId","campaign"}; its create revision is the controller epoch
 *   <cluster>/meta/topics/<topic>                   TopicMetadata + "writeId"
 *   <cluster>/meta/producers/<name>                 a named producer: {"producerId","producerEpoch","name","writeId"}
 *   <cluster>/meta/producer-id-block                {"nextProducerId","writeId"}: ids below it are reserved
 *   <cluster>/partitions/<topic>/<partition>        PartitionState + "writeId"
 *
 * Topic names never contain '/', so `partitions/<topic>/` is a prefix of exactly one topic's partitions.
 * `writeId` (random per write) lets a writer whose reply was lost tell its own write from another's.
 * Broker ids and partitions are decimal without padding: code lists them from the watched cache, never
 * relies on etcd's byte order of keys.
 */

export const ELECTION_NAME = 'controller';
/** etcd3's Election puts its keys under `election/<name>/` of the namespace it is created on. */
export const ELECTION_PREFIX = `election/${ELECTION_NAME}/`;

/** The prefix of everything a cluster keeps in etcd; a namespace over it gives the relative keys below. */
export function clusterPrefix(clusterName: string): string {
  if (clusterName.length === 0 || clusterName.includes('/')) throw new RangeError(`cluster name ${JSON.stringify(clusterName)} must be non-empty and without '/'`);
  return `${clusterName}/`;
}

export const BROKERS_PREFIX = 'brokers/';
export const META_PREFIX = 'meta/';
export const TOPICS_PREFIX = 'meta/topics/';
export const PRODUCERS_PREFIX = 'meta/producers/';
export const PRODUCER_ID_BLOCK_KEY = 'meta/producer-id-block';
export const PARTITIONS_PREFIX = 'partitions/';

export const brokerKey = (brokerId: number): string => `${BROKERS_PREFIX}${brokerId}`;
export const topicKey = (topic: string): string => `${TOPICS_PREFIX}${topic}`;
export const producerKey = (name: string): string => `${PRODUCERS_PREFIX}${name}`;
export const partitionsOfTopicPrefix = (topic: string): string => `${PARTITIONS_PREFIX}${topic}/`;
export const partitionKey = (topic: string, partition: number): string => `${partitionsOfTopicPrefix(topic)}${partition}`;

/** The broker id of a key under BROKERS_PREFIX (relative to it), or null for a key that is not one. */
export function brokerIdOf(relativeKey: string): number | null {
  return /^(0|[1-9][0-9]*)$/.test(relativeKey) ? Number(relativeKey) : null;
}

/** topic and partition of a key under PARTITIONS_PREFIX (relative to it), or null for a key that is not one. */
export function topicPartitionOf(relativeKey: string): { topic: string; partition: number } | null {
  const match = /^([^/]+)\/(0|[1-9][0-9]*)$/.exec(relativeKey);
  return match ? { topic: match[1]!, partition: Number(match[2]) } : null;
}
