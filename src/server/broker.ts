/**
 * Starts and stops a single-node broker: metadata, storage, topics, replica manager, HTTP. The order of
 * shutdown matters: stop accepting requests and let in-flight ones finish, wake long polls, then close the
 * logs (flush, indexes, snapshots, recovery points) and write the clean-shutdown marker last.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../log/clock.js';
import { crcImplementation } from '../log/crc32c.js';
import { nodeFileIO, type FileIO } from '../log/file-io.js';
import { LogManager } from '../log/log-manager.js';
import { LocalMetadataStore, type MetadataStore } from '../topics/metadata-store.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { ReplicationHooks } from '../cluster/replica-roles.js';
import { ProducerSessions } from '../replication/producer-sessions.js';
import { GroupCoordinator } from '../groups/group-coordinator.js';
import { ShareGroupManager } from '../share-groups/share-group-manager.js';
import { watchShareGroups } from './share-group-metrics.js';
import { ReplicaManager } from '../replication/replica-manager.js';
import { FetchManager } from '../replication/fetch-manager.js';
import { ReplicaFetchHandler } from '../replication/replica-fetch-handler.js';
import { ReplicaFetcherManager } from '../replication/replica-fetcher.js';
import type { AlterIsr } from '../replication/isr-changes.js';
import { HighWatermarkCheckpoint, readHighWatermarks } from '../replication/high-watermark-checkpoint.js';
import { effectiveTopicConfig, logConfigOf } from '../replication/topic-config.js';
import { TopicManager } from '../topics/topic-manager.js';
import { VERSION } from './version.js';
import { buildApp } from './app.js';
import { topicDefaultsOf, type BrokerConfig } from './broker-config.js';
import { BrokerMetrics } from './metrics.js';
import { murmur2 } from '../common/murmur2.js';
import { StickyPartitioner } from './partitioner.js';
import { RetentionJob } from '../topics/retention-job.js';
import type { Services } from './routes/common.js';
import { connectCluster, leaderOnly } from './cluster-routing.js';

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  io?: FileIO;
  /** false: build the app without listening (tests use app.inject) */
  listen?: boolean;
  /** log lines the logger's destination dropped so far (sluice_log_lines_dropped_total) */
  droppedLogLines?: () => number;
  /**
   * Replication identity and hooks (cluster mode; tests that assign roles by hand): this broker's id,
   * whether partitions wait for a role (makeLeader/makeFollower) instead of leading alone, and how a leader
   * proposes ISR changes. Absent: the single-node broker, id 0, leading every partition.
   */
  replication?: { brokerId: number; awaitsRole?: boolean; alterIsr?: AlterIsr };
  /**
   * More front doors over the same services (the Kafka protocol listener), started after the HTTP API and
   * closed before it. The composition root supplies them, so this layer does not depend on them.
   */
  extraListeners?: ((services: Services) => Promise<ExtraListener>)[];
}

export interface ExtraListener {
  close(): Promise<void>;
}

export interface RunningBroker {
  app: FastifyInstance;
  services: Services;
  /** http://host:port (https with TLS) once listening */
  url: string | null;
  close(): Promise<void>;
  /** SIGHUP: rereads the auth file and the TLS certificate, key and CA (open connections stay) */
  reload(): { authFile: string; tls: string };
}

export async function startBroker(config: BrokerConfig, options: StartOptions): Promise<RunningBroker> {
  const { logger } = options;
  const io = options.io ?? nodeFileIO;

  // Cluster mode (--etcd): the metadata lives in etcd and this broker registers there (docs/cluster.md).
  const cluster = config.etcd ? await connectCluster(config, logger.child({ component: 'cluster' })) : null;
  const store = cluster?.store ?? new LocalMetadataStore(io, config.dataDir);
  await io.mkdir(config.dataDir);
  if (!cluster) {
    const { problems } = await store.load();
    if (problems.length > 0) logger.error({ problems }, 'unreadable topic metadata files were skipped');
  }
  try {
    return await startOnStore(config, options, store, cluster);
  } catch (err) {
    await cluster?.close().catch(() => undefined);
    throw err;
  }
}

async function startOnStore(config: BrokerConfig, options: StartOptions, store: MetadataStore, cluster: ClusterNode | null): Promise<RunningBroker> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const io = options.io ?? nodeFileIO;
  const metrics = new BrokerMetrics(options.droppedLogLines);
  const defaults = () => topicDefaultsOf(config);

  const logs = await LogManager.open({
    dataDir: config.dataDir,
    fsyncPolicy: config.fsync,
    flushIntervalMs: config.flushIntervalMs,
    recoveryPointCheckpointIntervalMs: config.recoveryPointCheckpointIntervalMs,
    maxOpenFiles: config.maxOpenFiles,
    producerIdExpirationMs: config.producerIdExpirationMs,
    producerIdExpirationCheckIntervalMs: config.producerIdExpirationCheckIntervalMs,
    storageRetryBackoffMs: config.storageRetryBackoffMs,
    clock,
    io,
    events: logger.child({ component: 'log' }),
    onSync: (seconds) => metrics.fsync.observe(seconds),
    logConfigFor: (tp) => {
      const topic = store.getTopic(tp.topic);
      const effective = topic ? effectiveTopicConfig(defaults(), topic.config) : defaults();
      return { ...logConfigOf(effective), fileDeleteDelayMs: config.fileDeleteDelayMs };
    },
  });
  const highWatermarks = await readHighWatermarks(io, config.dataDir, logger.child({ component: 'replicas' }));
  const topics = new TopicManager(store, logs, defaults, logger.child({ component: 'topics' }), {
    clock,
    checkpointedHighWatermark: (name) => highWatermarks.get(name),
    ...(cluster ? { cluster } : {}),
    ...(options.replication || cluster ? { brokerId: cluster?.brokerId ?? options.replication!.brokerId } : {}),
    replication: {
      replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
      ...(options.replication?.awaitsRole || cluster ? { awaitsRole: true } : {}),
      ...(cluster ? { alterIsr: clusterAlterIsr(cluster) } : options.replication?.alterIsr ? { alterIsr: options.replication.alterIsr } : {}),
      onIsrChange: (partition, change) => metrics.isrChanges.inc({ topic: partition.topicPartition.topic, change }),
    },
  });
  await topics.repair();
  const hwCheckpoint = new HighWatermarkCheckpoint(io, config.dataDir, () => topics.allPartitions(), clock, logger.child({ component: 'replicas' }), config.highWatermarkCheckpointIntervalMs);
  const producers = new ProducerSessions(store, () => topics.allPartitions(), {
    clock,
    expirationMs: config.producerIdExpirationMs,
    checkIntervalMs: config.producerIdExpirationCheckIntervalMs,
  });
  const replicas = new ReplicaManager(topics, producers, clock, logger.child({ component: 'replicas' }), {
    maxBatchInflatedBytes: config.maxBatchInflatedBytes,
    maxRequestInflatedBytes: config.maxRequestInflatedBytes,
    maxRequestBytes: config.maxRequestBytes,
  });
  const fetches = new FetchManager(cluster ? leaderOnly(topics, cluster) : topics, clock);
  const replicaFetches = new ReplicaFetchHandler(topics, clock);
  const replicaFetchers = new ReplicaFetcherManager({
    brokerId: cluster?.brokerId ?? options.replication?.brokerId ?? 0,
    clock,
    events: logger.child({ component: 'replica-fetcher' }),
    maxWaitMs: config.replicaFetchWaitMaxMs,
    maxBytes: config.replicaFetchMaxBytes,
    backoffMs: config.replicaFetchBackoffMs,
    interBrokerToken: config.interBrokerToken,
  });
  // Cluster mode: every partition record naming this broker is applied (leader or follower), and from then on
  // followed; a follower copies its leader through the replica fetchers (docs/replication.md).
  if (cluster) await cluster.attach(topics, replicationHooks(replicaFetchers, replicas));
  const groups = await GroupCoordinator.open(topics, clock, logger.child({ component: 'groups' }), {
    offsetsTopicPartitions: config.offsetsTopicPartitions,
    offsetsRetentionMs: config.offsetsRetentionMs,
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    hash: murmur2,
    groupMaxSize: config.groupMaxSize,
    onRebalance: (group) => metrics.groupRebalances.inc({ group }),
  });
  metrics.watch(logs, topics, fetches, groups);
  const shareGroups = await ShareGroupManager.open(topics, clock, logger.child({ component: 'share-groups' }), {
    stateTopicPartitions: config.shareStateTopicPartitions,
    maxInFlightPerPartition: config.maxInFlightPerPartition,
    hash: murmur2,
  });
  watchShareGroups(metrics.registry, shareGroups, topics);
  const retention = new RetentionJob(topics, clock, logger.child({ component: 'retention' }), {
    intervalMs: config.retentionCheckIntervalMs,
    onDeleted: (topic, _partition, result) => {
      metrics.retentionSegments.inc({ topic }, result.deletedSegments);
      metrics.retentionBytes.inc({ topic }, result.freedBytes);
    },
    onPass: (atMs) => metrics.retentionLastPass.set(atMs / 1000),
  });

  const lifecycle = { closing: false };
  const services: Services = { config, clock, logs, store, topics, replicas, fetches, replicaFetches, replicaFetchers, groups, shareGroups, retention, metrics, partitioner: new StickyPartitioner(), lifecycle, ...(cluster ? { cluster } : {}) };
  let app: FastifyInstance;
  let url: string | null = null;
  const extras: ExtraListener[] = [];
  try {
    app = await buildApp(services, logger);
    // A connection beyond maxConnections is closed at once by Node.
    app.server.maxConnections = config.maxConnections;
    if (options.listen !== false) url = await app.listen({ host: config.host, port: config.port });
    for (const start of options.extraListeners ?? []) extras.push(await start(services));
  } catch (err) {
    // Leave the storage as cleanly as it was found (e.g. the port is taken): no recovery needed next time.
    for (const extra of extras) await extra.close().catch(() => undefined);
    if (url !== null) await app!.close().catch(() => undefined);
    groups.close();
    replicaFetchers.close();
    shareGroups.close();
    await logs.close().catch(() => undefined);
    throw err;
  }
  retention.start();
  hwCheckpoint.start();
  logger.info(
    {
      version: VERSION,
      dataDir: config.dataDir,
      listen: url,
      fsync: config.fsync,
      crc32c: crcImplementation,
      node: process.version,
      // "new" rather than cleanShutdown:false, which reads like a crash on a first start.
      storage: { opened: logs.report.newDataDir ? 'new data directory' : logs.report.cleanShutdown ? 'after a clean shutdown' : 'recovered after an unclean shutdown', partitions: logs.report.partitions, openMs: logs.report.durationMs },
      ...(cluster ? { cluster: { clusterName: cluster.clusterName, brokerId: cluster.brokerId, advertisedUrl: cluster.advertisedUrl } } : {}),
    },
    'sluice started',
  );

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: finishing in-flight requests');
      lifecycle.closing = true;
      fetches.close();
      replicaFetches.close();
      replicaFetchers.close();
      for (const extra of extras) await extra.close().catch((err) => logger.error({ err }, 'closing a listener failed'));
      groups.close();
      shareGroups.close();
      retention.close();
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref());
      const closed = await Promise.race([app.close().then(() => 'closed' as const), timeout]);
      if (closed === 'timeout') logger.warn({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'in-flight requests did not finish in time');
      app.server.closeAllConnections();
      // Leaving the cluster at once (lease revoked): the controller moves leadership away now, not after a TTL.
      await cluster?.close().catch((err) => logger.error({ err }, 'leaving the cluster failed; its lease expires by itself'));
      await hwCheckpoint.stop().catch((err) => logger.error({ err }, 'writing the high-watermark checkpoint at shutdown failed'));
      await logs.close();
      logger.info('sluice stopped cleanly');
    })());
  const reload = () => {
    const result = app.security.reload();
    logger.info(result, 'SIGHUP: reloaded the security files');
    return result;
  };
  return { app, services, url, close, reload };
}

/** How a broker's replication reacts to the roles the cluster hands its partitions. */
function replicationHooks(fetchers: ReplicaFetcherManager, replicas: ReplicaManager): ReplicationHooks {
  return {
    becameLeader: (partition) => {
      fetchers.unfollow(partition);
      // The idempotent producers of this partition, as the copied batches left them, answer retries now.
      replicas.becameLeader(partition);
    },
    becameFollower: (partition, _record, leader) => {
      if (leader) fetchers.follow(partition, { leaderId: leader.brokerId, leaderUrl: leader.url });
      else fetchers.unfollow(partition);
    },
  };
}

/** A leader's ISR proposals, written by compare-and-swap into the partition's record in etcd. */
function clusterAlterIsr(cluster: ClusterNode): AlterIsr {
  return async (tp, proposal) => {
    const result = await cluster.alterIsr({ topic: tp.topic, partition: tp.partition, leaderEpoch: proposal.leaderEpoch, isr: proposal.isr });
    return result.accepted ? { leaderEpoch: result.state.leaderEpoch, isr: result.state.isr, replicas: result.state.replicas } : null;
  };
}
