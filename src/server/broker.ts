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
import { ProducerSessions } from '../replication/producer-sessions.js';
import { GroupCoordinator } from '../groups/group-coordinator.js';
import { ReplicaManager } from '../replication/replica-manager.js';
import { FetchManager } from '../replication/fetch-manager.js';
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
}

export interface RunningBroker {
  app: FastifyInstance;
  services: Services;
  /** http://host:port once listening */
  url: string | null;
  close(): Promise<void>;
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
  });
  await topics.repair();
  if (cluster) await cluster.attach(topics);
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
  const groups = await GroupCoordinator.open(topics, clock, logger.child({ component: 'groups' }), {
    offsetsTopicPartitions: config.offsetsTopicPartitions,
    offsetsRetentionMs: config.offsetsRetentionMs,
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    hash: murmur2,
    onRebalance: (group) => metrics.groupRebalances.inc({ group }),
  });
  metrics.watch(logs, topics, fetches, groups);
  const retention = new RetentionJob(topics, clock, logger.child({ component: 'retention' }), {
    intervalMs: config.retentionCheckIntervalMs,
    onDeleted: (topic, _partition, result) => {
      metrics.retentionSegments.inc({ topic }, result.deletedSegments);
      metrics.retentionBytes.inc({ topic }, result.freedBytes);
    },
    onPass: (atMs) => metrics.retentionLastPass.set(atMs / 1000),
  });

  const lifecycle = { closing: false };
  const services: Services = { config, clock, logs, store, topics, replicas, fetches, groups, retention, metrics, partitioner: new StickyPartitioner(), lifecycle, ...(cluster ? { cluster } : {}) };
  let app: FastifyInstance;
  let url: string | null = null;
  try {
    app = await buildApp(services, logger);
    if (options.listen !== false) url = await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    // Leave the storage as cleanly as it was found (e.g. the port is taken): no recovery needed next time.
    groups.close();
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
      storage: { cleanShutdown: logs.report.cleanShutdown, partitions: logs.report.partitions, openMs: logs.report.durationMs },
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
      groups.close();
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
  return { app, services, url, close };
}
