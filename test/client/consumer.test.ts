/** The Consumer and Admin against a real listening broker: groups, commits, seek, pause, resets, errors. */
import { describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConsumerRecord } from '../../src/client/index.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { codeOf } from '../helpers/error-code.js';
import { useClosing } from '../helpers/closing.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const track = useClosing();

async function setup(topic: string, partitions: number, records: number): Promise<{ b: RunningBroker; admin: Admin }> {
  const b = await startTestBroker(tempDir(), { listen: true });
  track(b);
  const admin = track(new Admin({ broker: b.url! }));
  await admin.createTopic({ name: topic, partitions });
  const producer = new Producer({ broker: b.url!, lingerMs: 1 });
  for (let i = 0; i < records; i++) await producer.enqueue({ topic, partition: i % partitions, key: `k${i}`, value: `v${i}` });
  await producer.close();
  return { b, admin };
}

async function take(consumer: Consumer, n: number): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  for await (const record of consumer) {
    out.push(record);
    if (out.length === n) break;
  }
  return out;
}

/** Polls until `n` records came (the consumer stays open, unlike leaving a for-await loop). */
async function pollFor(consumer: Consumer, n: number): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + 10_000;
  while (out.length < n && Date.now() < deadline) out.push(...(await consumer.poll({ maxRecords: n - out.length, timeoutMs: 200 })));
  return out;
}

describe('Consumer', () => {
  it('in a group: for await hands out every record; leaving the loop commits what was handed out and leaves', async () => {
    const { b, admin } = await setup('orders', 3, 300);
    const consumer = track(new Consumer({ broker: b.url!, group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest' }));
    const records = await take(consumer, 300);
    expect(new Set(records.map((r) => r.value!.toString())).size).toBe(300);
    const perPartition = [0, 1, 2].map((p) => records.filter((r) => r.partition === p).map((r) => r.offset));
    for (const offsets of perPartition) expect(offsets).toEqual(offsets.map((_, i) => i));
    const group = await admin.describeGroup('billing');
    expect(group.members).toHaveLength(0);
    expect(group.offsets.map((o) => [o.partition, o.offset, o.lag])).toEqual([
      [0, 100, 0],
      [1, 100, 0],
      [2, 100, 0],
    ]);
    // a new consumer of the group resumes after the commits
    const next = track(new Consumer({ broker: b.url!, group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest' }));
    const producer = track(new Producer({ broker: b.url! }));
    await producer.send({ topic: 'orders', partition: 1, value: 'new' });
    const [record] = await take(next, 1);
    expect([record!.partition, record!.offset, record!.value!.toString()]).toEqual([1, 100, 'new']);
  });

  it('auto-commit commits processed records in the background; manual commit and autoCommit false', async () => {
    const { b, admin } = await setup('t', 1, 50);
    const consumer = track(new Consumer({ broker: b.url!, group: 'g', topics: ['t'], autoOffsetReset: 'earliest', autoCommitIntervalMs: 20 }));
    const first = await consumer.poll({ maxRecords: 10 });
    expect(first).toHaveLength(10);
    await consumer.poll({ maxRecords: 5 }); // the first ten are processed now
    await waitFor(async () => (await admin.groupOffsets('g'))[0]?.offset === 10, 5_000, 'auto-commit of 10');
    await consumer.close();

    const manual = track(new Consumer({ broker: b.url!, group: 'm', topics: ['t'], autoOffsetReset: 'earliest', autoCommit: false }));
    expect(await pollFor(manual, 20)).toHaveLength(20);
    await manual.commit([{ topic: 't', partition: 0, offset: 7 }]);
    expect((await admin.groupOffsets('m'))[0]!.offset).toBe(7);
    await manual.close(); // no auto-commit on close
    expect((await admin.groupOffsets('m'))[0]!.offset).toBe(7);
  });

  it('without a group: given partitions, seek, pause and resume, poll batches', async () => {
    const { b } = await setup('p', 2, 100);
    const consumer = track(new Consumer({ broker: b.url!, partitions: [{ topic: 'p', partition: 0, offset: 10 }, { topic: 'p', partition: 1, offset: 0 }], maxWaitMs: 50 }));
    const seen: ConsumerRecord[] = [];
    while (seen.length < 90) seen.push(...(await consumer.poll({ maxRecords: 7 })));
    expect(seen.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i + 10));
    consumer.seek({ topic: 'p', partition: 0 }, 45);
    consumer.pause([{ topic: 'p', partition: 1 }]);
    const producer = track(new Producer({ broker: b.url! }));
    await producer.send({ topic: 'p', partition: 1, value: 'while paused' });
    const afterSeek = await pollFor(consumer, 5);
    expect(afterSeek.map((r) => [r.partition, r.offset])).toEqual([45, 46, 47, 48, 49].map((o) => [0, o]));
    expect(await consumer.poll({ timeoutMs: 200 })).toEqual([]);
    consumer.resume([{ topic: 'p', partition: 1 }]);
    const [resumed] = await consumer.poll({ timeoutMs: 5_000 });
    expect([resumed!.partition, resumed!.offset, resumed!.value!.toString()]).toEqual([1, 50, 'while paused']);
    expect(codeOf(() => consumer.seek({ topic: 'p', partition: 9 }, 0))).toBe('INVALID_REQUEST');
  });

  it('autoOffsetReset latest starts at the end; a long poll wakes on new records', async () => {
    const { b } = await setup('l', 1, 20);
    const consumer = track(new Consumer({ broker: b.url!, group: 'late', topics: ['l'], maxWaitMs: 5_000 }));
    const pending = take(consumer, 1);
    await waitFor(() => consumer.assignment().length === 1, 5_000, 'assignment');
    await new Promise((r) => setTimeout(r, 100));
    const producer = track(new Producer({ broker: b.url! }));
    await producer.send({ topic: 'l', value: 'fresh' });
    const [record] = await pending;
    expect([record!.offset, record!.value!.toString()]).toEqual([20, 'fresh']);
  });

  it('a position below the log start resets per autoOffsetReset; a partition that does not exist is an error from the iterator', async () => {
    const { b } = await setup('r', 1, 5);
    const consumer = track(new Consumer({ broker: b.url!, partitions: [{ topic: 'r', partition: 0, offset: 999 }], autoOffsetReset: 'earliest' }));
    const [first] = await take(consumer, 1);
    expect(first!.offset).toBe(0);
    const missing = track(new Consumer({ broker: b.url!, partitions: [{ topic: 'r', partition: 7 }] }));
    await expect(take(missing, 1)).rejects.toMatchObject({ code: 'UNKNOWN_PARTITION' });
    expect(codeOf(() => new Consumer({ broker: b.url! } as never))).toBe('INVALID_CONFIG');
    expect(codeOf(() => new Consumer({ broker: b.url!, topics: ['r'], sessionTimeoutMs: 5 }))).toBe('INVALID_CONFIG');
  });

  it('startOffset places partitions without a commit; position() follows what was handed out; close commits it', async () => {
    const { b, admin } = await setup('s', 2, 10); // 5 records in each partition
    await admin.commitOffsets('g', [{ topic: 's', partition: 1, offset: 1 }]);
    const consumer = track(new Consumer({ broker: b.url!, group: 'g', topics: ['s'], startOffset: 3 }));
    const records = await pollFor(consumer, 6);
    const by = (p: number) => records.filter((r) => r.partition === p).map((r) => r.offset);
    expect(by(0)).toEqual([3, 4]); // no commit: startOffset
    expect(by(1)).toEqual([1, 2, 3, 4]); // its commit wins
    expect(consumer.position({ topic: 's', partition: 0 })).toBe(5);
    await consumer.close();
    expect((await admin.groupOffsets('g')).map((o) => [o.partition, o.offset]).sort()).toEqual([[0, 5], [1, 5]]);
    const far = track(new Consumer({ broker: b.url!, group: 'h', topics: ['s'], startOffset: 1_000 }));
    await far.poll({ timeoutMs: 0 }); // starts it, returns at once
    await waitFor(() => far.assignment().length === 2, 5_000, 'the assignment');
    expect(far.position({ topic: 's', partition: 0 })).toBe(5); // moved into range: the high watermark
    await far.close();
    expect((await admin.groupOffsets('h')).map((o) => o.offset)).toEqual([5, 5]); // nothing read: where it started
    expect(codeOf(() => new Consumer({ broker: b.url!, group: 'h', topics: ['s'], startOffset: -1 }))).toBe('INVALID_CONFIG');
  });

  it('a rebalance moves partitions between members; each partition is consumed by one member at a time', async () => {
    const { b, admin } = await setup('rb', 4, 0);
    const a = track(new Consumer({ broker: b.url!, group: 'rb', topics: ['rb'], autoOffsetReset: 'earliest', heartbeatIntervalMs: 20 }));
    const aRecords = pollFor(a, 1);
    await waitFor(() => a.assignment().length === 4, 5_000, 'a owns all');
    const c = track(new Consumer({ broker: b.url!, group: 'rb', topics: ['rb'], autoOffsetReset: 'earliest', heartbeatIntervalMs: 20 }));
    const cRecords = pollFor(c, 1);
    await waitFor(() => a.assignment().length === 2 && c.assignment().length === 2, 5_000, 'two each');
    const producer = track(new Producer({ broker: b.url! }));
    for (let p = 0; p < 4; p++) await producer.send({ topic: 'rb', partition: p, value: `p${p}` });
    const [ra] = await aRecords;
    const [rc] = await cRecords;
    expect(ra!.partition).not.toBe(rc!.partition);
    await c.close();
    await waitFor(() => a.assignment().length === 4, 5_000, 'a owns all again');
    expect((await admin.describeGroup('rb')).members).toHaveLength(1);
  });
});

describe('Admin', () => {
  it('a member the broker expired rejoins once, even when refused commits and heartbeats race to rejoin', async () => {
    const clock = new ManualClock();
    const b = await startTestBroker(tempDir(), { listen: true, clock });
    track(b);
    const admin = track(new Admin({ broker: b.url! }));
    await admin.createTopic({ name: 'r', partitions: 2 });
    const consumer = track(new Consumer({ broker: b.url!, group: 'g', topics: ['r'], autoCommit: false, sessionTimeoutMs: 60_000, heartbeatIntervalMs: 30_000, autoOffsetReset: 'earliest' }));
    await consumer.poll({ timeoutMs: 0 }); // starts it
    await waitFor(() => consumer.assignment().length === 2, 5_000, 'the join');
    expect((await admin.describeGroup('g')).members).toHaveLength(1);
    clock.advance(120_000); // the session runs out on the broker's clock
    await waitFor(async () => (await admin.describeGroup('g')).members.length === 0, 5_000, 'expiry');
    // Three commits refused at once: each asks the member to beat, and the beats find the member unknown.
    await Promise.allSettled([consumer.commit(), consumer.commit(), consumer.commit()]);
    await waitFor(async () => (await admin.describeGroup('g')).members.length > 0, 5_000, 'rejoin');
    await new Promise((r) => setTimeout(r, 200));
    const group = await admin.describeGroup('g');
    expect(group.members).toHaveLength(1);
    expect(consumer.assignment()).toHaveLength(2);
    await consumer.close();
    expect((await admin.describeGroup('g')).members).toHaveLength(0); // and that one member left
  });

  it('manages topics and groups', async () => {
    const { admin } = await setup('adm', 2, 10);
    expect((await admin.listTopics()).map((t) => t.name)).toEqual(['adm']);
    expect((await admin.listTopics({ internal: true })).map((t) => t.name)).toContain('__consumer_offsets');
    const description = await admin.describeTopic('adm');
    expect(description.partitions.map((p) => p.highWatermark)).toEqual([5, 5]);
    expect((await admin.alterTopicConfig('adm', { retentionMs: 1_000 })).retentionMs).toBe(1_000);
    expect(await admin.alterTopicConfig('adm', { retentionMs: null, segmentBytes: 4_096 })).toMatchObject({ retentionMs: null, segmentBytes: 4_096 }); // null: keep forever
    await expect(admin.alterTopicConfig('adm', { segmentBytes: null as unknown as number })).rejects.toMatchObject({ code: 'INVALID_CONFIG', details: { key: 'segmentBytes' } });
    expect(await admin.resetTopicConfig('adm', ['retentionMs', 'segmentBytes'])).toMatchObject({ retentionMs: 1_209_600_000, segmentBytes: 134_217_728 });
    expect((await admin.resetTopicConfig('adm', 'retentionBytes')).retentionBytes).toBeNull();
    expect((await admin.describeTopic('adm')).config.retentionMs).toBe(1_209_600_000);
    await expect(admin.resetTopicConfig('adm', 'nope' as 'retentionMs')).rejects.toMatchObject({ code: 'INVALID_CONFIG', details: { key: 'nope' } });
    await expect(admin.resetTopicConfig('missing', ['retentionMs'])).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    expect(await admin.listOffset('adm', 0, 'latest')).toEqual({ offset: 5, timestamp: null });
    await admin.commitOffsets('ops', [{ topic: 'adm', partition: 0, offset: 2 }]);
    expect((await admin.listGroups()).map((g) => g.group)).toEqual(['ops']);
    expect((await admin.groupOffsets('ops')).map((o) => [o.offset, o.lag])).toEqual([[2, 3]]);
    expect((await admin.resetGroupOffsets('ops', 'adm', 'latest')).map((o) => o.offset)).toEqual([5, 5]);
    await admin.deleteGroup('ops');
    await expect(admin.describeGroup('ops')).rejects.toMatchObject({ code: 'UNKNOWN_GROUP', retriable: false });
    await expect(admin.createTopic({ name: 'adm' })).rejects.toMatchObject({ code: 'TOPIC_ALREADY_EXISTS' });
    expect(await admin.runRetention()).toEqual({ deletedSegments: 0, freedBytes: 0 });
    await admin.deleteTopic('adm');
    await expect(admin.describeTopic('adm')).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC', details: { status: 404 } });
  });

  it('reads 1,000 partitions over a handful of connections, with one long poll for all of them', { timeout: 60_000 }, async () => {
    const { b } = await setup('wide', 1_000, 1_000);
    let connections = 0;
    b.app.server.on('connection', () => connections++);
    const consumer = track(new Consumer({ broker: b.url!, topics: ['wide'], autoOffsetReset: 'earliest', maxWaitMs: 2_000 }));
    const records = await pollFor(consumer, 1_000);
    expect(new Set(records.map((r) => r.partition)).size).toBe(1_000);
    // Idle now: one long poll covers every partition, and a record anywhere wakes it.
    await waitFor(() => b.services.fetches.waitingFetches === 1, 5_000, 'one long poll');
    const producer = track(new Producer({ broker: b.url!, lingerMs: 0 }));
    await producer.send({ topic: 'wide', partition: 777, value: 'late' });
    const [late] = await pollFor(consumer, 1);
    expect(late).toMatchObject({ partition: 777, offset: 1 });
    expect(connections).toBeLessThanOrEqual(4 + 1 + 1); // the consumer's pool, the test's producer, setup's admin reuse
  });
});
