import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/error-code.js';
import { ConsumerGroup, type MemberView } from '../../src/groups/consumer-group.js';
import { ManualClock } from '../helpers/manual-clock.js';

function ids() {
  let n = 0;
  return () => `m${++n}`;
}

const counts = new Map([['orders', 12]]);
const partitions = (v: MemberView) => v.assignments.map((p) => p.partition);

/** Owner of every partition, from the members' views: throws if two members own one. */
function owners(group: ConsumerGroup, members: string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const id of members) {
    for (const p of group.view(id).assignments) {
      if (out.has(p.partition)) throw new Error(`partition ${p.partition} owned by ${out.get(p.partition)} and ${id}`);
      out.set(p.partition, id);
    }
  }
  return out;
}

/** Every member releases what it was asked to. */
function releaseAll(group: ConsumerGroup, members: string[], now: number): void {
  for (const id of members) group.heartbeat(id, now, group.view(id).revoke);
}

describe('consumer group membership: revoke before assign', () => {
  it('a partition moves only once its owner released it; a leave and an expiry free partitions at once', () => {
    const clock = new ManualClock();
    const group = new ConsumerGroup('billing', ids());
    const a = group.join({ topics: ['orders'], sessionTimeoutMs: 10_000 }, clock.now(), counts);
    expect(partitions(a)).toHaveLength(12);
    const b = group.join({ topics: ['orders'], sessionTimeoutMs: 10_000 }, clock.now(), counts);
    expect(group.generation).toBe(2);
    expect(group.state).toBe('Reconciling');
    // b is promised six partitions, but a still owns all twelve and must release six first.
    expect(b).toMatchObject({ assignments: [], revoke: [] });
    expect(b.pending).toHaveLength(6);
    const aView = group.view(a.memberId);
    expect(aView.assignments).toHaveLength(12);
    expect(aView.revoke).toHaveLength(6);
    expect(owners(group, [a.memberId, b.memberId]).size).toBe(12);
    // a commits what it is releasing, not what b will get before it has it
    expect(codeOf(() => group.checkOwnership(a.memberId, aView.revoke))).toBeUndefined();
    expect(codeOf(() => group.checkOwnership(b.memberId, b.pending))).toBe('INVALID_REQUEST');

    const afterRelease = group.heartbeat(a.memberId, clock.now(), aView.revoke);
    expect(afterRelease).toMatchObject({ generation: 2, revoke: [] });
    expect(afterRelease.assignments).toHaveLength(6);
    expect(group.view(b.memberId)).toMatchObject({ assignments: aView.revoke, pending: [] });
    expect(group.state).toBe('Stable');

    const c = group.join({ topics: ['orders'], sessionTimeoutMs: 10_000 }, clock.now(), counts);
    releaseAll(group, [a.memberId, b.memberId], clock.now());
    expect([a, b, c].map((m) => group.view(m.memberId).assignments.length)).toEqual([4, 4, 4]);
    expect(owners(group, [a.memberId, b.memberId, c.memberId]).size).toBe(12);

    group.leave(c.memberId, clock.now(), counts);
    expect(group.generation).toBe(4);
    expect(group.view(a.memberId).assignments).toHaveLength(6); // nothing to wait for: c is gone
    expect(group.state).toBe('Stable');

    clock.advance(6_000);
    group.heartbeat(a.memberId, clock.now());
    clock.advance(4_000);
    expect(group.expire(clock.now(), counts)).toEqual([{ memberId: b.memberId, clientId: null, reason: 'session expired' }]);
    expect(group.view(a.memberId)).toMatchObject({ generation: 5, revoke: [], pending: [] });
    expect(group.view(a.memberId).assignments).toHaveLength(12);
    expect(codeOf(() => group.heartbeat(b.memberId, clock.now()))).toBe('UNKNOWN_MEMBER_ID');
    expect(group.nextDeadline()).toBe(clock.now() - 4_000 + 10_000);
  });

  it('removes a member that does not release within its session timeout, and ignores releases it was not asked for', () => {
    const clock = new ManualClock();
    const group = new ConsumerGroup('g', ids());
    const a = group.join({ topics: ['orders'], sessionTimeoutMs: 5_000 }, clock.now(), counts);
    group.heartbeat(a.memberId, clock.now(), [{ topic: 'orders', partition: 3 }]); // not asked: ignored
    expect(group.view(a.memberId).assignments).toHaveLength(12);
    const b = group.join({ topics: ['orders'], sessionTimeoutMs: 5_000 }, clock.now(), counts);
    expect(group.nextDeadline()).toBe(clock.now() + 5_000);
    for (let i = 0; i < 4; i++) {
      clock.advance(1_000);
      group.heartbeat(a.memberId, clock.now()); // alive, but holding on to what it should release
      group.heartbeat(b.memberId, clock.now());
      expect(group.expire(clock.now(), counts)).toEqual([]);
    }
    clock.advance(1_000);
    group.heartbeat(b.memberId, clock.now());
    expect(group.expire(clock.now(), counts)).toEqual([{ memberId: a.memberId, clientId: null, reason: 'did not release in time' }]);
    expect(group.view(b.memberId).assignments).toHaveLength(12);
  });

  it('a group without members waits the initial delay before it assigns; later joins are not delayed', () => {
    const clock = new ManualClock();
    const group = new ConsumerGroup('g', ids());
    const a = group.join({ topics: ['orders'] }, clock.now(), counts, 3_000);
    expect(group.state).toBe('Assigning');
    expect(a).toMatchObject({ assignments: [] });
    expect(a.pending).toHaveLength(12);
    clock.advance(1_000);
    const b = group.join({ topics: ['orders'] }, clock.now(), counts, 3_000);
    expect(group.view(a.memberId).assignments).toEqual([]);
    expect(group.nextDeadline()).toBe(clock.now() + 2_000);
    clock.advance(1_999);
    group.tick(clock.now(), counts);
    expect(group.state).toBe('Assigning');
    clock.advance(1);
    group.tick(clock.now(), counts);
    expect(group.state).toBe('Stable');
    expect([a, b].map((m) => group.view(m.memberId).assignments.length)).toEqual([6, 6]); // shared from the start
    const c = group.join({ topics: ['orders'] }, clock.now(), counts, 3_000);
    expect(group.state).toBe('Reconciling');
    releaseAll(group, [a.memberId, b.memberId], clock.now());
    expect(group.view(c.memberId).assignments).toHaveLength(4);
  });

  it('after a restart the delay ends once the expected members are back, each keeping the partitions it claims', () => {
    const group = new ConsumerGroup('g', ids());
    group.expectedMembers = 3;
    const claims = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]].reverse(); // not in the range assignor's order
    const views = claims.map((owned) => group.join({ topics: ['orders'], owned: owned.map((partition) => ({ topic: 'orders', partition })) }, 0, counts, 3_000));
    expect(group.state).toBe('Stable');
    expect(views.map((v) => partitions(group.view(v.memberId)))).toEqual(claims);
    expect(group.expectedMembers).toBeNull();
  });

  it('fences commits by generation and member, and standalone commits by emptiness', () => {
    const group = new ConsumerGroup('g', ids());
    const a = group.join({ topics: ['orders'] }, 0, counts);
    expect(codeOf(() => group.checkCommit(a.memberId, a.generation))).toBeUndefined();
    group.join({ topics: ['orders'] }, 0, counts);
    expect(codeOf(() => group.checkCommit(a.memberId, a.generation))).toBe('ILLEGAL_GENERATION');
    expect(codeOf(() => group.checkCommit('nobody', group.generation))).toBe('UNKNOWN_MEMBER_ID');
    expect(codeOf(() => group.checkCommit(undefined, undefined))).toBe('GROUP_NOT_EMPTY');
    expect(codeOf(() => group.checkEmpty('delete'))).toBe('GROUP_NOT_EMPTY');
  });

  it('gives members beyond the partition count nothing, and reassigns when partitions appear or go', () => {
    const group = new ConsumerGroup('g', ids());
    const members = Array.from({ length: 4 }, () => group.join({ topics: ['small'] }, 0, new Map([['small', 2]])));
    releaseAll(group, members.map((m) => m.memberId), 0);
    expect(members.map((m) => group.view(m.memberId).assignments.length).sort()).toEqual([0, 0, 1, 1]);
    const before = group.generation;
    group.refresh(new Map([['small', 2]]), 0);
    expect(group.generation).toBe(before);
    group.refresh(new Map([['small', 8]]), 0);
    expect(group.generation).toBe(before + 1);
    releaseAll(group, members.map((m) => m.memberId), 0);
    expect(members.map((m) => group.view(m.memberId).assignments.length)).toEqual([2, 2, 2, 2]);
    group.refresh(new Map(), 0); // the topic was deleted
    expect(members.map((m) => group.view(m.memberId).assignments.length)).toEqual([0, 0, 0, 0]);
  });

  it('refuses bad joins', () => {
    const group = new ConsumerGroup('g', ids());
    expect(codeOf(() => group.join({ topics: [] }, 0, counts))).toBe('INVALID_REQUEST');
    expect(codeOf(() => group.join({ topics: ['orders'], sessionTimeoutMs: 10 }, 0, counts))).toBe('INVALID_REQUEST');
    expect(group.state).toBe('Empty');
  });

  it('property: whatever members do, a partition never passes between two live members without a release, and releasing converges to a balanced assignment', () => {
    type Op = { kind: 'join' } | { kind: 'leave' | 'release' | 'partial' | 'silence'; who: number } | { kind: 'time'; ms: number };
    const op = fc.oneof(
      fc.constant<Op>({ kind: 'join' }),
      fc.record({ kind: fc.constantFrom('leave' as const, 'release' as const, 'partial' as const, 'silence' as const), who: fc.nat(9) }),
      fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 100, max: 6_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 0, max: 2_000 }), (ops, delay) => {
        const clock = new ManualClock();
        const group = new ConsumerGroup('g', ids());
        const live: string[] = [];
        const silent = new Set<string>();
        const owner = () => owners(group, live);
        for (const o of ops) {
          const before = owner();
          let releasedBy: { id: string; partitions: number[] } | null = null;
          if (o.kind === 'join') live.push(group.join({ topics: ['orders'], sessionTimeoutMs: 5_000 }, clock.now(), counts, delay).memberId);
          else if (o.kind === 'time') {
            clock.advance(o.ms);
            for (const id of live) if (!silent.has(id)) group.heartbeat(id, clock.now());
            for (const gone of group.tick(clock.now(), counts)) live.splice(live.indexOf(gone.memberId), 1);
          } else if (live.length > 0) {
            const id = live[o.who % live.length]!;
            if (o.kind === 'leave') {
              group.leave(id, clock.now(), counts);
              live.splice(live.indexOf(id), 1);
            } else if (o.kind === 'silence') silent.add(id);
            else {
              const revoke = group.view(id).revoke;
              const some = o.kind === 'partial' ? revoke.slice(0, 1) : revoke;
              group.heartbeat(id, clock.now(), some);
              releasedBy = { id, partitions: some.map((p) => p.partition) };
            }
          }
          const after = owner();
          for (const [partition, was] of before) {
            const now = after.get(partition);
            if (now === undefined || now === was || !live.includes(was)) continue;
            // moved from a member that is still live: only by its own release
            expect(releasedBy?.id).toBe(was);
            expect(releasedBy?.partitions).toContain(partition);
          }
        }
        // Once the group has formed and everyone releases what it is asked to, it settles balanced.
        clock.advance(delay);
        for (const id of live) group.heartbeat(id, clock.now());
        for (const gone of group.tick(clock.now(), counts)) live.splice(live.indexOf(gone.memberId), 1);
        releaseAll(group, live, clock.now());
        if (live.length > 0) {
          expect(group.state).toBe('Stable');
          const sizes = live.map((id) => group.view(id).assignments.length);
          expect(sizes.reduce((x, y) => x + y, 0)).toBe(12);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
