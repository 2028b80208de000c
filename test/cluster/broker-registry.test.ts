/**
 * Membership against a real etcd: brokers register under leases, see each other through the watch, a
 * taken broker id is refused, and a broker process killed with SIGKILL (lease never revoked) disappears
 * when its lease expires. Time is bounded by awaited conditions, never by sleeps.
 */
import { describe, expect, it } from 'vitest';
import { BrokerRegistry, leaseTtlSeconds } from '../../src/cluster/broker-registry.js';
import { useEtcd } from '../helpers/etcd.js';
import { uniqueClusterName, useEtcdConnections } from '../helpers/etcd-cluster.js';
import { ClusterMemberProcess } from '../helpers/cluster-member-process.js';
import { waitFor } from '../helpers/wait-for.js';

const etcd = useEtcd();
const etcdConnections = useEtcdConnections();

async function register(clusterName: string, brokerId: number, sessionTimeoutMs = 2_000, takenWaitMs?: number): Promise<BrokerRegistry> {
  const connection = etcdConnections.connect(etcd().url, clusterName);
  const registry = await BrokerRegistry.register(connection, { brokerId, url: `http://127.0.0.1:${9000 + brokerId}`, sessionTimeoutMs, ...(takenWaitMs === undefined ? {} : { takenWaitMs }) });
  etcdConnections.closeLater(() => registry.close());
  return registry;
}

const ids = (registry: BrokerRegistry) => registry.liveBrokers().map((b) => b.brokerId);

describe('broker registry', () => {
  it('maps session timeouts to whole-second lease TTLs, rounding up', () => {
    expect([1, 999, 1_000, 1_001, 2_000, 2_500, 6_000].map(leaseTtlSeconds)).toEqual([1, 1, 1, 2, 2, 3, 6]);
  });

  it('three brokers register and see each other; a broker that closes leaves the set at once', async () => {
    const cluster = uniqueClusterName();
    const [a, b, c] = [await register(cluster, 1), await register(cluster, 2), await register(cluster, 3)];
    await waitFor(() => [a, b, c].every((r) => ids(r).join() === '1,2,3'), 5_000, 'every broker to see 1,2,3');
    expect(a.liveBrokers()[1]).toMatchObject({ brokerId: 2, url: 'http://127.0.0.1:9002' });
    expect(a.registered).toBe(true);
    const started = Date.now();
    await c.close();
    await waitFor(() => ids(a).join() === '1,2' && ids(b).join() === '1,2', 5_000, 'broker 3 to leave');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a broker id held by a live broker is refused with a clear error after waiting one session', async () => {
    const cluster = uniqueClusterName();
    await register(cluster, 7, 1_000);
    const started = Date.now();
    const refused = register(cluster, 7, 1_000, 1_200);
    await expect(refused).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/broker id 7 is already taken by a live broker \(http:\/\/127\.0\.0\.1:9007\).*--broker-id/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_200);
  });

  it('two broker processes with one id: the second refuses to start and exits, the first stays registered', async () => {
    const cluster = uniqueClusterName();
    const observer = await register(cluster, 1, 1_000);
    const first = new ClusterMemberProcess(etcd().url, cluster, 4, 1_000);
    let second: ClusterMemberProcess | undefined;
    try {
      await first.waitForLine(/^registered$/);
      second = new ClusterMemberProcess(etcd().url, cluster, 4, 1_000);
      expect(await second.waitForLine(/^failed /)).toMatch(/^failed broker id 4 is already taken by a live broker \(http:\/\/127\.0\.0\.1:14\)/);
      await second.exited;
      expect(observer.isAlive(4)).toBe(true);
      expect(first.lines).toEqual(['registered']);
    } finally {
      await Promise.all([first.kill(), second?.kill()]);
    }
  });

  it('a broker killed with SIGKILL disappears when its lease expires; a new process may then take its id', async () => {
    const cluster = uniqueClusterName();
    const sessionTimeoutMs = 2_000;
    const observer = await register(cluster, 1, sessionTimeoutMs);
    const member = new ClusterMemberProcess(etcd().url, cluster, 5, sessionTimeoutMs);
    try {
      await member.waitForLine(/^registered$/);
      await waitFor(() => observer.isAlive(5), 5_000, 'broker 5 to be seen');
      const killedAt = Date.now();
      await member.kill();
      // The id is still held: a new broker with it waits (the old run's lease may still be alive)...
      const successor = register(cluster, 5, sessionTimeoutMs);
      await waitFor(() => !observer.isAlive(5), sessionTimeoutMs + 2_000, 'broker 5 to be declared dead');
      const expiredAfterMs = Date.now() - killedAt;
      console.info(`lease expiry after kill -9 with brokerSessionTimeoutMs ${sessionTimeoutMs}: ${expiredAfterMs} ms`);
      // Keepalives go every TTL/3, etcd sweeps expired leases every 500 ms: between 2/3 TTL and TTL + 0.5 s.
      expect(expiredAfterMs).toBeGreaterThanOrEqual((sessionTimeoutMs * 2) / 3 - 100);
      expect(expiredAfterMs).toBeLessThan(sessionTimeoutMs + 1_000);
      // ...and gets it once the old lease is gone.
      const registry = await successor;
      expect(registry.registered).toBe(true);
      await waitFor(() => observer.isAlive(5), 5_000, 'the new broker 5 to be seen');
    } finally {
      await member.kill();
    }
  });
});
