/**
 * Partition records in a real etcd: compare-and-swap on the mod revision (a write based on an old revision
 * is refused and the newer state stays), controller fencing, every broker's watched copy and its change
 * events, topic deletion, and the time to create 1,000 partitions and to see a change on another broker.
 */
import { describe, expect, it } from 'vitest';
import { ControllerElection } from '../../src/cluster/controller-election.js';
import { PartitionStateStore, MAX_KEYS_PER_TXN, type PartitionStateChange } from '../../src/cluster/partition-state-store.js';
import { newPartitionState, type PartitionState } from '../../src/cluster/partition-state.js';
import { placeReplicas } from '../../src/cluster/replica-placement.js';
import { useEtcd } from '../helpers/etcd.js';
import { uniqueClusterName, useEtcdConnections } from '../helpers/etcd-cluster.js';
import { waitFor } from '../helpers/wait-for.js';

const etcd = useEtcd();
const etcdConnections = useEtcdConnections();

async function openStore(clusterName: string): Promise<PartitionStateStore> {
  const store = await PartitionStateStore.open(etcdConnections.connect(etcd().url, clusterName));
  etcdConnections.closeLater(() => store.close());
  return store;
}

const led = (leader: number, leaderEpoch: number, isr = [1, 2, 3]): PartitionState => ({ leader, leaderEpoch, isr, replicas: [1, 2, 3], controllerEpoch: 1 });

describe('partition state store', () => {
  it('creates a record only where none exists, and every broker sees it with a change event', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await openStore(cluster), await openStore(cluster)];
    const seen: PartitionStateChange[] = [];
    b.on('change', (change) => seen.push(change));
    const created = await a.write('orders', 0, newPartitionState([1, 2, 3], 1), 0);
    expect(created.written).toBe(true);
    expect(a.get('orders', 0)?.state).toEqual(newPartitionState([1, 2, 3], 1));
    await waitFor(() => b.get('orders', 0) !== undefined, 5_000, 'broker b to see the record');
    expect(seen).toEqual([{ topic: 'orders', partition: 0, current: a.get('orders', 0), previous: undefined }]);
    const again = await b.write('orders', 0, newPartitionState([3, 2, 1], 1), 0);
    expect(again).toMatchObject({ written: false, reason: 'stale' });
    expect(b.get('orders', 0)?.state.replicas).toEqual([1, 2, 3]);
  });

  it('a write based on an old revision is refused, and the newer state stays', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await openStore(cluster), await openStore(cluster)];
    await a.write('t', 0, led(1, 1), 0);
    await waitFor(() => b.get('t', 0) !== undefined, 5_000, 'b to see the record');
    const basedOn = b.get('t', 0)!.modRevision;
    // a moves leadership to 2; b, still working from the old revision, tries to move it to 3.
    const fresh = await a.write('t', 0, led(2, 2), a.get('t', 0)!.modRevision);
    expect(fresh.written).toBe(true);
    const stale = await b.write('t', 0, led(3, 2), basedOn);
    expect(stale).toMatchObject({ written: false, reason: 'stale', current: { modRevision: (fresh as { revision: number }).revision } });
    expect(b.get('t', 0)).toEqual({ state: led(2, 2), modRevision: (fresh as { revision: number }).revision });
    expect(a.get('t', 0)?.state.leader).toBe(2);
    // Based on the record it now has, b's write goes through.
    expect((await b.write('t', 0, led(3, 3), b.get('t', 0)!.modRevision)).written).toBe(true);
  });

  it('a deposed controller is fenced off: its write is refused even when based on the latest revision', async () => {
    const cluster = uniqueClusterName();
    const store = await openStore(cluster);
    const elections = [1, 2].map((brokerId) => {
      const election = new ControllerElection(etcdConnections.connect(etcd().url, cluster), { brokerId, sessionTimeoutMs: 2_000 });
      etcdConnections.closeLater(() => election.close());
      return election;
    });
    elections[0]!.start();
    await waitFor(() => elections[0]!.isController, 10_000, 'broker 1 to be controller');
    elections[1]!.start();
    const oldFence = elections[0]!.ownership!.fence;
    expect((await store.write('t', 0, newPartitionState([1, 2], elections[0]!.ownership!.epoch), 0, [oldFence])).written).toBe(true);
    await elections[0]!.close();
    await waitFor(() => elections[1]!.isController, 5_000, 'broker 2 to take over');
    const latest = store.get('t', 0)!.modRevision;
    expect(await store.write('t', 0, { ...newPartitionState([1, 2], 1), leader: 1, leaderEpoch: 1 }, latest, [oldFence])).toEqual({ written: false, reason: 'fenced', fence: oldFence });
    expect(store.get('t', 0)!.modRevision).toBe(latest);
    expect((await store.write('t', 0, { ...newPartitionState([1, 2], 1), leader: 2, leaderEpoch: 1 }, latest, [elections[1]!.ownership!.fence])).written).toBe(true);
  });

  it('refuses to write a record that breaks the invariants', async () => {
    const store = await openStore(uniqueClusterName());
    await expect(store.write('t', 0, { ...led(4, 1), isr: [4] }, 0)).rejects.toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', message: expect.stringMatching(/subset/) });
    expect(store.get('t', 0)).toBeUndefined();
  });

  it('creates 1,000 partitions in transactions of 100; deleting a topic removes its records only', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await openStore(cluster), await openStore(cluster)];
    const placement = placeReplicas({ partitions: 1_000, replicationFactor: 3, liveBrokers: [1, 2, 3] });
    const started = performance.now();
    for (let first = 0; first < placement.length; first += MAX_KEYS_PER_TXN) {
      const chunk = placement.slice(first, first + MAX_KEYS_PER_TXN).map((replicas, i) => ({ topic: 'big', partition: first + i, state: newPartitionState(replicas, 1), basedOnModRevision: 0 }));
      expect((await a.writeAll(chunk)).written).toBe(true);
    }
    const createdMs = performance.now() - started;
    await waitFor(() => b.partitionsOf('big').size === 1_000, 10_000, 'b to see 1,000 partitions');
    const seenMs = performance.now() - started;
    console.info(`1,000 partition records created in ${createdMs.toFixed(0)} ms, all seen by another broker after ${seenMs.toFixed(0)} ms`);
    expect(createdMs).toBeLessThan(5_000);
    await a.write('big2', 0, newPartitionState([1], 1), 0);
    await a.deleteTopic('big');
    await waitFor(() => b.partitionsOf('big').size === 0, 10_000, 'b to see the records go');
    expect(b.partitionsOf('big2').size).toBe(1);
  });

  it('reads come from memory and another broker sees a change within milliseconds', async () => {
    const cluster = uniqueClusterName();
    const [a, b] = [await openStore(cluster), await openStore(cluster)];
    await a.write('t', 0, led(1, 1), 0);
    await waitFor(() => b.get('t', 0) !== undefined, 5_000, 'b to see the record');
    const latencies: number[] = [];
    for (let i = 2; i < 102; i++) {
      const seen = new Promise<number>((resolve) => b.once('change', () => resolve(performance.now())));
      const sent = performance.now();
      await a.write('t', 0, led(1 + (i % 3), i), a.get('t', 0)!.modRevision);
      latencies.push((await seen) - sent);
    }
    const reads: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const t = performance.now();
      b.get('t', 0);
      b.partitionsOf('t');
      reads.push(performance.now() - t);
    }
    const p = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * q)]!;
    console.info(`watch latency write -> other broker's change event: p50 ${p(latencies, 0.5).toFixed(2)} ms, p99 ${p(latencies, 0.99).toFixed(2)} ms; read p99 ${(p(reads, 0.99) * 1_000).toFixed(1)} µs`);
    expect(p(reads, 0.99)).toBeLessThan(1);
    expect(b.get('t', 0)!.state.leaderEpoch).toBe(101);
  });
});
