/** Consumer groups over the HTTP API (app.inject), with a manual clock for sessions and offsets retention. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { startTestBroker } from '../helpers/broker.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
/** Requests go through app.inject(), or over real HTTP when the broker listens (`overHttp`). */
let overHttp = false;
afterEach(async () => {
  await broker?.close();
  broker = null;
  overHttp = false;
});


async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ statusCode: number; body: string; json(): any }> {
  const payload = body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  if (overHttp) {
    const response = await fetch(`${broker!.url}${url}`, { method, ...payload });
    const text = await response.text();
    return { statusCode: response.status, body: text, json: () => JSON.parse(text) };
  }
  return broker!.app.inject({ method, url, ...(body === undefined ? {} : { headers: payload.headers, payload: payload.body }) });
}

async function setup(options: { clock?: ManualClock; dataDir?: string } = {}) {
  broker = await startTestBroker(options.dataDir ?? tempDir(), { listen: overHttp, ...(options.clock ? { clock: options.clock } : {}) });
  if ((await call('GET', '/topics/orders')).statusCode === 404) {
    await call('POST', '/topics', { name: 'orders', partitions: 12 });
    for (let p = 0; p < 12; p++) await call('POST', '/topics/orders/records', { records: Array.from({ length: 10 }, (_, i) => ({ value: `${p}-${i}`, partition: p })) });
  }
}

const join = async (group = 'billing', extra: Record<string, unknown> = {}) => {
  const response = await call('POST', `/groups/${group}/members`, { topics: ['orders'], sessionTimeoutMs: 10_000, ...extra });
  expect(response.statusCode).toBe(201);
  return response.json() as { memberId: string; generation: number; assignments: { topic: string; partition: number }[] };
};
const heartbeat = async (memberId: string, group = 'billing') => call('POST', `/groups/${group}/members/${memberId}/heartbeat`);

const heartbeatWith = async (memberId: string, body: unknown, group = 'billing') => call('POST', `/groups/${group}/members/${memberId}/heartbeat`, body);
const partitionsOf = (view: { assignments: { partition: number }[] }) => view.assignments.map((p) => p.partition);

describe.each([['app.inject', false], ['real HTTP', true]])('consumer groups over %s', (_name, http) => {
  it('three members share 12 partitions, each moving only after its owner released it; leave and expiry free them at once; generations fence late commits', async () => {
    overHttp = http;
    const clock = new ManualClock(Date.now());
    await setup({ clock });
    const a = await join();
    expect(a.assignments).toHaveLength(12);
    const b = await join();
    expect(b).toMatchObject({ assignments: [], revoke: [] });
    expect((b as unknown as { pending: unknown[] }).pending).toHaveLength(6);
    const aView = (await heartbeat(a.memberId)).json();
    expect(aView.assignments).toHaveLength(12);
    expect(aView.revoke).toHaveLength(6);
    // a commits what it is giving up (it still owns it), then releases it
    const commit = await call('POST', '/groups/billing/offsets', { memberId: a.memberId, generation: aView.generation, offsets: aView.revoke.map((p: object) => ({ ...p, offset: 1 })) });
    expect(commit.statusCode).toBe(200);
    const released = (await heartbeatWith(a.memberId, { released: aView.revoke })).json();
    expect(released).toMatchObject({ revoke: [], pending: [] });
    expect(released.assignments).toHaveLength(6);
    expect((await heartbeat(b.memberId)).json()).toMatchObject({ assignments: aView.revoke, revoke: [], pending: [] });

    const c = await join();
    for (const m of [a, b]) await heartbeatWith(m.memberId, { released: (await heartbeat(m.memberId)).json().revoke });
    const views = await Promise.all([a, b, c].map(async (m) => (await heartbeat(m.memberId)).json()));
    expect(views.map((v) => v.assignments.length)).toEqual([4, 4, 4]);
    expect(new Set(views.flatMap(partitionsOf)).size).toBe(12);
    const generation = views[0].generation;

    expect((await call('DELETE', `/groups/billing/members/${c.memberId}`)).statusCode).toBe(204);
    const afterLeave = (await heartbeat(a.memberId)).json();
    expect(afterLeave.generation).toBe(generation + 1);
    expect(afterLeave.assignments).toHaveLength(6);

    // A commit from the old generation is fenced, from the current one accepted.
    const stale = await call('POST', '/groups/billing/offsets', { memberId: a.memberId, generation, offsets: [{ topic: 'orders', partition: afterLeave.assignments[0].partition, offset: 3 }] });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('ILLEGAL_GENERATION');
    const ok = await call('POST', '/groups/billing/offsets', { memberId: a.memberId, generation: afterLeave.generation, offsets: [{ topic: 'orders', partition: afterLeave.assignments[0].partition, offset: 3, metadata: 'm' }] });
    expect(ok.statusCode).toBe(200);

    // b stops heartbeating: after its session it is gone and a owns everything.
    clock.advance(6_000);
    await heartbeat(a.memberId);
    clock.advance(5_000);
    await new Promise((r) => setTimeout(r, 30));
    const alone = (await heartbeat(a.memberId)).json();
    expect(alone.assignments).toHaveLength(12);
    expect(alone.generation).toBe(afterLeave.generation + 1);
    const expired = await heartbeat(b.memberId);
    expect(expired.statusCode).toBe(404);
    expect(expired.json().error.code).toBe('UNKNOWN_MEMBER_ID');
    expect((await call('GET', '/groups/billing')).json()).toMatchObject({ group: 'billing', state: 'Stable', generation: alone.generation, members: [{ memberId: a.memberId }] });
    expect((await call('GET', '/groups')).json()).toEqual({ groups: [{ group: 'billing', state: 'Stable', members: 1 }] });
    overHttp = false;
  });
});

describe('consumer groups: held heartbeats, initial delay, identity', () => {
  it('a held heartbeat is answered as soon as the member must release, and the new owner\'s as soon as it was released', async () => {
    const clock = new ManualClock(Date.now());
    await setup({ clock });
    const a = await join();
    // nothing changes: the heartbeat waits (on the broker's clock) until maxWaitMs
    let answered = false;
    const idle = heartbeatWith(a.memberId, { maxWaitMs: 3_000 }).then((r) => ((answered = true), r));
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    expect(broker!.services.groups.waitingHeartbeats).toBe(1);
    clock.advance(3_000);
    expect((await idle).json().assignments).toHaveLength(12);

    const aWaits = heartbeatWith(a.memberId, { maxWaitMs: 3_000 });
    await waitFor(() => broker!.services.groups.waitingHeartbeats === 1, 5_000, 'a to wait');
    const b = await join(); // a must release six: its held heartbeat answers now
    const told = (await aWaits).json();
    expect(told.revoke).toHaveLength(6);
    const bWaits = heartbeatWith(b.memberId, { maxWaitMs: 3_000 }, 'billing');
    await waitFor(() => broker!.services.groups.waitingHeartbeats === 1, 5_000, 'b to wait');
    await heartbeatWith(a.memberId, { released: told.revoke });
    expect((await bWaits).json()).toMatchObject({ assignments: told.revoke, pending: [] });
    // a second heartbeat supersedes a held one; a leave answers the member's own with 404
    const first = heartbeatWith(a.memberId, { maxWaitMs: 3_000 });
    await waitFor(() => broker!.services.groups.waitingHeartbeats === 1, 5_000, 'a to wait again');
    const second = heartbeatWith(b.memberId, { maxWaitMs: 3_000 });
    await waitFor(() => broker!.services.groups.waitingHeartbeats === 2, 5_000, 'both to wait');
    await heartbeat(a.memberId);
    expect((await first).statusCode).toBe(200);
    await call('DELETE', `/groups/billing/members/${b.memberId}`);
    expect((await second).json().error.code).toBe('UNKNOWN_MEMBER_ID');
    // bad bodies
    expect((await heartbeatWith(a.memberId, { maxWaitMs: -1 })).json().error.code).toBe('INVALID_REQUEST');
    expect((await heartbeatWith(a.memberId, { released: [{ topic: 'orders' }] })).json().error.code).toBe('INVALID_REQUEST');
    expect((await heartbeatWith(a.memberId, { released: [{ topic: '../x', partition: 0 }] })).json().error.code).toBe('INVALID_TOPIC_NAME');
    expect((await heartbeatWith(a.memberId, { bogus: 1 })).json().error.code).toBe('INVALID_REQUEST');
  });

  it('waits groupInitialRebalanceDelayMs after the first join, so members starting together share the partitions', async () => {
    const clock = new ManualClock(Date.now());
    broker = await startTestBroker(tempDir(), { clock, overrides: { groupInitialRebalanceDelayMs: 3_000 } });
    await call('POST', '/topics', { name: 'orders', partitions: 12 });
    const a = await join();
    expect(a.assignments).toEqual([]);
    expect((await call('GET', '/groups/billing')).json().state).toBe('Assigning');
    clock.advance(1_000);
    const b = await join();
    const held = heartbeatWith(b.memberId, { maxWaitMs: 5_000 });
    await waitFor(() => broker!.services.groups.waitingHeartbeats === 1, 5_000, 'b to wait');
    clock.advance(2_000); // the delay ends: b's held heartbeat answers with its share
    expect((await held).json().assignments).toHaveLength(6);
    expect((await heartbeat(a.memberId)).json().assignments).toHaveLength(6);
    expect((await call('GET', '/groups/billing')).json().state).toBe('Stable');
  });

  it('describes members with client id and host; counts rebalances, generations, members and errors by code in /metrics', async () => {
    await setup();
    const joined = await broker!.app.inject({
      method: 'POST',
      url: '/groups/billing/members',
      headers: { 'content-type': 'application/json', 'sluice-client-id': 'from-header' },
      payload: JSON.stringify({ topics: ['orders'] }),
    });
    await call('POST', '/groups/billing/members', { topics: ['orders'], clientId: 'worker-7' });
    const members = (await call('GET', '/groups/billing')).json().members;
    expect(members.map((m: { clientId: string }) => m.clientId).sort()).toEqual(['from-header', 'worker-7']);
    expect(members[0]).toMatchObject({ host: '127.0.0.1', revoking: expect.any(Array), pending: expect.any(Array) });
    expect(joined.json().memberId).toEqual(expect.any(String));
    await call('POST', '/groups/billing/members', { topics: ['orders'], clientId: 'x'.repeat(256) });
    await heartbeat('ghost');
    await call('GET', '/topics/orders/partitions/0/records?offset=10&maxWaitMs=20'); // a long poll: timed apart
    const metrics = (await call('GET', '/metrics')).body;
    expect(metrics).toMatch(/sluice_long_poll_duration_seconds_count\{route="\/topics\/:topic\/partitions\/:partition\/records",method="GET"\} 1/);
    expect(metrics).not.toMatch(/sluice_http_request_duration_seconds_count\{route="\/topics\/:topic\/partitions\/:partition\/records"/);
    expect(metrics).toMatch(/sluice_consumer_group_rebalances_total\{group="billing"\} 2/);
    expect(metrics).toMatch(/sluice_consumer_group_generation\{group="billing"\} 2/);
    expect(metrics).toMatch(/sluice_consumer_group_members\{group="billing"\} 2/);
    expect(metrics).toMatch(/sluice_errors_total\{code="INVALID_REQUEST",route="\/groups\/:group\/members"\} 1/);
    expect(metrics).toMatch(/sluice_errors_total\{code="UNKNOWN_MEMBER_ID",route="\/groups\/:group\/members\/:memberId\/heartbeat"\} 1/);
  });
});

describe('consumer groups', () => {

  it('reports committed offsets with lag, in metrics too, and keeps them across a restart', async () => {
    const dataDir = tempDir();
    await setup({ dataDir });
    await call('POST', '/groups/reporting/offsets', { offsets: [{ topic: 'orders', partition: 1, offset: 4 }, { topic: 'orders', partition: 2, offset: 10 }] });
    const expected = [
      { topic: 'orders', partition: 1, offset: 4, metadata: '', highWatermark: 10, lag: 6 },
      { topic: 'orders', partition: 2, offset: 10, metadata: '', highWatermark: 10, lag: 0 },
    ];
    expect((await call('GET', '/groups/reporting/offsets')).json()).toEqual({ offsets: expected });
    expect((await call('GET', '/metrics')).body).toMatch(/sluice_consumer_group_lag\{group="reporting",topic="orders",partition="1"\} 6/);
    await broker!.close();
    await setup({ dataDir });
    expect((await call('GET', '/groups/reporting/offsets')).json()).toEqual({ offsets: expected });
    expect((await call('GET', '/topics')).json().topics.map((t: { name: string }) => t.name)).toEqual(['orders']);
    expect((await call('GET', '/topics?internal=true')).json().topics.map((t: { name: string }) => t.name)).toEqual(['__consumer_offsets', '__share_group_state', 'orders']);
  });

  it('resets offsets (earliest, latest, offset, timestamp) and deletes groups, only when empty', async () => {
    await setup();
    await call('POST', '/groups/g/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 5 }] });
    const reset = async (to: unknown) => (await call('POST', '/groups/g/offsets/reset', { topic: 'orders', to })).json();
    expect((await reset('earliest')).offsets.every((o: { offset: number }) => o.offset === 0)).toBe(true);
    expect((await reset('latest')).offsets.every((o: { offset: number }) => o.offset === 10)).toBe(true);
    expect((await reset({ offset: 7 })).offsets[3]).toEqual({ topic: 'orders', partition: 3, offset: 7 });
    expect((await reset({ timestamp: 0 })).offsets[0].offset).toBe(0);
    const member = await join('g');
    const busy = await call('POST', '/groups/g/offsets/reset', { topic: 'orders', to: 'earliest' });
    expect(busy.json().error.code).toBe('GROUP_NOT_EMPTY');
    expect((await call('DELETE', '/groups/g')).json().error.code).toBe('GROUP_NOT_EMPTY');
    expect((await call('POST', '/groups/g/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] })).json().error.code).toBe('GROUP_NOT_EMPTY');
    await call('DELETE', `/groups/g/members/${member.memberId}`);
    expect((await call('DELETE', '/groups/g')).statusCode).toBe(204);
    expect((await call('GET', '/groups/g/offsets')).json().error.code).toBe('UNKNOWN_GROUP');
  });

  it('refuses bad input with the contract errors and stores nothing', async () => {
    await setup();
    const code = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) => {
      const r = await call(method, url, body);
      return [r.statusCode, r.json().error?.code];
    };
    expect(await code('GET', '/groups/nope')).toEqual([404, 'UNKNOWN_GROUP']);
    expect(await code('GET', '/groups/nope/offsets')).toEqual([404, 'UNKNOWN_GROUP']);
    expect(await code('DELETE', '/groups/nope')).toEqual([404, 'UNKNOWN_GROUP']);
    expect(await code('POST', '/groups/nope/members/x/heartbeat')).toEqual([404, 'UNKNOWN_MEMBER_ID']);
    expect(await code('DELETE', '/groups/nope/members/x')).toEqual([404, 'UNKNOWN_MEMBER_ID']);
    expect(await code('POST', '/groups/nope/offsets', { memberId: 'x', generation: 1, offsets: [{ topic: 'orders', partition: 0, offset: 1 }] })).toEqual([404, 'UNKNOWN_MEMBER_ID']);
    await join('real');
    expect(await code('POST', '/groups/real/members/ghost/heartbeat')).toEqual([404, 'UNKNOWN_MEMBER_ID']);
    expect(await code('DELETE', '/groups/real/members/ghost')).toEqual([404, 'UNKNOWN_MEMBER_ID']);
    expect(await code('POST', '/groups/real/members', { topics: ['missing'] })).toEqual([404, 'UNKNOWN_TOPIC']);
    expect(await code('POST', '/groups/real/members', { topics: [] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/groups/real/members', { topics: ['orders'], assignor: 'sticky' })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/groups/real/members', { topics: ['orders'], sessionTimeoutMs: 5 })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/groups/bad%20id/members', { topics: ['orders'] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/groups/s/offsets', { offsets: [{ topic: 'missing', partition: 0, offset: 1 }] })).toEqual([404, 'UNKNOWN_TOPIC']);
    expect(await code('POST', '/groups/s/offsets', { offsets: [{ topic: 'orders', partition: 99, offset: 1 }] })).toEqual([404, 'UNKNOWN_PARTITION']);
    expect(await code('POST', '/groups/s/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 11 }] })).toEqual([416, 'OFFSET_OUT_OF_RANGE']);
    expect(await code('POST', '/groups/s/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: -1 }] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/groups/s/offsets', { memberId: 'x', offsets: [{ topic: 'orders', partition: 0, offset: 1 }] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/groups/s/offsets', { offsets: [] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('GET', '/groups/s/offsets')).toEqual([404, 'UNKNOWN_GROUP']);
    expect(await code('POST', '/topics/__consumer_offsets/records', { records: [{ value: 'x' }] })).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('DELETE', '/topics/__consumer_offsets')).toEqual([400, 'INVALID_REQUEST']);
    expect(await code('POST', '/topics', { name: '__mine' })).toEqual([400, 'INVALID_TOPIC_NAME']);
  });

  it('expires the offsets of a group empty for offsetsRetentionMs', async () => {
    const clock = new ManualClock(Date.now());
    broker = await startTestBroker(tempDir(), { clock, overrides: { offsetsRetentionMs: 60_000 } });
    await call('POST', '/topics', { name: 'orders' });
    await call('POST', '/topics/orders/records', { records: [{ value: 'x' }] });
    await call('POST', '/groups/old/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] });
    clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 30));
    expect((await call('GET', '/groups/old/offsets')).statusCode).toBe(200);
    clock.advance(2_000);
    await waitFor(async () => (await call('GET', '/groups/old/offsets')).statusCode === 404, 5_000, 'the offsets to expire');
    expect((await call('GET', '/groups/old/offsets')).json().error.code).toBe('UNKNOWN_GROUP');
  });

  it('keeps the offsets log bounded: only the latest commit per partition needs to survive', async () => {
    const dataDir = tempDir();
    broker = await startTestBroker(dataDir, { overrides: { offsetsTopicPartitions: 1 } });
    await call('PATCH', '/topics/__consumer_offsets/config', { segmentBytes: 1024 });
    await call('POST', '/topics', { name: 'orders', partitions: 3 });
    await call('POST', '/topics/orders/records', { records: Array.from({ length: 300 }, (_, i) => ({ value: `${i}`, partition: i % 3 })) });
    for (let i = 1; i <= 100; i++) {
      await call('POST', '/groups/busy/offsets', { offsets: [0, 1, 2].map((p) => ({ topic: 'orders', partition: p, offset: i })) });
    }
    const internal = (await call('GET', '/topics/__consumer_offsets')).json().partitions[0];
    expect(internal.segments).toBeLessThanOrEqual(10);
    expect(internal.logStartOffset).toBeGreaterThan(0);
    await broker.close();
    broker = await startTestBroker(dataDir, { overrides: { offsetsTopicPartitions: 1 } });
    expect((await call('GET', '/groups/busy/offsets')).json().offsets.map((o: { offset: number }) => o.offset)).toEqual([100, 100, 100]);
  });

  it('review regressions: ownership, phantom groups, big commits, retention after restart and for active standalone consumers, deleted topics', async () => {
    const clock = new ManualClock(Date.now());
    const dataDir = tempDir();
    broker = await startTestBroker(dataDir, { clock, overrides: { offsetsRetentionMs: 10_000 } });
    await call('POST', '/topics', { name: 'orders', partitions: 2 });
    await call('POST', '/topics/orders/records', { records: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] });
    // A member commits only what it owns.
    const a = await join('own');
    const b = await join('own');
    await heartbeatWith(a.memberId, { released: (await heartbeat(a.memberId, 'own')).json().revoke }, 'own');
    const aOwns = (await heartbeat(a.memberId, 'own')).json();
    expect(aOwns.assignments).toHaveLength(1);
    const other = aOwns.assignments[0].partition === 0 ? 1 : 0;
    const steal = await call('POST', '/groups/own/offsets', { memberId: a.memberId, generation: aOwns.generation, offsets: [{ topic: 'orders', partition: other, offset: 1 }] });
    expect(steal.json().error.code).toBe('INVALID_REQUEST');
    void b;
    // A refused join leaves no group behind.
    expect((await call('POST', '/groups/phantom/members', { topics: ['orders'], sessionTimeoutMs: 1 })).statusCode).toBe(400);
    expect((await call('GET', '/groups/phantom')).statusCode).toBe(404);
    // A commit of many offsets with long metadata is stored whole.
    const many = Array.from({ length: 600 }, (_, i) => ({ topic: 'orders', partition: i % 2, offset: 1, metadata: 'm'.repeat(4000) }));
    expect((await call('POST', '/groups/big/offsets', { offsets: many })).statusCode).toBe(200);
    // A standalone consumer that keeps committing keeps its offsets.
    for (let i = 0; i < 4; i++) {
      clock.advance(4_000);
      expect((await call('POST', '/groups/steady/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] })).statusCode).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 30));
    expect((await call('GET', '/groups/steady/offsets')).statusCode).toBe(200);
    // Deleting a topic forgets its offsets; a new topic of the same name starts fresh.
    await call('POST', '/topics', { name: 'temp' });
    await call('POST', '/topics/temp/records', { records: [{ value: 'x' }] });
    await call('POST', '/groups/t/offsets', { offsets: [{ topic: 'temp', partition: 0, offset: 1 }] });
    await call('DELETE', '/topics/temp');
    expect((await call('GET', '/groups/t/offsets')).json().offsets).toEqual([]);
    // A group that had members when the broker stopped expires after the restart.
    await broker.close();
    broker = await startTestBroker(dataDir, { clock, overrides: { offsetsRetentionMs: 10_000 } });
    expect((await call('GET', '/groups/own')).json()).toMatchObject({ state: 'Empty' });
    clock.advance(11_000);
    await waitFor(async () => (await call('GET', '/groups/own')).statusCode === 404, 5_000, 'the group to expire');
  });

  it('a join racing a group delete ends with one consistent group', async () => {
    await setup();
    await call('POST', '/groups/race/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] });
    const [deleted, joined] = await Promise.all([call('DELETE', '/groups/race'), call('POST', '/groups/race/members', { topics: ['orders'] })]);
    expect(deleted.statusCode).toBe(204);
    expect(joined.statusCode).toBe(201);
    const member = joined.json();
    expect((await heartbeat(member.memberId, 'race')).statusCode).toBe(200);
    expect((await call('GET', '/groups/race')).json()).toMatchObject({ state: 'Stable', members: [{ memberId: member.memberId }] });
  });
});
