/**
 * Cluster mode at the HTTP edge: which broker answers what (docs/cluster.md "Routing").
 *
 * - Partition-scoped routes (binary produce, JSON and binary fetch, offsets by timestamp) on a broker that
 *   does not lead the partition: 307 with Location = the same path and query on the leader's advertised URL,
 *   body code NOT_LEADER_OR_FOLLOWER; 503 NOT_LEADER_OR_FOLLOWER while no leader is known. Checked in an
 *   onRequest hook, before the body is read.
 * - Group routes: the coordinator is the leader of the group's `__consumer_offsets` partition; any other
 *   broker answers 307 NOT_COORDINATOR to it (503 while unknown).
 * - Multi-partition fetch (`POST /fetch`): partitions this broker does not lead get a per-partition error
 *   entry NOT_LEADER_OR_FOLLOWER with `leader` (id) and `leaderAdvertisedUrl` (as Kafka's fetch does), the
 *   others are served; see `leaderOnly`.
 * Everything is decided from the broker's watched copies of the records: no etcd round trip per request.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hostname } from 'node:os';
import { BrokerError } from '../common/errors.js';
import { murmur2 } from '../common/murmur2.js';
import { ClusterNode, type LeaderView } from '../cluster/cluster-node.js';
import { OFFSETS_TOPIC } from '../groups/offsets-store.js';
import type { Partition, PartitionDirectory } from '../replication/partition.js';
import type { LogEvents } from '../log/log-config.js';
import type { BrokerConfig } from './broker-config.js';

const PARTITION_ROUTES = new Set(['/topics/:topic/partitions/:partition/batches', '/topics/:topic/partitions/:partition/records', '/topics/:topic/partitions/:partition/offsets']);
const GROUP_ROUTE_PREFIX = '/groups/:group';

/** Joins the cluster of `config.etcd` (startBroker in cluster mode). */
export function connectCluster(config: BrokerConfig, events: LogEvents): Promise<ClusterNode> {
  return ClusterNode.connect({
    endpoints: config.etcd!.split(',').map((e) => e.trim()),
    clusterName: config.clusterName,
    brokerId: config.brokerId,
    advertisedUrl: advertisedUrlOf(config),
    sessionTimeoutMs: config.brokerSessionTimeoutMs,
    uncleanLeaderElection: config.uncleanLeaderElection,
    defaultReplicationFactor: config.defaultReplicationFactor,
    events,
  });
}

/** The contract's default advertisedUrl: http://HOST:PORT (the machine's name when listening on every address). */
export function advertisedUrlOf(config: BrokerConfig): string {
  if (config.advertisedUrl) return config.advertisedUrl.replace(/\/$/, '');
  if (config.port === 0) throw new BrokerError('INVALID_CONFIG', 'cluster mode needs a fixed --port or an --advertised-url (other brokers and clients must know where to reach this broker)');
  const host = config.host === '0.0.0.0' || config.host === '::' ? hostname() : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** The onRequest hook that redirects partition and group requests to the broker that serves them. */
export function registerClusterRouting(app: FastifyInstance, cluster: ClusterNode): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route === undefined) return done();
    try {
      if (PARTITION_ROUTES.has(route)) checkPartitionLeader(cluster, request);
      else if (route.startsWith(GROUP_ROUTE_PREFIX)) checkCoordinator(cluster, request);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
}

function checkPartitionLeader(cluster: ClusterNode, request: FastifyRequest): void {
  const { topic, partition } = request.params as { topic?: string; partition?: string };
  if (typeof topic !== 'string' || typeof partition !== 'string' || !/^\d{1,9}$/.test(partition)) return; // the route answers 400
  const view = cluster.leaderOf(topic, Number(partition));
  if (view.state === 'unknown-partition' && cluster.store.getTopic(topic)?.state !== 'creating') return; // the route answers 404
  redirectUnlessHere(cluster, view, request, 'NOT_LEADER_OR_FOLLOWER', `${topic}-${partition}`);
}

function checkCoordinator(cluster: ClusterNode, request: FastifyRequest): void {
  const group = (request.params as { group?: string }).group;
  const offsets = cluster.store.getTopic(OFFSETS_TOPIC);
  if (typeof group !== 'string' || !offsets) return;
  const index = (murmur2(Buffer.from(group, 'utf8')) & 0x7fffffff) % offsets.partitions;
  redirectUnlessHere(cluster, cluster.leaderOf(OFFSETS_TOPIC, index), request, 'NOT_COORDINATOR', `group ${group}`);
}

function redirectUnlessHere(cluster: ClusterNode, view: LeaderView, request: FastifyRequest, code: 'NOT_LEADER_OR_FOLLOWER' | 'NOT_COORDINATOR', what: string): void {
  if (view.state === 'leader' && view.brokerId === cluster.brokerId) return;
  const role = code === 'NOT_COORDINATOR' ? 'coordinator' : 'leader';
  if (view.state !== 'leader' || view.url === null) {
    throw new BrokerError(code, `no ${role} of ${what} is known right now; retry shortly`, { details: { leader: view.state === 'leader' ? view.brokerId : -1 } });
  }
  throw new BrokerError(code, `broker ${cluster.brokerId} is not the ${role} of ${what}; broker ${view.brokerId} is`, {
    details: { leader: view.brokerId, leaderUrl: `${view.url}${request.url}` },
  });
}

/**
 * The partitions a consumer fetch may read on this broker: those it leads. Others throw
 * NOT_LEADER_OR_FOLLOWER naming the leader (a per-partition error entry in a multi-partition fetch).
 */
export function leaderOnly(directory: PartitionDirectory, cluster: ClusterNode): PartitionDirectory {
  return {
    topicConfig: (topic) => directory.topicConfig(topic),
    partition(topic: string, partition: number): Partition {
      const view = cluster.leaderOf(topic, partition);
      if (view.state === 'unknown-partition' || (view.state === 'leader' && view.brokerId === cluster.brokerId)) return directory.partition(topic, partition);
      const leader = view.state === 'leader' ? view.brokerId : -1;
      throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `broker ${cluster.brokerId} does not lead ${topic}-${partition} (leader: ${leader === -1 ? 'none' : leader})`, {
        details: { leader, ...(view.state === 'leader' && view.url ? { leaderAdvertisedUrl: view.url } : {}) },
      });
    },
  };
}
