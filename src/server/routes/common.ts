/** Pieces shared by the route modules: the services a route may use, and parameter parsing. */
import { BrokerError } from '../../common/errors.js';
import type { Clock } from '../../log/clock.js';
import type { LogManager } from '../../log/log-manager.js';
import type { MetadataStore } from '../../topics/metadata-store.js';
import type { GroupCoordinator } from '../../groups/group-coordinator.js';
import type { ShareGroupManager } from '../../share-groups/share-group-manager.js';
import type { ReplicaManager } from '../../replication/replica-manager.js';
import type { FetchManager } from '../../replication/fetch-manager.js';
import type { ReplicaFetchHandler } from '../../replication/replica-fetch-handler.js';
import type { ReplicaFetcherManager } from '../../replication/replica-fetcher.js';
import type { RetentionJob } from '../../topics/retention-job.js';
import { validateTopicName, type TopicManager } from '../../topics/topic-manager.js';
import type { BrokerConfig } from '../broker-config.js';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import type { BrokerMetrics } from '../metrics.js';
import type { StickyPartitioner } from '../partitioner.js';

export interface Services {
  config: BrokerConfig;
  clock: Clock;
  logs: LogManager;
  store: MetadataStore;
  topics: TopicManager;
  replicas: ReplicaManager;
  fetches: FetchManager;
  /** leader side of followers' fetches (internal routes) */
  replicaFetches: ReplicaFetchHandler;
  /** follower side: one fetcher per leader broker (the cluster layer calls follow/unfollow) */
  replicaFetchers: ReplicaFetcherManager;
  groups: GroupCoordinator;
  shareGroups: ShareGroupManager;
  retention: RetentionJob;
  metrics: BrokerMetrics;
  partitioner: StickyPartitioner;
  /** set when a graceful shutdown starts: replies then close their connection */
  lifecycle: { closing: boolean };
  /** cluster mode (--etcd): this broker's membership and the cluster view; absent on a single node */
  cluster?: ClusterNode;
}

export const RECORD_BATCH_MEDIA_TYPE = 'application/vnd.sluice.record-batch';

/** Whether the request's Accept header asks for stored record batches rather than JSON. */
export function wantsBatches(accept: string | undefined): boolean {
  return accept !== undefined && accept.split(',').some((part) => part.trim().split(';')[0] === RECORD_BATCH_MEDIA_TYPE);
}

export function topicParam(params: unknown): string {
  return validateTopicName((params as { topic?: unknown }).topic);
}

export function partitionParam(params: unknown): number {
  const raw = (params as { partition?: unknown }).partition;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) {
    throw new BrokerError('INVALID_REQUEST', `partition must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** An integer query parameter (strings on the wire); `fallback` when absent. */
export function intQuery(query: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const raw = query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^-?\d{1,16}$/.test(raw)) {
    throw new BrokerError('INVALID_REQUEST', `${name} must be an integer, got ${JSON.stringify(raw)}`);
  }
  const n = Number(raw);
  if (n < min || n > max) throw new BrokerError('INVALID_REQUEST', `${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function enumQuery<T extends string>(query: Record<string, unknown>, name: string, choices: readonly T[], fallback: T): T {
  const raw = query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !choices.includes(raw as T)) {
    throw new BrokerError('INVALID_REQUEST', `${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** `N`, `earliest` or `latest`. */
export function offsetQuery(query: Record<string, unknown>, name: string): number | 'earliest' | 'latest' {
  const raw = query[name];
  if (raw === 'earliest' || raw === 'latest') return raw;
  if (typeof raw === 'string' && /^\d{1,16}$/.test(raw)) return Number(raw);
  throw new BrokerError('INVALID_REQUEST', `${name} must be a non-negative integer, earliest or latest, got ${JSON.stringify(raw ?? null)}`);
}
