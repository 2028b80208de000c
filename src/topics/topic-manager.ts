/**
 * Topics: create, describe, alter config, delete, and the repair of half-done creates and deletes at
 * start-up. Owns the mapping topic -> partition logs; the metadata store holds what survives restarts
 * (see metadata-store.ts for the lifecycle states).
 */
import { BrokerError } from '../common/errors.js';
import { INTERNAL_TOPIC_PREFIX } from '../common/topic-names.js';
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import type { LogManager } from '../log/log-manager.js';
import type { PartitionLog } from '../log/partition-log.js';
import { Partition, type PartitionDeps, type PartitionDirectory, type PartitionRole } from '../replication/partition.js';
import { isValidTopicName } from '../log/segment-files.js';
import { unknownTopic, type MetadataStore, type TopicMetadata } from './metadata-store.js';
import {
  effectiveTopicConfig,
  logConfigOf,
  topicConfigKey,
  validateTopicOverrides,
  type TopicConfig,
  type TopicConfigKey,
  type TopicOverrides,
} from '../replication/topic-config.js';
import type { PartitionDescription } from '../common/topic-description.js';

export const MAX_PARTITIONS = 10_000;

export interface CreateTopicRequest {
  name: string;
  partitions?: number;
  replicationFactor?: number;
  config?: unknown;
}

export type { PartitionDescription };


export interface TopicDescription {
  name: string;
  config: TopicConfig;
  /** the config keys this topic sets itself; the others are the broker's defaults */
  overrides: TopicConfigKey[];
  partitions: PartitionDescription[];
}

/** The broker id of a single-node broker. */
export const LOCAL_BROKER_ID = 0;

/** What describe says of a partition whose files could not be loaded: nothing is known of its log. */
const OFFLINE_PARTITION = {
  leader: -1,
  leaderEpoch: -1,
  replicas: [LOCAL_BROKER_ID],
  isr: [] as number[],
  logStartOffset: -1,
  highWatermark: -1,
  logEndOffset: -1,
  sizeBytes: 0,
  segments: 0,
};

export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string' || !isValidTopicName(name)) {
    throw new BrokerError('INVALID_TOPIC_NAME', `invalid topic name ${JSON.stringify(name)}: use 1-249 of [a-zA-Z0-9._-], not . or ..`);
  }
  return name;
}

/**
 * What the topic manager needs of a cluster (cluster mode only; src/cluster implements it). In cluster mode
 * a topic create or delete only writes the topic's metadata (state 'creating' / 'deleting') and waits for the
 * controller to finish it; the local logs come and go as the controller's partition records name this broker
 * (src/cluster/replica-roles.ts calls `ensureLocalPartition` / `removeLocalPartition`).
 */
export interface TopicClusterView {
  brokerId: number;
  /** replication factor of topics created without one */
  defaultReplicationFactor: number;
  /** the controller's record of a partition (leader, epoch, ISR, replicas); undefined while there is none */
  role(topic: string, partition: number): PartitionRole | undefined;
  /** brokers alive now (the replication factor check at create) */
  liveBrokerCount(): number;
  /** resolves once this broker's copy of the metadata shows the topic `ready` (or gone); rejects after timeoutMs */
  awaitTopic(name: string, until: 'ready' | 'gone', timeoutMs: number): Promise<void>;
  /** a Partition object was made over a local log: give it its current role before anyone uses it */
  partitionOpened(partition: Partition): void;
}

const INTERNAL_TOPIC_REPLICATION_FACTOR = 3;

/** How long a create or delete in cluster mode waits for the controller to complete it. */
const CLUSTER_LIFECYCLE_TIMEOUT_MS = 30_000;

export interface TopicManagerOptions {
  /** cluster mode: the cluster's view (absent: single node) */
  cluster?: TopicClusterView;
  clock: Clock;
  /** brokers able to hold replicas (1 on a single node) */
  brokerCount?: number;
  /** a partition's high watermark from the last checkpoint (replication-offset-checkpoint), if any */
  checkpointedHighWatermark?: (name: string) => number | undefined;
  /** this broker's id (LOCAL_BROKER_ID on a single node) */
  brokerId?: number;
  /** replication settings of every Partition: awaitsRole, replicaLagTimeMaxMs, alterIsr, onIsrChange */
  replication?: Pick<PartitionDeps, 'awaitsRole' | 'replicaLagTimeMaxMs' | 'alterIsr' | 'onIsrChange'>;
}

export class TopicManager implements PartitionDirectory {
  /** one create or delete at a time */
  private lifecycle: Promise<unknown> = Promise.resolve();
  /** the Partition of each loaded log, made on first use and dropped when its topic is deleted */
  private readonly partitions = new Map<string, Partition>();
  private readonly brokerCount: number;

  constructor(
    private readonly store: MetadataStore,
    private readonly logs: LogManager,
    private readonly defaults: () => TopicConfig,
    private readonly events: LogEvents,
    private readonly options: TopicManagerOptions,
  ) {
    this.brokerCount = options.brokerCount ?? 1;
  }

  /**
   * At start-up: gives every partition log its topic's config, completes topics left 'creating' and removes
   * topics left 'deleting' by a crash, and reports partition directories that belong to no topic.
   */
  async repair(): Promise<{ completed: string[]; deleted: string[]; recreatedPartitions: string[]; orphanPartitions: string[] }> {
    const completed: string[] = [];
    const deleted: string[] = [];
    const recreatedPartitions: string[] = [];
    if (this.options.cluster) {
      // The controller completes creates and deletes; local logs follow the partition records.
      for (const topic of this.store.listTopics()) this.applyConfig(topic.name);
      return { completed, deleted, recreatedPartitions, orphanPartitions: [] };
    }
    for (const topic of this.store.listTopics()) {
      if (topic.state === 'deleting') {
        await this.removeTopicData(topic);
        deleted.push(topic.name);
        continue;
      }
      const logConfig = logConfigOf(this.configOf(topic));
      for (let p = 0; p < topic.partitions; p++) this.logs.get({ topic: topic.name, partition: p })?.updateConfig(logConfig);
      for (let p = 0; p < topic.partitions; p++) {
        const tp = { topic: topic.name, partition: p };
        // A partition that failed to load is offline, not missing: its files must never be replaced.
        if (!this.logs.get(tp) && !this.logs.unloadableError(tp)) {
          await this.logs.create(tp, logConfig);
          if (topic.state === 'ready') recreatedPartitions.push(`${topic.name}-${p}`);
        }
      }
      if (topic.state === 'creating') {
        await this.store.putTopic({ ...topic, state: 'ready' });
        completed.push(topic.name);
      }
    }
    const orphanPartitions = this.logs
      .all()
      .filter((log) => {
        const topic = this.store.getTopic(log.topicPartition.topic);
        return !topic || log.topicPartition.partition >= topic.partitions;
      })
      .map((log) => log.name);
    if (completed.length) this.events.warn({ topics: completed }, 'completed topic creations interrupted by a crash');
    if (deleted.length) this.events.warn({ topics: deleted }, 'completed topic deletions interrupted by a crash');
    if (recreatedPartitions.length) this.events.error({ partitions: recreatedPartitions }, 'partition directories were missing and were recreated empty');
    if (orphanPartitions.length) this.events.warn({ partitions: orphanPartitions }, 'partition directories without a topic were left alone and are not served');
    return { completed, deleted, recreatedPartitions, orphanPartitions };
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.lifecycle.then(fn, fn);
    this.lifecycle = result.catch(() => undefined);
    return result;
  }

  configOf(topic: TopicMetadata): TopicConfig {
    return effectiveTopicConfig(this.defaults(), topic.config);
  }

  topicConfig(name: string): TopicConfig {
    return this.configOf(this.topic(name));
  }

  /** The topic if it exists and is ready; UNKNOWN_TOPIC otherwise. */
  topic(name: string): TopicMetadata {
    const topic = this.store.getTopic(name);
    if (!topic || topic.state !== 'ready') throw unknownTopic(name);
    return topic;
  }

  /**
   * The partition of a ready topic: UNKNOWN_TOPIC, UNKNOWN_PARTITION, or the storage error of a partition
   * whose files could not be loaded.
   */
  partition(name: string, partition: number): Partition {
    const topic = this.topic(name);
    if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions) {
      throw new BrokerError('UNKNOWN_PARTITION', `topic ${name} has no partition ${partition} (it has ${topic.partitions})`, {
        details: { topic: name, partition, partitions: topic.partitions },
      });
    }
    const tp = { topic: name, partition };
    const log = this.logs.get(tp);
    if (!log) throw this.logs.unloadableError(tp) ?? this.notHere(name, partition);
    return this.partitionOf(log);
  }

  private notHere(name: string, partition: number): BrokerError {
    const cluster = this.options.cluster;
    if (!cluster) return new BrokerError('KAFKA_STORAGE_ERROR', `partition ${name}-${partition} has no log on this broker`);
    const leader = cluster.role(name, partition)?.leader ?? null;
    return new BrokerError('NOT_LEADER_OR_FOLLOWER', `broker ${cluster.brokerId} holds no replica of ${name}-${partition} (leader: ${leader ?? 'none'})`, {
      details: { leader: leader ?? -1 },
    });
  }

  /**
   * Cluster mode: the partition's local log, created (with its topic's config) when this broker has none yet,
   * for a topic that exists in any state but 'deleting'. Undefined when the topic is gone or being deleted.
   */
  async ensureLocalPartition(name: string, partition: number): Promise<Partition | undefined> {
    return this.serializedLocal(async () => {
      const topic = this.store.getTopic(name);
      if (!topic || topic.state === 'deleting' || partition >= topic.partitions) return undefined;
      const tp = { topic: name, partition };
      if (this.logs.unloadableError(tp)) return undefined;
      const log = this.logs.get(tp) ?? (await this.logs.create(tp, logConfigOf(this.configOf(topic))));
      return this.partitionOf(log);
    });
  }

  /** Cluster mode: drops this broker's replica of a partition (its topic was deleted). */
  removeLocalPartition(name: string, partition: number): Promise<void> {
    return this.serializedLocal(async () => {
      const key = `${name}-${partition}`;
      this.partitions.get(key)?.close(unknownTopic(name));
      this.partitions.delete(key);
      const tp = { topic: name, partition };
      if (this.logs.get(tp) || this.logs.unloadableError(tp)) await this.logs.delete(tp, unknownTopic(name));
    });
  }

  /** The topic-partitions this broker has a log of (loaded or unloadable), any topic state. */
  localPartitions(): { topic: string; partition: number }[] {
    return [...this.logs.all().map((log) => log.topicPartition), ...this.logs.unloadablePartitions().map((u) => u.tp)];
  }

  /** Gives every local log of a topic its current effective config (another broker changed it). */
  applyConfig(name: string): void {
    const topic = this.store.getTopic(name);
    if (!topic) return;
    const logConfig = logConfigOf(this.configOf(topic));
    for (let p = 0; p < topic.partitions; p++) this.logs.get({ topic: name, partition: p })?.updateConfig(logConfig);
  }

  /** local log creation and removal, one at a time (per broker) */
  private localWork: Promise<unknown> = Promise.resolve();

  private serializedLocal<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.localWork.then(fn, fn);
    this.localWork = result.catch(() => undefined);
    return result;
  }

  /** Every partition of every ready topic that has a log here (metrics, checkpoints, producer sessions). */
  allPartitions(): Partition[] {
    const out: Partition[] = [];
    for (const topic of this.list()) {
      for (let p = 0; p < topic.partitions; p++) {
        const log = this.logs.get({ topic: topic.name, partition: p });
        if (log) out.push(this.partitionOf(log));
      }
    }
    return out;
  }

  private partitionOf(log: PartitionLog): Partition {
    const existing = this.partitions.get(log.name);
    if (existing?.ownsLog(log)) return existing;
    existing?.close(unknownTopic(log.topicPartition.topic));
    const made = new Partition(
      log.topicPartition,
      log,
      { clock: this.options.clock, events: this.events, brokerId: this.options.cluster?.brokerId ?? this.options.brokerId ?? LOCAL_BROKER_ID, ...this.options.replication },
      this.options.checkpointedHighWatermark?.(log.name),
    );
    this.partitions.set(log.name, made);
    this.options.cluster?.partitionOpened(made);
    return made;
  }

  list(): TopicMetadata[] {
    return this.store.listTopics().filter((t) => t.state === 'ready');
  }

  /** Creates a topic; names starting with `__` are the broker's own (`internal`). */
  create(request: CreateTopicRequest, internal = false): Promise<TopicDescription> {
    const name = validateTopicName(request.name);
    if (name.startsWith(INTERNAL_TOPIC_PREFIX) && !internal) {
      throw new BrokerError('INVALID_TOPIC_NAME', `topic names starting with ${INTERNAL_TOPIC_PREFIX} are reserved for the broker`);
    }
    const partitions = request.partitions ?? 1;
    const cluster = this.options.cluster;
    // Cluster: the broker's own topics get up to 3 replicas (Kafka's offsets.topic.replication.factor).
    const clusterDefault = cluster ? Math.min(internal ? INTERNAL_TOPIC_REPLICATION_FACTOR : cluster.defaultReplicationFactor, cluster.liveBrokerCount()) : 1;
    const replicationFactor = request.replicationFactor ?? clusterDefault;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new BrokerError('INVALID_REQUEST', `partitions must be an integer from 1 to ${MAX_PARTITIONS}`);
    }
    const brokers = cluster ? cluster.liveBrokerCount() : this.brokerCount;
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > brokers) {
      throw new BrokerError('INVALID_REPLICATION_FACTOR', `replicationFactor must be from 1 to ${brokers} (the number of ${cluster ? 'live ' : ''}brokers)`, {
        details: { brokers },
      });
    }
    const overrides = validateTopicOverrides(request.config);
    if (cluster) return this.serialized(() => this.createInCluster(cluster, { name, partitions, replicationFactor, config: overrides, state: 'creating', createdAt: Date.now() }, internal));
    return this.serialized(async () => {
      if (this.store.getTopic(name)) throw new BrokerError('TOPIC_ALREADY_EXISTS', `topic ${name} exists already`, { details: { topic: name } });
      const leftovers = [...this.logs.all().map((log) => log.topicPartition), ...this.logs.unloadablePartitions().map((u) => u.tp)]
        .filter((tp) => tp.topic === name)
        .map((tp) => `${tp.topic}-${tp.partition}`);
      if (leftovers.length > 0) {
        // Data of an earlier topic of this name whose metadata is gone: never adopt it silently.
        throw new BrokerError('TOPIC_ALREADY_EXISTS', `partition directories ${leftovers.join(', ')} of an earlier topic ${name} exist; move them out of the data directory first`, {
          details: { topic: name, partitions: leftovers },
        });
      }
      const topic: TopicMetadata = { name, partitions, replicationFactor, config: overrides, state: 'creating', createdAt: Date.now() };
      await this.store.putTopic(topic);
      const logConfig = logConfigOf(this.configOf(topic));
      try {
        for (let p = 0; p < partitions; p++) {
          if (!this.logs.get({ topic: name, partition: p })) await this.logs.create({ topic: name, partition: p }, logConfig);
        }
        await this.store.putTopic({ ...topic, state: 'ready' });
      } catch (err) {
        // Undo the half-made topic (disk full, say), so the name is free again; what cannot be undone now is
        // completed or removed at the next start (state 'creating').
        await this.removeTopicData(topic).catch((undo) => this.events.error({ topic: name, err: undo }, 'could not undo a failed topic create'));
        throw err;
      }
      this.events.info({ topic: name, partitions }, 'topic created');
      return this.describe(name);
    });
  }

  /**
   * Cluster mode: writes the topic as 'creating' and waits until the controller has placed its replicas,
   * written its partition records and marked it 'ready' (any broker accepts the create).
   */
  private async createInCluster(cluster: TopicClusterView, topic: TopicMetadata, internal: boolean): Promise<TopicDescription> {
    const existing = this.store.getTopic(topic.name);
    if (internal && existing?.state === 'creating') {
      // Another broker is creating the broker's own topic right now: wait for it rather than fail.
      await cluster.awaitTopic(topic.name, 'ready', CLUSTER_LIFECYCLE_TIMEOUT_MS);
      return this.describe(topic.name);
    }
    if (existing) throw new BrokerError('TOPIC_ALREADY_EXISTS', `topic ${topic.name} exists already`, { details: { topic: topic.name } });
    try {
      await this.store.putTopic(topic);
    } catch (err) {
      // Two brokers starting together both create the broker's own topic: the loser waits for the winner's.
      if (!internal || !(err instanceof BrokerError) || err.code !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
    await cluster.awaitTopic(topic.name, 'ready', CLUSTER_LIFECYCLE_TIMEOUT_MS);
    this.events.info({ topic: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor }, 'topic created');
    return this.describe(topic.name);
  }

  delete(name: string): Promise<void> {
    if (name.startsWith(INTERNAL_TOPIC_PREFIX)) {
      return Promise.reject(new BrokerError('INVALID_REQUEST', `${name} is an internal topic of the broker and cannot be deleted`));
    }
    const cluster = this.options.cluster;
    if (cluster) {
      return this.serialized(async () => {
        const topic = this.topic(name);
        await this.store.putTopic({ ...topic, state: 'deleting' });
        await cluster.awaitTopic(name, 'gone', CLUSTER_LIFECYCLE_TIMEOUT_MS);
        this.events.info({ topic: name }, 'topic deleted');
      });
    }
    return this.serialized(async () => {
      const topic = this.topic(name);
      await this.store.putTopic({ ...topic, state: 'deleting' });
      await this.removeTopicData(topic);
      this.events.info({ topic: name }, 'topic deleted');
    });
  }

  private async removeTopicData(topic: TopicMetadata): Promise<void> {
    // Requests still at the partitions learn that the topic is gone, not that the disk failed.
    for (let p = 0; p < topic.partitions; p++) {
      const name = `${topic.name}-${p}`;
      this.partitions.get(name)?.close(unknownTopic(topic.name));
      this.partitions.delete(name);
      await this.logs.delete({ topic: topic.name, partition: p }, unknownTopic(topic.name));
    }
    await this.store.removeTopic(topic.name);
  }

  /**
   * Sets config keys (`null`: unlimited, where the key allows it) in one change; returns the new effective
   * config. Nothing is changed when any key or value is refused.
   */
  alterConfig(name: string, changes: unknown): Promise<TopicConfig> {
    const validated = validateTopicOverrides(changes);
    return this.serialized(() => this.updateOverrides(name, (overrides) => ({ ...overrides, ...validated })));
  }

  /** Removes a key's override, so the topic takes the broker's default again; returns the new effective config. */
  resetConfig(name: string, key: string): Promise<TopicConfig> {
    const known = topicConfigKey(key);
    return this.serialized(() =>
      this.updateOverrides(name, (overrides) => {
        const { [known]: _removed, ...rest } = overrides;
        return rest;
      }),
    );
  }

  private async updateOverrides(name: string, change: (overrides: TopicOverrides) => TopicOverrides): Promise<TopicConfig> {
    const topic = this.topic(name);
    const updated = { ...topic, config: change(topic.config) };
    await this.store.putTopic(updated);
    const effective = this.configOf(updated);
    for (let p = 0; p < topic.partitions; p++) this.logs.get({ topic: name, partition: p })?.updateConfig(logConfigOf(effective));
    return effective;
  }

  describe(name: string): TopicDescription {
    const topic = this.topic(name);
    const partitions: PartitionDescription[] = [];
    const cluster = this.options.cluster;
    if (cluster) {
      for (let p = 0; p < topic.partitions; p++) partitions.push(this.describeInCluster(cluster, name, p));
      return { name, config: this.configOf(topic), overrides: Object.keys(topic.config).sort() as TopicConfigKey[], partitions };
    }
    for (let p = 0; p < topic.partitions; p++) {
      if (this.logs.unloadableError({ topic: name, partition: p })) {
        partitions.push({ ...OFFLINE_PARTITION, partition: p, offline: true });
        continue;
      }
      const partition = this.partition(name, p);
      const lags = partition.followerLags();
      partitions.push({
        ...(partition.offlineReason ? { offline: true } : {}),
        ...(partition.isUnderReplicated ? { underReplicated: true } : {}),
        partition: p,
        leader: partition.leader ?? -1,
        leaderEpoch: partition.leaderEpoch,
        replicas: [...partition.replicas],
        isr: [...partition.isr],
        logStartOffset: partition.logStartOffset,
        highWatermark: partition.highWatermark,
        logEndOffset: partition.logEndOffset,
        sizeBytes: partition.sizeInBytes,
        segments: partition.segmentCount,
        ...(lags.length > 0 ? { followers: lags.map((l) => ({ broker: l.brokerId, lagRecords: l.records, lagMs: l.ms })) } : {}),
      });
    }
    return { name, config: this.configOf(topic), overrides: Object.keys(topic.config).sort() as TopicConfigKey[], partitions };
  }

  /**
   * Cluster mode: leader, epoch, replicas and ISR from the controller's record; offsets and sizes from this
   * broker's replica when it has one (else -1: ask the leader, whose replica is the authoritative one).
   */
  private describeInCluster(cluster: TopicClusterView, name: string, p: number): PartitionDescription {
    const role = cluster.role(name, p);
    const log = this.logs.get({ topic: name, partition: p });
    const local = log ? this.partitionOf(log) : undefined;
    const offline = role === undefined || role.leader === null || (local !== undefined && local.offlineReason !== null) || this.logs.unloadableError({ topic: name, partition: p }) !== null;
    return {
      ...(offline ? { offline: true } : {}),
      partition: p,
      leader: role?.leader ?? -1,
      leaderEpoch: role?.leaderEpoch ?? -1,
      replicas: [...(role?.replicas ?? [])],
      isr: [...(role?.isr ?? [])],
      logStartOffset: local?.logStartOffset ?? -1,
      highWatermark: local?.highWatermark ?? -1,
      logEndOffset: local?.logEndOffset ?? -1,
      sizeBytes: local?.sizeInBytes ?? 0,
      segments: local?.segmentCount ?? 0,
    };
  }
}
