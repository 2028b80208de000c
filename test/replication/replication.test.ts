/**
 * Replication over real HTTP between in-process brokers on loopback (test/helpers/replica-set.ts assigns the
 * roles a controller would): followers copy the leader byte for byte with offsets and epochs, the high
 * watermark is the minimum over the ISR, acks=all waits for the ISR, lagging followers leave the ISR and
 * come back, and NOT_ENOUGH_REPLICAS appends nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { batchList, logBytes, ReplicaSet } from '../helpers/replica-set.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
let set: ReplicaSet | null = null;
afterEach(async () => {
  await set?.close();
  set = null;
});

async function produce(url: string, topic: string, values: string[], acks: '0' | '1' | 'all' = 'all', timeoutMs = 5_000) {
  const response = await fetch(`${url}/topics/${topic}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records: values.map((value) => ({ value, partition: 0 })), acks, timeoutMs }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function start(overrides = {}) {
  set = await ReplicaSet.start([tempDir(), tempDir(), tempDir()], overrides);
  return set;
}

describe('replication', () => {
  it('followers copy the leader byte for byte, with offsets and leader epochs, and adopt its high watermark', async () => {
    const s = await start();
    await s.createTopic('orders', { config: { segmentBytes: 1_024 } });
    for (let i = 0; i < 40; i++) {
      const { status } = await produce(s.url(0), 'orders', [`a${i}`, `b${i}`, `c${i}`]);
      expect(status).toBe(200);
    }
    const leader = s.partition(0, 'orders');
    expect(leader.highWatermark).toBe(120);
    for (const id of [1, 2]) {
      const follower = s.partition(id, 'orders');
      await waitFor(() => follower.logEndOffset === 120 && follower.highWatermark === 120, 5_000, `follower ${id} caught up`);
      expect((await logBytes(follower)).equals(await logBytes(leader))).toBe(true);
      expect(follower.segmentCount).toBeGreaterThan(1);
    }
    expect((await batchList(s.partition(1, 'orders'))).every(([, , epoch]) => epoch === 1)).toBe(true);
    // acks=all needed every ISR member: the HW passed only after both had fetched past it.
    expect(leader.isr).toEqual([0, 1, 2]);
    // A follower refuses producers with NOT_LEADER_OR_FOLLOWER (503 while no URL of the leader is known here).
    const refused = await produce(s.url(1), 'orders', ['x']);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('NOT_LEADER_OR_FOLLOWER');
    const metrics = await (await fetch(`${s.url(0)}/metrics`)).text();
    expect(metrics).toMatch(/sluice_leader_partitions \d+/);
    expect(metrics).toMatch(/sluice_follower_lag_records\{topic="orders",partition="0",follower="1"\} 0/);
    expect(metrics).toMatch(/sluice_under_replicated_partitions 0/);
  });

  it('the high watermark is the minimum over the ISR; acks=all times out while a member lags; the ISR shrinks after replicaLagTimeMaxMs and grows back', async () => {
    const s = await start({ replicaLagTimeMaxMs: 600 });
    await s.createTopic('t');
    expect((await produce(s.url(0), 't', ['one', 'two'])).status).toBe(200);
    const follower2 = s.partition(2, 't');
    await waitFor(() => follower2.highWatermark === 2);
    // Broker 2's fetcher stops: what it has is 2 records.
    s.broker(2).services.replicaFetchers.unfollow(follower2);
    const leader = s.partition(0, 't');
    expect((await produce(s.url(0), 't', ['three', 'four'], '1')).status).toBe(200);
    expect(leader.logEndOffset).toBe(4);
    await waitFor(() => s.partition(1, 't').logEndOffset === 4);
    expect(leader.highWatermark).toBe(2); // min(4, 4, 2)
    const timedOut = await produce(s.url(0), 't', ['five'], 'all', 200);
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.error.code).toBe('REQUEST_TIMED_OUT');
    // Past replicaLagTimeMaxMs the leader proposes the ISR without broker 2; the record accepts it.
    await waitFor(() => leader.isr.length === 2, 5_000, 'ISR shrink');
    expect(leader.isr).toEqual([0, 1]);
    expect(s.proposals.find((p) => p.proposal.reason === 'shrink')).toMatchObject({ broker: 0, accepted: true, proposal: { isr: [0, 1], leaderEpoch: 1 } });
    expect(s.records.get('t-0')!.isr).toEqual([0, 1]);
    expect(leader.highWatermark).toBe(5);
    expect(leader.isUnderReplicated).toBe(true);
    expect((await produce(s.url(0), 't', ['six'])).status).toBe(200);
    const described = (await (await fetch(`${s.url(0)}/topics/t`)).json()) as any;
    expect(described.partitions[0]).toMatchObject({ leader: 0, leaderEpoch: 1, replicas: [0, 1, 2], isr: [0, 1], underReplicated: true, highWatermark: 6 });
    expect(described.partitions[0].followers).toEqual([
      { broker: 1, lagRecords: 0, lagMs: 0 },
      { broker: 2, lagRecords: 4, lagMs: expect.any(Number) },
    ]);
    const onFollower = (await (await fetch(`${s.url(1)}/topics/t`)).json()) as any;
    expect(onFollower.partitions[0]).toMatchObject({ leader: 0, leaderEpoch: 1, replicas: [0, 1, 2] });
    expect(onFollower.partitions[0].followers).toBeUndefined();
    expect(await (await fetch(`${s.url(0)}/metrics`)).text()).toMatch(/sluice_isr_changes_total\{topic="t",change="shrink"\} 1/);
    // It fetches again, catches up and is proposed back in.
    s.broker(2).services.replicaFetchers.follow(follower2, { leaderId: 0, leaderUrl: s.url(0) });
    await waitFor(() => leader.isr.length === 3, 5_000, 'ISR expand');
    expect(leader.isr).toEqual([0, 1, 2]);
    await waitFor(() => follower2.logEndOffset === 6 && follower2.highWatermark === 6);
    expect((await logBytes(follower2)).equals(await logBytes(leader))).toBe(true);
  });

  it('an ISR smaller than minInsyncReplicas refuses acks=all with NOT_ENOUGH_REPLICAS before appending; acks=1 goes on', async () => {
    const s = await start({ replicaLagTimeMaxMs: 300 });
    await s.createTopic('strict', { config: { minInsyncReplicas: 2 } });
    expect((await produce(s.url(0), 'strict', ['a'])).status).toBe(200);
    for (const id of [1, 2]) s.broker(id).services.replicaFetchers.unfollow(s.partition(id, 'strict'));
    const leader = s.partition(0, 'strict');
    await waitFor(() => leader.isr.length === 1, 5_000, 'ISR shrink to the leader');
    const end = leader.logEndOffset;
    const refused = await produce(s.url(0), 'strict', ['b']);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('NOT_ENOUGH_REPLICAS');
    expect(leader.logEndOffset).toBe(end);
    expect((await produce(s.url(0), 'strict', ['c'], '1')).status).toBe(200);
    expect(leader.logEndOffset).toBe(end + 1);
  });

  it('a stale leader\'s ISR proposal is refused by the record (compare-and-swap on the version)', async () => {
    const s = await start({ replicaLagTimeMaxMs: 300 });
    await s.createTopic('cas');
    const leader = s.partition(0, 'cas');
    // The record moves on behind the leader's back (another writer): the leader's version is stale.
    s.records.get('cas-0')!.version += 5;
    s.broker(2).services.replicaFetchers.unfollow(s.partition(2, 'cas'));
    await waitFor(() => s.proposals.some((p) => p.proposal.reason === 'shrink'), 5_000, 'a shrink proposal');
    expect(s.proposals[0]).toMatchObject({ accepted: false });
    expect(leader.isr).toEqual([0, 1, 2]);
  });
});
