/**
 * Cluster mode end to end: one real etcd, three real broker processes (sluice serve --etcd), HTTP on
 * loopback. Placement, routing (307 + Location, forwarding), failover after kill -9.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerCluster, describeTopic, SESSION_TIMEOUT_MS } from '../helpers/broker-cluster.js';
import { postJson } from '../helpers/broker-process.js';
import { useEtcd } from '../helpers/etcd.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const etcd = useEtcd();
const tempDir = useTempDirs();
let cluster: BrokerCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll('SIGKILL');
  cluster = null;
});

async function startCluster(): Promise<BrokerCluster> {
  cluster = new BrokerCluster(() => etcd().url, tempDir());
  await cluster.start(3);
  return cluster;
}

describe('cluster mode with three broker processes', () => {
  it('forms a cluster, places 6 partitions with rf 3 as 2/2/2 leaders, routes with 307 and forwards JSON produce', async () => {
    const c = await startCluster();
    const [b1, b2, b3] = [c.broker(1), c.broker(2), c.broker(3)];
    const view = await c.cluster(b2);
    expect(view.brokers.map((b) => [b.id, b.alive])).toEqual([[1, true], [2, true], [3, true]]);
    expect([1, 2, 3]).toContain(view.controller);
    expect((await c.cluster(b1)).controller).toBe(view.controller);

    expect((await postJson(`${b1.url}/topics`, { name: 'big', partitions: 1, replicationFactor: 4 })).json.error.code).toBe('INVALID_REPLICATION_FACTOR');
    const created = await postJson(`${b2.url}/topics`, { name: 'orders', partitions: 6, replicationFactor: 3, config: { retentionMs: 3_600_000 } });
    expect(created.status).toBe(201);
    for (const b of [b1, b2, b3]) await waitFor(async () => (await fetch(`${b.url}/topics/orders`)).ok, 5_000, 'every broker to know the topic');
    const described = await describeTopic(b3.url, 'orders');
    const leaders = new Map<number, number>();
    for (const p of described.partitions) {
      expect(new Set(p.replicas).size).toBe(3);
      expect(p.isr.sort()).toEqual([1, 2, 3]);
      expect(p.leaderEpoch).toBe(1);
      leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
    }
    expect([...leaders.values()]).toEqual([2, 2, 2]);
    const urlOf = (id: number) => c.broker(id).url;

    // Partition-scoped routes on a broker that does not lead: 307 to the same path and query on the leader.
    const p0 = described.partitions[0]!;
    const other = [1, 2, 3].find((id) => id !== p0.leader)!;
    for (const path of ['/topics/orders/partitions/0/records?offset=0&maxWaitMs=0', '/topics/orders/partitions/0/offsets?timestamp=earliest']) {
      const response = await fetch(`${urlOf(other)}${path}`, { redirect: 'manual' });
      expect(response.status).toBe(307);
      expect(response.headers.get('location')).toBe(`${urlOf(p0.leader)}${path}`);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_LEADER_OR_FOLLOWER');
      expect((await fetch(`${urlOf(p0.leader)}${path}`)).status).toBe(200);
    }
    const binary = await fetch(`${urlOf(other)}/topics/orders/partitions/0/batches?acks=1`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/vnd.sluice.record-batch' }, body: Buffer.alloc(70) });
    expect(binary.status).toBe(307);
    expect(binary.headers.get('location')).toBe(`${urlOf(p0.leader)}/topics/orders/partitions/0/batches?acks=1`);

    // Multi-partition fetch: partitions led elsewhere get an error entry naming the leader.
    // (A leader named in the record serves once it applied its role: the record reaches brokers by watch.)
    const multiFetch = () => postJson(`${urlOf(other)}/fetch`, { partitions: described.partitions.map((p) => ({ topic: 'orders', partition: p.partition, offset: 0 })) });
    await waitFor(async () => (await multiFetch()).json.partitions.every((e: { partition: number; records?: unknown }) => described.partitions[e.partition]!.leader !== other || e.records !== undefined), 5_000, 'leaders applied their roles');
    const multi = await multiFetch();
    expect(multi.status).toBe(200);
    for (const entry of multi.json.partitions) {
      const leader = described.partitions[entry.partition]!.leader;
      if (leader === other) expect(entry.records).toEqual([]);
      else expect(entry.error).toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER', leader, leaderAdvertisedUrl: urlOf(leader) });
    }

    // Topic-level JSON produce on any broker: forwarded per partition, offsets combined.
    const records = Array.from({ length: 6 }, (_, p) => ({ partition: p, value: `v${p}` }));
    // Every leader serves first (a multi-partition produce refused by one partition may have been appended on
    // others: retrying it would write those twice, so wait rather than retry).
    await waitFor(
      async () => (await Promise.all(described.partitions.map(async (p) => (await fetch(`${urlOf(p.leader)}/topics/orders/partitions/${p.partition}/records?offset=0`)).status))).every((s) => s === 200),
      10_000,
      'every leader to serve',
    );
    const produced = await postJson(`${b1.url}/topics/orders/records`, { records: [...records, { partition: 3, value: 'again' }] });
    expect(produced.status).toBe(200);
    expect(produced.json.offsets.map((o: { partition: number; offset: number }) => [o.partition, o.offset])).toEqual([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [3, 1]]);
    for (const p of described.partitions) {
      const fetched = await (await fetch(`${urlOf(p.leader)}/topics/orders/partitions/${p.partition}/records?offset=0`)).json() as { records: { value: string }[] };
      expect(fetched.records.map((r) => r.value)).toEqual(p.partition === 3 ? ['v3', 'again'] : [`v${p.partition}`]);
    }

    // Group routes: served by the coordinator (leader of the group's __consumer_offsets partition) only.
    const answers = await Promise.all([b1, b2, b3].map((b) => fetch(`${b.url}/groups/billing`, { redirect: 'manual' })));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 307)).toHaveLength(2);
    const redirected = answers.find((r) => r.status === 307)!;
    expect(((await redirected.json()) as { error: { code: string } }).error.code).toBe('NOT_COORDINATOR');
    expect(redirected.headers.get('location')).toMatch(/\/groups\/billing$/);
  });

  it('elects a new controller after kill -9 of the controller, and new leaders (epoch + 1, from the ISR) after kill -9 of a leader', async () => {
    const c = await startCluster();
    expect((await postJson(`${c.broker(1).url}/topics`, { name: 'events', partitions: 6, replicationFactor: 3 })).status).toBe(201);
    const controller = (await c.cluster(c.broker(1))).controller!;
    const survivor = c.broker(controller === 1 ? 2 : 1);
    const before = await describeTopic(survivor.url, 'events');
    const killedAt = Date.now();
    await c.broker(controller).stop('SIGKILL');
    await waitFor(async () => {
      const now = await c.cluster(survivor);
      return now.controller !== null && now.controller !== controller;
    }, SESSION_TIMEOUT_MS + 8_000, "a new controller").catch(async (e) => { console.log(JSON.stringify(await c.cluster(survivor)), survivor.output.slice(-3000)); throw e; });
    const controllerMs = Date.now() - killedAt;
    await waitFor(async () => (await describeTopic(survivor.url, 'events')).partitions.every((p) => p.leader !== controller), SESSION_TIMEOUT_MS + 2_000, 'new leaders');
    const leadersMs = Date.now() - killedAt;
    expect(controllerMs).toBeLessThan(SESSION_TIMEOUT_MS + 1_000);
    expect(leadersMs).toBeLessThan(SESSION_TIMEOUT_MS + 1_000);
    const after = await describeTopic(survivor.url, 'events');
    for (const p of after.partitions) {
      const old = before.partitions[p.partition]!;
      if (old.leader === controller) {
        expect(p.leaderEpoch).toBe(old.leaderEpoch + 1);
        expect(old.isr).toContain(p.leader);
        expect(p.isr).not.toContain(controller);
      } else {
        expect(p.leaderEpoch).toBe(old.leaderEpoch);
      }
    }
    const view = await c.cluster(survivor);
    expect(view.brokers.find((b) => b.id === controller)).toMatchObject({ alive: false });
    // The new leaders take produce, through any broker.
    const produced = await postJson(`${survivor.url}/topics/events/records`, { records: after.partitions.map((p) => ({ partition: p.partition, value: 'x' })) });
    expect(produced.status).toBe(200);
  });
});
