/**
 * What only the etcd store has to get right (the shared contract is in the conformance suite): several
 * brokers on one etcd never hand out the same producer id, see each other's topics through their watched
 * copies, and concurrent changes of one key are decided by compare-and-swap, never lost silently.
 */
import { describe, expect, it } from 'vitest';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { isBrokerError } from '../../src/common/errors.js';
import type { TopicMetadata } from '../../src/topics/metadata-store.js';
import { useEtcd } from '../helpers/etcd.js';
import { uniqueClusterName, useEtcdConnections } from '../helpers/etcd-cluster.js';
import { waitFor } from '../helpers/wait-for.js';

const etcd = useEtcd();
const etcdConnections = useEtcdConnections();

async function broker(clusterName: string, problems: string[] = []): Promise<EtcdMetadataStore> {
  const connection = etcdConnections.connect(etcd().url, clusterName);
  const store = new EtcdMetadataStore(connection, { onProblem: (message) => problems.push(message) });
  problems.push(...(await store.load()).problems);
  etcdConnections.closeLater(() => store.close());
  return store;
}

const topic = (name: string, config: TopicMetadata['config'] = {}): TopicMetadata => ({ name, partitions: 2, replicationFactor: 1, config, state: 'ready', createdAt: 1 });

describe('EtcdMetadataStore across brokers', () => {
  it('three brokers issuing producer ids at once never hand out the same id', async () => {
    const cluster = uniqueClusterName();
    const stores = [await broker(cluster), await broker(cluster), await broker(cluster)];
    const issued = await Promise.all(stores.map((s, i) => Promise.all(Array.from({ length: 2_500 }, (_, j) => s.registerProducer(j % 100 === 0 ? `p-${i}-${j}` : null)))));
    const ids = issued.flat().map((p) => p.producerId);
    expect(new Set(ids).size).toBe(7_500);
    // Every broker reads every other broker's ids as issued, named ones with their name.
    const named = issued[1]!.find((p) => p.name !== null)!;
    await waitFor(() => stores[0]!.getProducer(named.producerId)?.name === named.name, 5_000, 'broker 0 to see a named producer of broker 1');
    expect(stores[2]!.getProducer(issued[0]![5]!.producerId)).toEqual({ producerId: issued[0]![5]!.producerId, producerEpoch: 0, name: null });
  });

  it('a named producer registered on two brokers at once gets a new epoch each time, never the same one twice', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await broker(cluster), await broker(cluster)];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).registerProducer('billing')));
    expect(new Set(results.map((r) => r.producerId)).size).toBe(1);
    expect(results.map((r) => r.producerEpoch).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('a topic written on one broker is read on the other from its watched copy', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await broker(cluster), await broker(cluster)];
    await a.putTopic(topic('orders', { retentionMs: null }));
    await waitFor(() => b.getTopic('orders') !== undefined, 5_000, 'b to see the topic');
    expect(b.getTopic('orders')).toEqual(topic('orders', { retentionMs: null }));
    await b.removeTopic('orders');
    await waitFor(() => a.getTopic('orders') === undefined, 5_000, 'a to see the topic go');
  });

  it('two brokers creating one topic at once: exactly one wins, the other gets TOPIC_ALREADY_EXISTS', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await broker(cluster), await broker(cluster)];
    for (let i = 0; i < 10; i++) {
      const results = await Promise.allSettled([a.putTopic(topic(`t${i}`, { segmentMs: 1 })), b.putTopic(topic(`t${i}`, { segmentMs: 2 }))]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      // Either b's copy had a's topic before b wrote (then b's put is an update, both succeed in order), or
      // b wrote "create" without knowing: refused.
      for (const r of lost) expect(r.reason).toMatchObject({ code: 'TOPIC_ALREADY_EXISTS' });
      expect(won.length).toBeGreaterThanOrEqual(1);
      await waitFor(() => a.getTopic(`t${i}`)?.config.segmentMs === b.getTopic(`t${i}`)?.config.segmentMs, 5_000, 'both to agree');
    }
  });

  it('concurrent updates of one topic: each either applies in turn or fails retriably; no update is lost silently', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await broker(cluster), await broker(cluster)];
    await a.putTopic(topic('t'));
    await waitFor(() => b.getTopic('t') !== undefined, 5_000, 'b to see the topic');
    let refused = 0;
    for (let i = 0; i < 20; i++) {
      const results = await Promise.allSettled([a.putTopic(topic('t', { segmentMs: 1_000 + i })), b.putTopic(topic('t', { segmentMs: 2_000 + i }))]);
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(isBrokerError(r.reason, 'BROKER_NOT_AVAILABLE') && r.reason.retriable).toBe(true);
          refused++;
        }
      }
      const applied = results.map((r, k) => (r.status === 'fulfilled' ? (k === 0 ? 1_000 : 2_000) + i : null)).filter((v) => v !== null);
      await waitFor(() => a.getTopic('t')?.config.segmentMs === b.getTopic('t')?.config.segmentMs, 5_000, 'both to agree');
      expect(applied).toContain(a.getTopic('t')?.config.segmentMs);
    }
    console.info(`concurrent topic updates: ${refused} of 40 refused as stale`);
  });

  it('load() reports an unreadable topic value and skips it', async () => {
    const cluster = uniqueClusterName();
    const raw = etcdConnections.connect(etcd().url, cluster);
    await raw.cluster.put('meta/topics/bad').value('{not json');
    await raw.cluster.put('meta/topics/wrong-name').value(JSON.stringify(topic('other')));
    const problems: string[] = [];
    const store = await broker(cluster, problems);
    expect(store.listTopics()).toEqual([]);
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/meta\/topics\/wrong-name: inconsistent fields/);
  });
});
