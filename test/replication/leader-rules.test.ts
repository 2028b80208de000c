/**
 * The leader's side of replication on a manual clock, without a network: follower positions as
 * acknowledgements, the high watermark as the minimum over the (maximal) ISR, held by a new leader until its
 * followers fetched, ISR shrink after replicaLagTimeMaxMs and expand once caught up (through alterIsr),
 * stale roles ignored, acks=all ended by a leadership change; and the pure rules under fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { silentLogEvents } from '../../src/log/log-config.js';
import { Partition } from '../../src/replication/partition.js';
import type { AcceptedIsr, IsrProposal } from '../../src/replication/isr-changes.js';
import { afterFetch, highWatermarkCandidate, initialFollowerState, laggingFollowers, maximalIsr } from '../../src/replication/isr-rules.js';
import { truncationTarget } from '../../src/replication/truncation.js';
import { batchOf } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const tp = { topic: 'orders', partition: 0 };

/** A leader (broker 0) of replicas 0, 1, 2 whose ISR proposals are answered by the test. */
async function leaderOf(options: { lagMs?: number; answer?: (p: IsrProposal) => AcceptedIsr | null } = {}) {
  const clock = new ManualClock();
  const manager = await LogManager.open({ dataDir: tempDir(), clock });
  const log = await manager.create(tp, {});
  const proposals: IsrProposal[] = [];
  const partition = new Partition(tp, log, {
    clock,
    events: silentLogEvents,
    brokerId: 0,
    awaitsRole: true,
    replicaLagTimeMaxMs: options.lagMs ?? 1_000,
    alterIsr: async (_tp, proposal) => {
      proposals.push(proposal);
      return options.answer ? options.answer(proposal) : { leaderEpoch: proposal.leaderEpoch, isr: proposal.isr, replicas: [0, 1, 2], version: (proposal.version ?? 0) + 1 };
    },
  });
  return { clock, manager, log, partition, proposals };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('leader rules (Partition)', () => {
  it('waits for a role in cluster mode; as leader, the HW is the minimum of the ISR members\' fetch offsets', async () => {
    const { manager, partition } = await leaderOf();
    expect(partition.leader).toBeNull();
    await expect(partition.appendAsLeader(batchOf(['x']))).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    expect(partition.makeLeader({ leader: 0, leaderEpoch: 1, isr: [0, 1, 2], replicas: [0, 1, 2], version: 1 })).toBe(true);
    await partition.appendAsLeader(batchOf(['a', 'b', 'c', 'd']));
    expect(partition.highWatermark).toBe(0); // followers' positions unknown
    partition.recordFollowerFetch(1, 1, 4);
    expect(partition.highWatermark).toBe(0);
    partition.recordFollowerFetch(2, 1, 2);
    expect(partition.highWatermark).toBe(2);
    partition.recordFollowerFetch(2, 1, 4);
    expect(partition.highWatermark).toBe(4);
    expect(() => partition.recordFollowerFetch(1, 1, 5)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(() => partition.recordFollowerFetch(1, 0, 4)).toThrow(expect.objectContaining({ code: 'FENCED_LEADER_EPOCH' }));
    expect(() => partition.recordFollowerFetch(1, 2, 4)).toThrow(expect.objectContaining({ code: 'UNKNOWN_LEADER_EPOCH' }));
    expect(() => partition.recordFollowerFetch(5, 1, 4)).toThrow(expect.objectContaining({ code: 'NOT_LEADER_OR_FOLLOWER' }));
    // A fetch at an older offset (a follower that truncated) does not move the HW back.
    partition.recordFollowerFetch(1, 1, 1);
    expect(partition.highWatermark).toBe(4);
    await manager.close();
  });

  it('a new leader records its epoch at its log end and holds the HW until every ISR member fetched under the epoch', async () => {
    const { manager, log, partition } = await leaderOf();
    partition.makeLeader({ leader: 0, leaderEpoch: 1, isr: [0, 1, 2], replicas: [0, 1, 2] });
    await partition.appendAsLeader(batchOf(['a', 'b']));
    partition.recordFollowerFetch(1, 1, 2);
    partition.recordFollowerFetch(2, 1, 1);
    expect(partition.highWatermark).toBe(1);
    // Re-elected at epoch 2 (e.g. after a controller change): positions are unknown again.
    partition.makeLeader({ leader: 0, leaderEpoch: 2, isr: [0, 1, 2], replicas: [0, 1, 2] });
    await partition.appendAsLeader(batchOf(['c']));
    expect(log.epochs.all()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 2 },
    ]);
    partition.recordFollowerFetch(1, 2, 3);
    expect(partition.highWatermark).toBe(1);
    partition.recordFollowerFetch(2, 2, 3);
    expect(partition.highWatermark).toBe(3);
    expect(partition.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 2 });
    await manager.close();
  });

  it('shrinks the ISR after replicaLagTimeMaxMs without a caught-up fetch, expands it once the follower caught up', async () => {
    const { clock, manager, partition, proposals } = await leaderOf({ lagMs: 1_000 });
    partition.makeLeader({ leader: 0, leaderEpoch: 1, isr: [0, 1, 2], replicas: [0, 1, 2], version: 7 });
    await partition.appendAsLeader(batchOf(['a', 'b']));
    partition.recordFollowerFetch(1, 1, 2);
    partition.recordFollowerFetch(2, 1, 0);
    expect(partition.highWatermark).toBe(0);
    clock.advance(600);
    partition.recordFollowerFetch(1, 1, 2); // 1 stays caught up; 2 does not fetch
    clock.advance(300);
    await flush();
    expect(proposals).toEqual([]); // checked at 500 ms: not more than 1,000 ms behind yet
    clock.advance(700); // checked at 1,000 ms (exactly 1,000 behind: kept) and 1,500 ms
    await flush();
    expect(proposals).toEqual([{ leaderEpoch: 1, isr: [0, 1], version: 7, reason: 'shrink' }]);
    expect(partition.isr).toEqual([0, 1]);
    expect(partition.highWatermark).toBe(2);
    expect(partition.isUnderReplicated).toBe(true);
    expect(partition.followerLags().find((l) => l.brokerId === 2)).toEqual({ brokerId: 2, records: 2, ms: 1_600 });
    // Broker 2 fetches at the log end: caught up, proposed back in, based on the version the shrink returned.
    partition.recordFollowerFetch(2, 1, 2);
    await flush();
    expect(proposals[1]).toEqual({ leaderEpoch: 1, isr: [0, 1, 2], version: 8, reason: 'expand' });
    expect(partition.isr).toEqual([0, 1, 2]);
    await manager.close();
  });

  it('a refused proposal keeps the ISR; the HW counts the members of the maximal ISR while a change is in flight', async () => {
    let release: (a: AcceptedIsr | null) => void = () => undefined;
    const clock = new ManualClock();
    const manager = await LogManager.open({ dataDir: tempDir(), clock });
    const log = await manager.create(tp, {});
    const partition = new Partition(tp, log, {
      clock,
      events: silentLogEvents,
      brokerId: 0,
      awaitsRole: true,
      replicaLagTimeMaxMs: 1_000,
      alterIsr: () => new Promise((resolve) => (release = resolve)),
    });
    partition.makeLeader({ leader: 0, leaderEpoch: 1, isr: [0, 1], replicas: [0, 1, 2] });
    await partition.appendAsLeader(batchOf(['a', 'b', 'c']));
    partition.recordFollowerFetch(1, 1, 3);
    expect(partition.highWatermark).toBe(3);
    partition.recordFollowerFetch(2, 1, 1); // not in the ISR, behind the HW: not proposed
    expect(partition.isr).toEqual([0, 1]);
    partition.recordFollowerFetch(2, 1, 3); // caught up: proposed; in flight, it counts for the HW already
    await partition.appendAsLeader(batchOf(['d']));
    partition.recordFollowerFetch(1, 1, 4);
    expect(partition.highWatermark).toBe(3);
    release(null); // refused
    await flush();
    expect(partition.isr).toEqual([0, 1]);
    expect(partition.highWatermark).toBe(4);
    await manager.close();
  });

  it('stale roles are ignored; losing leadership ends acks=all waits with NOT_LEADER_OR_FOLLOWER and stops the ISR checks', async () => {
    const { clock, manager, partition, proposals } = await leaderOf();
    partition.makeLeader({ leader: 0, leaderEpoch: 3, isr: [0, 1, 2], replicas: [0, 1, 2], version: 5 });
    expect(partition.makeFollower({ leader: 1, leaderEpoch: 2, isr: [1], replicas: [0, 1, 2] })).toBe(false);
    expect(partition.makeLeader({ leader: 0, leaderEpoch: 3, isr: [0], replicas: [0, 1, 2], version: 4 })).toBe(false);
    expect(partition.isLeader).toBe(true);
    await partition.appendAsLeader(batchOf(['a']));
    const waiting = partition.awaitHighWatermark(1, 10_000);
    expect(partition.makeFollower({ leader: 1, leaderEpoch: 4, isr: [1, 2], replicas: [0, 1, 2] })).toBe(true);
    await expect(waiting).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    expect(() => partition.recordFollowerFetch(1, 4, 0)).toThrow(expect.objectContaining({ code: 'NOT_LEADER_OR_FOLLOWER' }));
    clock.advance(10_000);
    await flush();
    expect(proposals).toEqual([]);
    // As follower it takes the leader's HW, capped at its own log end.
    partition.updateFollowerHighWatermark(100);
    expect(partition.highWatermark).toBe(1);
    await manager.close();
  });
});

describe('acks=all across a leadership change', () => {
  it('a wait for a batch of an older epoch never resolves on a high watermark the offset reached with another leader\'s record', async () => {
    const { manager, partition } = await leaderOf();
    partition.makeLeader({ leader: 0, leaderEpoch: 1, isr: [0, 1, 2], replicas: [0, 1, 2] });
    const { leaderEpoch } = await partition.appendAsLeader(batchOf(['mine']));
    expect(leaderEpoch).toBe(1);
    // Deposed before any follower fetched it: as follower it truncates and takes the new leader's record at 0.
    partition.makeFollower({ leader: 1, leaderEpoch: 2, isr: [1, 2], replicas: [0, 1, 2] });
    await partition.truncateTo(0);
    await partition.appendAsFollower(batchOf(['theirs']));
    partition.updateFollowerHighWatermark(1);
    expect(partition.highWatermark).toBe(1);
    // The produce of 'mine' asks only now (its append was slow): it must not be acknowledged.
    await expect(partition.awaitHighWatermark(1, 1_000, leaderEpoch)).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    await manager.close();
  });
});

describe('replication rules (pure)', () => {
  it('the HW candidate is never above any ISR member\'s position nor the leader\'s end, and unknown positions hold it', () => {
    fc.assert(
      fc.property(fc.nat(1_000), fc.array(fc.integer({ min: -1, max: 1_000 }), { minLength: 0, maxLength: 4 }), (leaderEnd, ends) => {
        const followers = new Map(ends.map((end, i) => [i + 1, { ...initialFollowerState(i + 1, true, 0), logEndOffset: end }]));
        const isr = [0, ...followers.keys()];
        const candidate = highWatermarkCandidate(isr, 0, leaderEnd, followers);
        if (ends.some((e) => e < 0)) return candidate === null;
        return candidate === Math.min(leaderEnd, ...ends);
      }),
    );
  });

  it('caught-up time only grows, and a follower fetching at the end is never lagging', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(100), fc.nat(100), fc.nat(50)), { minLength: 1, maxLength: 20 }), (steps) => {
        let state = initialFollowerState(1, true, 0);
        let now = 0;
        for (const [offset, leaderEnd, dt] of steps) {
          now += dt;
          const next = afterFetch(state, Math.min(offset, leaderEnd), leaderEnd, now);
          if (next.lastCaughtUpTimeMs < state.lastCaughtUpTimeMs) return false;
          if (offset >= leaderEnd && laggingFollowers([0, 1], 0, new Map([[1, next]]), now, 0).length !== 0) return false;
          state = next;
        }
        return true;
      }),
    );
  });

  it('the maximal ISR is the union of the ISR in force and the proposal', () => {
    expect(maximalIsr([0, 1], null)).toEqual([0, 1]);
    expect(maximalIsr([0, 1], [0, 1, 2]).sort()).toEqual([0, 1, 2]);
    expect(maximalIsr([0, 1, 2], [0, 2]).sort()).toEqual([0, 1, 2]);
  });

  it('truncation: to the leader\'s end of our epoch, in rounds when the leader answers an epoch we do not know', () => {
    const log = (entries: [number, number][], logEndOffset: number, highWatermark = 0) => ({
      logEndOffset,
      highWatermark,
      endOffsetForEpoch(epoch: number) {
        const i = entries.findLastIndex(([e]) => e <= epoch);
        if (i < 0) return { epoch: -1, endOffset: -1 };
        return { epoch: entries[i]![0], endOffset: entries[i + 1]?.[1] ?? logEndOffset };
      },
    });
    // Same epoch: cut where the leader's copy of it ends.
    expect(truncationTarget({ askedEpoch: 1, leaderEpoch: 1, leaderEndOffset: 3 }, log([[1, 0]], 5))).toEqual({ offset: 3, done: true });
    // The leader has more of it than we do: nothing to cut.
    expect(truncationTarget({ askedEpoch: 1, leaderEpoch: 1, leaderEndOffset: 9 }, log([[1, 0]], 5))).toEqual({ offset: 5, done: true });
    // We wrote epoch 3 the leader never saw; it answers epoch 2, which we know: cut at the smaller end of it.
    expect(truncationTarget({ askedEpoch: 3, leaderEpoch: 2, leaderEndOffset: 7 }, log([[1, 0], [2, 4], [3, 8]], 10))).toEqual({ offset: 7, done: true });
    // It answers epoch 2, which we do not know (we have 1 and 3): cut to the end of our epoch 1 and ask again.
    expect(truncationTarget({ askedEpoch: 3, leaderEpoch: 2, leaderEndOffset: 7 }, log([[1, 0], [3, 4]], 10))).toEqual({ offset: 4, done: false });
    // The leader knows no epoch that old: only the high watermark is shared.
    expect(truncationTarget({ askedEpoch: 1, leaderEpoch: -1, leaderEndOffset: -1 }, log([[1, 0]], 10, 6))).toEqual({ offset: 6, done: true });
  });
});
