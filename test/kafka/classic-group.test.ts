/** The classic group state machine on a manual clock: the join barrier, sync, sessions, rebalance timeouts. */
import { describe, expect, it } from 'vitest';
import { ClassicGroup, type JoinArgs, type JoinOutcome } from '../../src/kafka/groups/classic-group.js';
import { KafkaErrors } from '../../src/kafka/errors.js';
import { ManualClock } from '../helpers/manual-clock.js';

const args = (memberId = '', over: Partial<JoinArgs> = {}): JoinArgs => ({
  memberId,
  groupInstanceId: null,
  clientId: 'c',
  clientHost: '127.0.0.1',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 30_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('m') }],
  requireKnownMemberId: true,
  ...over,
});

async function joinNew(g: ClassicGroup, over: Partial<JoinArgs> = {}): Promise<{ id: string; joined: Promise<JoinOutcome> }> {
  const first = (await g.join(args('', over))) as JoinOutcome;
  expect(first.errorCode).toBe(KafkaErrors.MEMBER_ID_REQUIRED);
  return { id: first.memberId, joined: Promise.resolve(g.join(args(first.memberId, over))) };
}

describe('classic group', () => {
  it('two members join, the leader gets the member list, sync hands out the leader\'s assignment', async () => {
    const clock = new ManualClock();
    const g = new ClassicGroup('g', clock, 0, () => undefined);
    const a = await joinNew(g);
    const ra = await a.joined; // alone: the join completes at once
    expect(ra).toMatchObject({ errorCode: 0, generationId: 1, leader: a.id });
    expect(ra.members.map((m) => m.memberId)).toEqual([a.id]);
    const b = await joinNew(g); // a new member: a rebalance, a must rejoin
    expect(g.state).toBe('PreparingRebalance');
    expect(g.heartbeat(a.id, 1)).toBe(KafkaErrors.REBALANCE_IN_PROGRESS);
    const ra2 = g.join(args(a.id));
    const [x, y] = await Promise.all([ra2, b.joined]);
    expect(x.generationId).toBe(2);
    expect(y.generationId).toBe(2);
    expect(x.members.length + y.members.length).toBe(2); // only the leader gets the list
    const followerSync = Promise.resolve(g.sync(b.id, 2, []));
    const leaderSync = await g.sync(a.id, 2, [{ memberId: a.id, assignment: Buffer.from('A') }, { memberId: b.id, assignment: Buffer.from('B') }]);
    expect(leaderSync.assignment.toString()).toBe('A');
    expect((await followerSync).assignment.toString()).toBe('B');
    expect(g.state).toBe('Stable');
    expect(g.checkCommit(b.id, 2)).toBe(KafkaErrors.NONE);
    expect(g.checkCommit(b.id, 1)).toBe(KafkaErrors.ILLEGAL_GENERATION);
    expect(g.checkCommit('', -1)).toBe(KafkaErrors.ILLEGAL_GENERATION);
  });

  it('a member whose session passes is removed and the others rebalance; a member that does not rejoin is dropped at the rebalance timeout', async () => {
    const clock = new ManualClock();
    let emptied = false;
    const g = new ClassicGroup('g', clock, 0, () => (emptied = true));
    const a = await joinNew(g);
    await a.joined;
    const b = await joinNew(g);
    await Promise.all([g.join(args(a.id)), b.joined]);
    await Promise.all([g.sync(a.id, 2, []), g.sync(b.id, 2, [])]);
    clock.advance(6_000);
    expect(g.heartbeat(a.id, 2)).toBe(KafkaErrors.NONE);
    clock.advance(6_000); // b's session (10 s) has passed, a's has not
    expect(g.members.has(b.id)).toBe(false);
    expect(g.state).toBe('PreparingRebalance');
    // a does not rejoin: the rebalance timeout (30 s) drops it, the group is empty
    clock.advance(30_000);
    expect(g.members.size).toBe(0);
    expect(g.state).toBe('Empty');
    expect(emptied).toBe(true);
  });

  it('refuses a member with protocols the group does not share, and an unknown member id', async () => {
    const clock = new ManualClock();
    const g = new ClassicGroup('g', clock, 0, () => undefined);
    const a = await joinNew(g);
    await a.joined;
    expect(g.accepts('consumer', [{ name: 'roundrobin' }])).toBe(false);
    expect(g.accepts('connect', [{ name: 'range' }])).toBe(false);
    expect(g.accepts('consumer', [{ name: 'roundrobin' }, { name: 'range' }])).toBe(true);
    expect(((await g.join(args('nobody'))) as JoinOutcome).errorCode).toBe(KafkaErrors.UNKNOWN_MEMBER_ID);
    expect(g.leave(a.id)).toBe(KafkaErrors.NONE);
    expect(g.state).toBe('Empty');
  });

  it('the initial delay lets members starting together share the first generation', async () => {
    const clock = new ManualClock();
    const g = new ClassicGroup('g', clock, 3_000, () => undefined);
    const a = await joinNew(g);
    const b = await joinNew(g);
    let done = false;
    void Promise.all([a.joined, b.joined]).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(3_000);
    const [x, y] = await Promise.all([a.joined, b.joined]);
    expect([x.generationId, y.generationId]).toEqual([1, 1]);
  });
});
