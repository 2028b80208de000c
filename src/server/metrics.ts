/**
 * Prometheus metrics (prom-client), one registry per broker so tests can run several in one process.
 * Partition gauges are computed when scraped, not updated on the hot path.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LogManager } from '../log/log-manager.js';
import type { GroupCoordinator } from '../groups/group-coordinator.js';
import type { FetchManager } from '../replication/fetch-manager.js';
import type { Partition } from '../replication/partition.js';
import type { TopicManager } from '../topics/topic-manager.js';

/**
 * How long a request asked to wait: `maxWaitMs` of a fetch (query) or of a multi-partition fetch or held
 * heartbeat (JSON body); 0 for everything else. Such requests take as long as they wait, so their latency
 * is recorded apart.
 */
export function requestedWaitMs(query: unknown, body: unknown): number {
  const fromQuery = Number((query as { maxWaitMs?: unknown } | undefined)?.maxWaitMs ?? 0);
  const fromBody = body !== null && typeof body === 'object' && !Buffer.isBuffer(body) ? Number((body as { maxWaitMs?: unknown }).maxWaitMs ?? 0) : 0;
  return Math.max(Number.isFinite(fromQuery) ? fromQuery : 0, Number.isFinite(fromBody) ? fromBody : 0);
}

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'sluice_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly longPolls = new Histogram({
    name: 'sluice_long_poll_duration_seconds',
    help: 'duration of requests that asked to wait (fetches with maxWaitMs > 0, held heartbeats), by route; kept out of sluice_http_request_duration_seconds',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly errors = new Counter({ name: 'sluice_errors_total', help: 'error responses by error code and route', labelNames: ['code', 'route'], registers: [this.registry] });
  readonly groupRebalances = new Counter({
    name: 'sluice_consumer_group_rebalances_total',
    help: 'rebalances (generation changes: members joined, left or were removed, or partitions changed) per group',
    labelNames: ['group'],
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({ name: 'sluice_produce_bytes_total', help: 'record batch bytes appended, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly recordsIn = new Counter({ name: 'sluice_produce_records_total', help: 'records appended, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly bytesOut = new Counter({ name: 'sluice_fetch_bytes_total', help: 'record batch bytes served by fetches, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly fsync = new Histogram({
    name: 'sluice_fsync_duration_seconds',
    help: 'duration of one group fdatasync',
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly isrChanges = new Counter({
    name: 'sluice_isr_changes_total',
    help: 'ISR changes this broker made as leader and the cluster accepted, by topic and change (shrink: a follower fell behind for replicaLagTimeMaxMs; expand: it caught up)',
    labelNames: ['topic', 'change'],
    registers: [this.registry],
  });

  readonly retentionSegments = new Counter({ name: 'sluice_retention_deleted_segments_total', help: 'segments deleted by retention, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly retentionBytes = new Counter({ name: 'sluice_retention_deleted_bytes_total', help: 'bytes of segments deleted by retention, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly retentionLastPass = new Gauge({ name: 'sluice_retention_last_pass_timestamp_seconds', help: 'when the last retention pass ended (Unix time)', registers: [this.registry] });

  /** `droppedLogLines`: the count kept by the logger's destination (none: the metric stays 0) */
  constructor(droppedLogLines: () => number = () => 0) {
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    new Counter({
      name: 'sluice_log_lines_dropped_total',
      help: 'log lines dropped because the log destination (stdout) could not take them: full, failing or not read',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(droppedLogLines());
      },
    });
  }

  /** Gauges read from the partitions, the logs and the fetches at scrape time. */
  watch(logs: LogManager, topics: TopicManager, fetches: FetchManager, groups: GroupCoordinator): void {
    new Gauge({
      name: 'sluice_consumer_group_lag',
      help: 'records between a group\'s committed offset and the high watermark, per group and partition',
      labelNames: ['group', 'topic', 'partition'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const l of groups.allLags()) this.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
      },
    });
    new Gauge({
      name: 'sluice_consumer_group_generation',
      help: 'current generation per group',
      labelNames: ['group'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const g of groups.stats()) this.set({ group: g.group }, g.generation);
      },
    });
    new Gauge({
      name: 'sluice_consumer_group_members',
      help: 'live members per group',
      labelNames: ['group'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const g of groups.stats()) this.set({ group: g.group }, g.members);
      },
    });
    const perPartition = (name: string, help: string, pick: (partition: Partition) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const p of topics.allPartitions()) this.set({ topic: p.topicPartition.topic, partition: String(p.topicPartition.partition) }, pick(p));
        },
      });
    perPartition('sluice_log_end_offset', 'log end offset per partition', (l) => l.logEndOffset);
    perPartition('sluice_high_watermark', 'high watermark per partition', (l) => l.highWatermark);
    perPartition('sluice_log_start_offset', 'log start offset per partition', (l) => l.logStartOffset);
    perPartition('sluice_log_size_bytes', 'bytes on disk per partition', (l) => l.sizeInBytes);
    new Gauge({
      name: 'sluice_under_replicated_partitions',
      help: 'partitions this broker leads whose ISR is smaller than their replica set (always 0 on a single node)',
      registers: [this.registry],
      collect() {
        this.set(topics.allPartitions().filter((p) => p.isUnderReplicated).length);
      },
    });
    new Gauge({
      name: 'sluice_leader_partitions',
      help: 'partitions this broker leads',
      registers: [this.registry],
      collect() {
        this.set(topics.allPartitions().filter((p) => p.isLeader).length);
      },
    });
    const perFollower = (name: string, help: string, pick: (lag: ReturnType<Partition['followerLags']>[number]) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition', 'follower'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const p of topics.allPartitions()) {
            for (const lag of p.followerLags()) {
              const value = pick(lag);
              if (value !== null) this.set({ topic: p.topicPartition.topic, partition: String(p.topicPartition.partition), follower: String(lag.brokerId) }, value);
            }
          }
        },
      });
    perFollower('sluice_follower_lag_records', 'on the leader: records a follower is behind the leader\'s log end, per partition and follower (absent until it fetched under this epoch)', (l) => l.records);
    perFollower('sluice_follower_lag_ms', 'on the leader: ms since a follower was last caught up with the leader\'s log end, per partition and follower', (l) => l.ms);
    new Gauge({
      name: 'sluice_offline_partitions',
      help: 'partitions that failed to load at start-up or refuse appends after an unrepairable I/O error',
      registers: [this.registry],
      collect() {
        this.set(logs.offlinePartitionNames().length);
      },
    });
    new Gauge({
      name: 'sluice_fetch_long_poll_waiting',
      help: 'fetch requests waiting for data (long polling)',
      registers: [this.registry],
      collect() {
        this.set(fetches.waitingFetches);
      },
    });
    new Gauge({
      name: 'sluice_group_heartbeats_waiting',
      help: 'consumer group heartbeats held as long polls',
      registers: [this.registry],
      collect() {
        this.set(groups.waitingHeartbeats);
      },
    });
  }
}
