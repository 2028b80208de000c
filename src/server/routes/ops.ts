/** Operations: health, Prometheus metrics, the retention pass on demand, the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import { LOCAL_BROKER_ID } from '../../topics/topic-manager.js';
import type { Services } from './common.js';
import { BrokerError } from '../../common/errors.js';

/** The cluster contract's default clusterName; a single node is a cluster of one broker. */
const SINGLE_NODE_CLUSTER_NAME = 'sluice';

export function opsRoutes(app: FastifyInstance, s: Services): void {
  app.get('/health', { schema: { summary: 'Liveness: 200 while the broker serves (cluster mode: once registered and its metadata loaded)', tags: ['operations'] } }, async () => {
    if (s.cluster && !s.cluster.healthy) throw new BrokerError('BROKER_NOT_AVAILABLE', `broker ${s.cluster.brokerId} is not registered in the cluster right now (etcd unreachable or its lease expired); registering again`);
    return { status: 'ok', topics: s.topics.list().filter((t) => !t.name.startsWith('__')).length, offlinePartitions: s.logs.offlinePartitionNames() };
  });

  app.get('/cluster', { schema: { summary: 'The cluster: its name, controller and brokers (single node: this broker alone)', tags: ['operations'] } }, async () => {
    if (s.cluster) return s.cluster.describe();
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : s.config.port;
    return { clusterName: SINGLE_NODE_CLUSTER_NAME, controller: LOCAL_BROKER_ID, brokers: [{ id: LOCAL_BROKER_ID, url: `${s.config.tlsCert !== null ? 'https' : 'http'}://${s.config.host}:${port}`, alive: true }] };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_request, reply) => {
    const text = await s.metrics.registry.metrics();
    return reply.type(s.metrics.registry.contentType).send(text);
  });

  app.post(
    '/admin/retention/run',
    { schema: { summary: 'Run the retention pass now; reports what it deleted', tags: ['operations'], body: { type: ['object', 'null'] } } },
    async () => s.retention.runPass(),
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
