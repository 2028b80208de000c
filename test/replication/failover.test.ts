/**
 * Failover and its edges over real HTTP between in-process brokers (test/helpers/replica-set.ts): a deposed
 * leader's unreplicated tail is truncated when it follows the new leader (KIP-101/279) and it converges byte
 * for byte; stale epochs are fenced on the internal routes; retention on the leader moves the followers'
 * log start, and a follower left below it starts over there; idempotence state follows the replicated log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFetchFrames } from '../../src/common/fetch-frames.js';
import {
  decodeEpochEndOffsets,
  encodeEpochEndOffsetsRequest,
  encodeReplicaFetchRequest,
  EPOCH_END_OFFSETS_PATH,
  REPLICA_FETCH_PATH,
  REPLICA_REQUEST_MEDIA_TYPE,
} from '../../src/replication/replica-protocol.js';
import { OffsetsStore } from '../../src/groups/offsets-store.js';
import { silentLogEvents } from '../../src/log/log-config.js';
import { batchOf } from '../helpers/log-builder.js';
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

async function internal(url: string, path: string, body: Buffer) {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': REPLICA_REQUEST_MEDIA_TYPE }, body });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

async function start(overrides = {}) {
  set = await ReplicaSet.start([tempDir(), tempDir(), tempDir()], overrides);
  return set;
}

describe('failover', () => {
  it('a deposed leader\'s unacknowledged tail is truncated when it follows the new leader, and it converges byte for byte', async () => {
    const s = await start();
    await s.createTopic('div');
    expect((await produce(s.url(0), 'div', ['a', 'b', 'c'])).status).toBe(200);
    await waitFor(() => [1, 2].every((id) => s.partition(id, 'div').highWatermark === 3));
    // Broker 1 is elected at epoch 2; broker 0 does not hear of it (cut off) and still thinks it leads.
    s.elect('div', 0, 1, [1, 2], [1, 2]);
    const zombie = s.partition(0, 'div');
    expect(zombie.isLeader).toBe(true);
    // Its acks=all produce cannot complete: no follower fetches from it any more. The record stays in its log
    // alone, never acknowledged, and never visible to consumers (the HW does not pass it).
    const lost = await produce(s.url(0), 'div', ['zombie-1', 'zombie-2'], 'all', 300);
    expect(lost.status).toBe(504);
    expect(zombie.logEndOffset).toBe(5);
    expect(zombie.highWatermark).toBe(3);
    // Its ISR proposals are refused: the record names another leader.
    // The new leader takes writes at epoch 2.
    expect((await produce(s.url(1), 'div', ['d', 'e', 'f'])).status).toBe(200);
    const leader = s.partition(1, 'div');
    expect(leader.highWatermark).toBe(6);
    // Broker 0 learns the truth: it follows broker 1, truncates its tail to where epoch 1 ended (3), fetches.
    s.applyRoles('div', 0, 0);
    await waitFor(() => zombie.logEndOffset === 6 && zombie.highWatermark === 6, 5_000, 'the old leader converged');
    expect((await logBytes(zombie)).equals(await logBytes(leader))).toBe(true);
    expect(await batchList(zombie)).toEqual([
      [0, 2, 1],
      [3, 5, 2],
    ]);
    expect(zombie.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 3 });
    // Caught up, it is proposed back into the ISR by the new leader.
    await waitFor(() => leader.isr.length === 3, 5_000, 'ISR expand');
    expect(s.records.get('div-0')!.isr).toEqual([0, 1, 2]);
  });

  it('the internal routes fence stale and unknown epochs, non-replicas and non-leaders, and refuse malformed bodies', async () => {
    const s = await start();
    await s.createTopic('fence');
    expect((await produce(s.url(0), 'fence', ['a', 'b'])).status).toBe(200);
    const fetchAt = (replicaId: number, currentLeaderEpoch: number) =>
      encodeReplicaFetchRequest({
        replicaId,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        partitions: [{ topic: 'fence', partition: 0, currentLeaderEpoch, fetchOffset: 0, highWatermark: 0, maxBytes: 1 << 20 }],
      });
    const codeOf = async (url: string, body: Buffer) => {
      const { status, body: reply } = await internal(url, REPLICA_FETCH_PATH, body);
      expect(status).toBe(200);
      const [frame] = decodeFetchFrames(reply);
      return frame!.kind === 'error' ? frame!.error.code : `records:${frame!.batches.length > 0}`;
    };
    expect(await codeOf(s.url(0), fetchAt(1, 1))).toBe('records:true');
    expect(await codeOf(s.url(0), fetchAt(1, 0))).toBe('FENCED_LEADER_EPOCH');
    expect(await codeOf(s.url(0), fetchAt(1, 2))).toBe('UNKNOWN_LEADER_EPOCH');
    expect(await codeOf(s.url(0), fetchAt(7, 1))).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(await codeOf(s.url(1), fetchAt(2, 1))).toBe('NOT_LEADER_OR_FOLLOWER');
    const beyond = encodeReplicaFetchRequest({
      replicaId: 1, maxWaitMs: 0, minBytes: 1, maxBytes: 100,
      partitions: [{ topic: 'fence', partition: 0, currentLeaderEpoch: 1, fetchOffset: 99, highWatermark: 0, maxBytes: 100 }],
    });
    const [outOfRange] = decodeFetchFrames((await internal(s.url(0), REPLICA_FETCH_PATH, beyond)).body);
    expect(outOfRange).toMatchObject({ kind: 'error', error: { code: 'OFFSET_OUT_OF_RANGE', logStartOffset: 0, logEndOffset: 2 } });
    const epochs = (replicaId: number, currentLeaderEpoch: number, leaderEpoch: number) =>
      internal(s.url(0), EPOCH_END_OFFSETS_PATH, encodeEpochEndOffsetsRequest({ replicaId, partitions: [{ topic: 'fence', partition: 0, currentLeaderEpoch, leaderEpoch }] }));
    expect(decodeEpochEndOffsets((await epochs(1, 1, 1)).body)).toEqual([{ kind: 'offset', topic: 'fence', partition: 0, leaderEpoch: 1, endOffset: 2 }]);
    expect(decodeEpochEndOffsets((await epochs(1, 1, 0)).body)).toEqual([{ kind: 'offset', topic: 'fence', partition: 0, leaderEpoch: -1, endOffset: -1 }]);
    expect(decodeEpochEndOffsets((await epochs(1, 0, 1)).body)[0]).toMatchObject({ kind: 'error', error: { code: 'FENCED_LEADER_EPOCH' } });
    const bad = await internal(s.url(0), REPLICA_FETCH_PATH, Buffer.from([0, 0, 0]));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).error.code).toBe('INVALID_REQUEST');
    const unknown = await fetch(`${s.url(0)}/topics/fence/partitions/0/records?offset=0`);
    expect(unknown.status).toBe(200);
  });

  it('retention on the leader moves the followers\' log start; a follower left below it starts over at the leader\'s log start', async () => {
    const s = await start({ replicaLagTimeMaxMs: 500 });
    await s.createTopic('ret', { config: { segmentBytes: 1_024 } });
    for (let i = 0; i < 30; i++) expect((await produce(s.url(0), 'ret', [`value-${i}-${'x'.repeat(60)}`])).status).toBe(200);
    const leader = s.partition(0, 'ret');
    await waitFor(() => [1, 2].every((id) => s.partition(id, 'ret').logEndOffset === 30));
    const lagging = s.partition(2, 'ret');
    s.broker(2).services.replicaFetchers.unfollow(lagging);
    for (let i = 30; i < 60; i++) expect((await produce(s.url(0), 'ret', [`value-${i}-${'x'.repeat(60)}`], '1')).status).toBe(200);
    await waitFor(() => s.partition(1, 'ret').logEndOffset === 60);
    await waitFor(() => leader.highWatermark === 60, 5_000, 'HW after broker 2 left the ISR');
    await leader.deleteSegmentsBefore(45);
    expect(leader.logStartOffset).toBeGreaterThan(30);
    const follower = s.partition(1, 'ret');
    await waitFor(() => follower.logStartOffset > 0, 5_000, 'the follower\'s log start moved');
    expect(follower.logStartOffset).toBeLessThanOrEqual(leader.logStartOffset);
    // Broker 2 ends at 30, below the leader's log start now: it starts over there and converges.
    s.broker(2).services.replicaFetchers.follow(lagging, { leaderId: 0, leaderUrl: s.url(0) });
    await waitFor(() => lagging.logEndOffset === 60, 5_000, 'the lagging follower converged');
    expect(lagging.logStartOffset).toBe(leader.logStartOffset);
    expect((await logBytes(lagging)).equals(await logBytes(leader))).toBe(true);
  }, 20_000);

  it('producer idempotence state is rebuilt from the replicated batches: a retry to the new leader is a duplicate', async () => {
    const s = await start();
    await s.createTopic('idem');
    const leader = s.partition(0, 'idem');
    const batch = batchOf(['p1', 'p2'], { producerId: 42, producerEpoch: 0, baseSequence: 0 });
    const first = await leader.appendAsLeader(batch, { trusted: true });
    const follower = s.partition(1, 'idem');
    await waitFor(() => follower.logEndOffset === 2);
    // The follower's cached batches learn their request sequence lazily (none here: not a JSON producer).
    const withoutRequestSequences = (e: ReturnType<typeof leader.producerEntry>) => ({ ...e, batches: e?.batches.map(({ requestSequence: _r, ...b }) => b) });
    expect(withoutRequestSequences(follower.producerEntry(42))).toEqual(withoutRequestSequences(leader.producerEntry(42)));
    s.elect('idem', 0, 1);
    expect(follower.isLeader).toBe(true);
    const retry = await follower.appendAsLeader(batch, { trusted: true });
    expect(retry.duplicate).toBe(true);
    expect(retry.batches[0]!.baseOffset).toBe(first.batches[0]!.baseOffset);
    expect(follower.logEndOffset).toBe(2);
    const next = await follower.appendAsLeader(batchOf(['p3'], { producerId: 42, producerEpoch: 0, baseSequence: 2 }), { trusted: true });
    expect(next.batches[0]!.baseOffset).toBe(2);
    // The old leader follows and converges with the new batch stamped at epoch 2.
    await waitFor(() => leader.logEndOffset === 3);
    expect(await batchList(leader)).toEqual([
      [0, 1, 1],
      [2, 2, 2],
    ]);
  });

  it('consumer-group commits are acknowledged by the ISR and a new leader of the offsets partition reloads them', async () => {
    const s = await start();
    await s.createTopic('offsets-like');
    const storeOn = (id: number) => new OffsetsStore(1, () => s.partition(id, 'offsets-like'), { now: () => Date.now() }, silentLogEvents, 8, 2_000);
    const first = storeOn(0);
    await first.load();
    const commit = (offset: number) => [{ key: { type: 'offset' as const, group: 'billing', topic: 'orders', partition: 3 }, value: { offset, metadata: '', commitTimestamp: 1 } }];
    await first.write(0, commit(17));
    // The write returned only once every ISR member had it.
    expect(s.partition(0, 'offsets-like').highWatermark).toBe(1);
    expect([1, 2].map((id) => s.partition(id, 'offsets-like').logEndOffset)).toEqual([1, 1]);
    // The coordinator is lost: broker 1 leads the offsets partition and reloads it.
    await s.stopMember(0);
    s.elect('offsets-like', 0, 1, [1, 2]);
    const second = storeOn(1);
    await second.loadAsLeader(0);
    expect(second.offsets(0, 'billing').get('orders\u00003')).toMatchObject({ offset: 17 });
    await second.write(0, commit(18));
    // A broker that does not lead refuses the write.
    await expect(storeOn(2).write(0, commit(19))).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
  });

  it('a follower restarted from its files waits for its role, keeps its checkpointed high watermark, catches up and rejoins the ISR', async () => {
    const s = await start({ replicaLagTimeMaxMs: 400 });
    await s.createTopic('restart');
    expect((await produce(s.url(0), 'restart', ['a', 'b'])).status).toBe(200);
    await waitFor(() => s.partition(2, 'restart').highWatermark === 2);
    await s.stopMember(2);
    const leader = s.partition(0, 'restart');
    await waitFor(() => leader.isr.length === 2, 5_000, 'ISR shrink');
    for (let i = 0; i < 5; i++) expect((await produce(s.url(0), 'restart', [`c${i}`])).status).toBe(200);
    await s.startMember(2);
    const back = s.partition(2, 'restart');
    // No role yet: it neither leads nor serves above what it knew committed.
    expect(back.leader).toBeNull();
    expect(back.highWatermark).toBe(2);
    expect((await produce(s.url(2), 'restart', ['nope'])).status).toBe(503);
    s.applyRoles('restart', 0, 2);
    await waitFor(() => back.logEndOffset === 7 && back.highWatermark === 7, 5_000, 'caught up');
    await waitFor(() => leader.isr.length === 3, 5_000, 'ISR expand');
    expect((await logBytes(back)).equals(await logBytes(leader))).toBe(true);
  });
});
