import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/error-code.js';
import { ConsumerGroup } from '../../src/replication/consumer-group.js';
import { ManualClock } from '../helpers/manual-clock.js';

function ids() {
  let n = 0;
  return () => `m${++n}`;
}


const counts = new Map([['orders', 12]]);

describe('consumer group membership', () => {
  it('three members share 12 partitions; a leave and an expiry reassign at once and bump the generation', () => {
    const clock = new ManualClock();
    const group = new ConsumerGroup('billing', ids());
    const a = group.join({ topics: ['orders'], sessionTimeoutMs: 10_000 }, clock.now(), counts);
    const b = group.join({ topics: ['orders'], sessionTimeoutMs: 10_000 }, clock.now(), counts);
    const c = group.join({ topics: ['orders'], sessionTimeoutMs: 10_000 }, clock.now(), counts);
    expect(group.generation).toBe(3);
    const sizes = [a, b, c].map((m) => group.heartbeat(m.memberId, clock.now()).assignments.length);
    expect(sizes).toEqual([4, 4, 4]);

    group.leave(c.memberId, counts);
    expect(group.generation).toBe(4);
    expect(group.heartbeat(a.memberId, clock.now()).assignments).toHaveLength(6);

    clock.advance(6_000);
    group.heartbeat(a.memberId, clock.now());
    clock.advance(4_000);
    expect(group.expire(clock.now(), counts)).toEqual([b.memberId]);
    expect(group.generation).toBe(5);
    expect(group.heartbeat(a.memberId, clock.now())).toMatchObject({ generation: 5 });
    expect(group.heartbeat(a.memberId, clock.now()).assignments).toHaveLength(12);
    expect(codeOf(() => group.heartbeat(b.memberId, clock.now()))).toBe('UNKNOWN_MEMBER_ID');
    expect(group.nextExpiry()).toBe(clock.now() + 10_000);
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

  it('gives members beyond the partition count nothing, and reassigns when partitions appear', () => {
    const group = new ConsumerGroup('g', ids());
    const members = Array.from({ length: 4 }, () => group.join({ topics: ['small'] }, 0, new Map([['small', 2]])));
    const assigned = members.map((m) => group.heartbeat(m.memberId, 0).assignments.length);
    expect(assigned.sort()).toEqual([0, 0, 1, 1]);
    const before = group.generation;
    group.refresh(new Map([['small', 2]]));
    expect(group.generation).toBe(before);
    group.refresh(new Map([['small', 8]]));
    expect(group.generation).toBe(before + 1);
    expect(members.map((m) => group.heartbeat(m.memberId, 0).assignments.length)).toEqual([2, 2, 2, 2]);
  });

  it('refuses bad joins', () => {
    const group = new ConsumerGroup('g', ids());
    expect(codeOf(() => group.join({ topics: [] }, 0, counts))).toBe('INVALID_REQUEST');
    expect(codeOf(() => group.join({ topics: ['orders'], sessionTimeoutMs: 10 }, 0, counts))).toBe('INVALID_REQUEST');
    expect(group.state).toBe('Empty');
  });
});
