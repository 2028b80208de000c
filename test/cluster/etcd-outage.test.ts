/**
 * etcd trouble: etcd is killed for 10 s and started again under two brokers' worth of cluster modules
 * (registry, controller election, metadata store, partition state store). Nothing may crash the process
 * (vitest fails the run on an unhandled error); reads keep answering from the watched copies; a write made
 * during the outage waits and completes; each broker reports its lost registration and registers again;
 * there is one controller again and changes flow between the brokers again.
 */
import { describe, expect, it } from 'vitest';
import { BrokerRegistry } from '../../src/cluster/broker-registry.js';
import { ControllerElection } from '../../src/cluster/controller-election.js';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { PartitionStateStore } from '../../src/cluster/partition-state-store.js';
import { newPartitionState } from '../../src/cluster/partition-state.js';
import type { TopicMetadata } from '../../src/topics/metadata-store.js';
import { useEtcd } from '../helpers/etcd.js';
import { uniqueClusterName, useEtcdConnections } from '../helpers/etcd-cluster.js';
import { waitFor } from '../helpers/wait-for.js';

const etcd = useEtcd();
const etcdConnections = useEtcdConnections();
const SESSION_MS = 2_000;
const OUTAGE_MS = 10_000;

async function startBroker(clusterName: string, brokerId: number) {
  const connection = etcdConnections.connect(etcd().url, clusterName);
  const events: string[] = [];
  const registry = await BrokerRegistry.register(connection, { brokerId, url: `http://127.0.0.1:${9000 + brokerId}`, sessionTimeoutMs: SESSION_MS });
  registry.on('lost', () => events.push('lost'));
  registry.on('registered', () => events.push('registered'));
  const election = new ControllerElection(connection, { brokerId, sessionTimeoutMs: SESSION_MS });
  election.start();
  const metadata = new EtcdMetadataStore(connection, { writeTimeoutMs: 30_000 });
  await metadata.load();
  const partitions = await PartitionStateStore.open(connection, { writeTimeoutMs: 30_000 });
  etcdConnections.closeLater(async () => {
    await partitions.close();
    await metadata.close();
    await election.close();
    await registry.close();
  });
  return { registry, election, metadata, partitions, events };
}

const topic = (name: string): TopicMetadata => ({ name, partitions: 1, replicationFactor: 2, config: {}, state: 'ready', createdAt: 1 });

describe('etcd outage', () => {
  it(`etcd down for ${OUTAGE_MS / 1_000} s: reads answer, a write waits and lands, brokers re-register, one controller again, watches resume`, async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await startBroker(cluster, 1), await startBroker(cluster, 2)];
    await a.metadata.putTopic(topic('before'));
    await a.partitions.write('before', 0, newPartitionState([1, 2], 1), 0);
    await waitFor(() => b.registry.liveBrokers().length === 2 && [a, b].filter((x) => x.election.isController).length === 1, 10_000, 'two brokers, one controller');
    await waitFor(() => b.metadata.getTopic('before') !== undefined && b.partitions.get('before', 0) !== undefined, 5_000, 'b to see the topic');

    await etcd().stop();
    const stoppedAt = Date.now();
    // Reads answer from memory while etcd is gone.
    expect(b.metadata.getTopic('before')?.name).toBe('before');
    expect(b.partitions.get('before', 0)?.state.replicas).toEqual([1, 2]);
    const write = a.metadata.putTopic(topic('during'));
    write.catch(() => undefined);
    // Client-side, a lease is given up after 2 TTLs without a keepalive: both brokers report it.
    await waitFor(() => a.events.includes('lost') && b.events.includes('lost'), OUTAGE_MS, 'both brokers to report their registration lost');
    expect(a.registry.registered || b.registry.registered).toBe(false);
    await waitFor(() => !a.election.isController && !b.election.isController, OUTAGE_MS, 'the controller to step down');
    expect(b.metadata.listTopics().map((t) => t.name)).toEqual(['before']);
    await waitFor(() => Date.now() - stoppedAt >= OUTAGE_MS, OUTAGE_MS + 1_000, 'the outage to last');

    await etcd().start();
    const restartedAt = Date.now();
    await write;
    const writeMs = Date.now() - restartedAt;
    await waitFor(() => a.registry.registered && b.registry.registered, 15_000, 'both brokers to register again');
    const registeredMs = Date.now() - restartedAt;
    await waitFor(() => b.metadata.getTopic('during') !== undefined, 10_000, 'b to see the write made during the outage');
    const watchMs = Date.now() - restartedAt;
    await waitFor(() => [a, b].filter((x) => x.election.isController).length === 1, 15_000, 'one controller again');
    const controllerMs = Date.now() - restartedAt;
    await waitFor(() => a.registry.liveBrokers().length === 2 && b.registry.liveBrokers().length === 2, 10_000, 'both to see both');
    // Both agree on the controller that holds the election (a re-election meanwhile under load is fine).
    await waitFor(
      () => {
        const holder = [a, b].find((x) => x.election.isController)?.election.ownership;
        return holder != null && a.election.controller?.epoch === holder.epoch && b.election.controller?.epoch === holder.epoch;
      },
      15_000,
      'both to agree on the controller',
    );
    // New changes flow both ways.
    const record = b.partitions.get('before', 0)!;
    expect((await b.partitions.write('before', 0, { ...record.state, leader: 1, leaderEpoch: 1 }, record.modRevision, [])).written).toBe(true);
    await waitFor(() => a.partitions.get('before', 0)?.state.leader === 1, 5_000, 'a to see b\'s write');
    console.info(
      `after a ${OUTAGE_MS} ms etcd outage, from etcd's restart: pending write done ${writeMs} ms, both re-registered ${registeredMs} ms, watch caught up ${watchMs} ms, one controller ${controllerMs} ms`,
    );
    expect(a.events).toEqual(['lost', 'registered']);
  });
});
