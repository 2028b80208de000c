/**
 * Share groups over the HTTP API (app.inject) with a manual clock: leases, visibility timeouts, acks,
 * delivery counts, the dead-letter topic, receipts, bad bodies, describe/list/delete, and acks surviving a
 * restart of the in-process broker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { encodeReceipt } from '../../src/share-groups/receipts.js';
import { decodeShareFrames } from '../../src/common/share-frames.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

type Rec = { topic: string; partition: number; offset: number; key: string | null; value: string; headers: Record<string, string>; deliveryCount: number; receipt: string };

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<{ statusCode: number; json(): any }> {
  return broker!.app.inject({ method, url, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }) });
}

async function setup(options: { clock?: ManualClock; dataDir?: string; partitions?: number; records?: number; overrides?: Record<string, unknown> } = {}) {
  broker = await startTestBroker(options.dataDir ?? tempDir(), { ...(options.clock ? { clock: options.clock } : {}), overrides: options.overrides ?? {} });
  if ((await call('GET', '/topics/jobs')).statusCode === 404) {
    const partitions = options.partitions ?? 2;
    await call('POST', '/topics', { name: 'jobs', partitions });
    await call('POST', '/topics', { name: 'jobs-dlq', partitions: 1 });
    const n = options.records ?? 10;
    const records = Array.from({ length: n }, (_, i) => ({ value: `job-${i}`, partition: i % partitions, headers: { trace: `t${i}` } }));
    if (n > 0) expect((await call('POST', '/topics/jobs/records', { records })).statusCode).toBe(200);
  }
}

const receive = async (body: Record<string, unknown> = {}, group = 'workers'): Promise<Rec[]> => {
  const r = await call('POST', `/share-groups/${group}/receive`, { topics: ['jobs'], maxRecords: 100, ...body });
  expect(r.statusCode, JSON.stringify(r.json())).toBe(200);
  return r.json().records;
};
const ack = async (acks: { receipt: string; type: string }[], group = 'workers') => {
  const r = await call('POST', `/share-groups/${group}/acks`, { acks });
  expect(r.statusCode, JSON.stringify(r.json())).toBe(200);
  return r.json().results as { receipt: string; ok?: true; error?: { code: string } }[];
};
const configure = async (body: Record<string, unknown>, group = 'workers') => {
  const r = await call('PUT', `/share-groups/${group}`, body);
  expect(r.statusCode, JSON.stringify(r.json())).toBe(200);
  return r.json();
};

describe('share groups', () => {
  it('leases each record to one receiver; an unacked record comes back after the visibility timeout with deliveryCount 2', async () => {
    const clock = new ManualClock();
    await setup({ clock });
    await configure({ startFrom: 'earliest', visibilityTimeoutMs: 1_000 });
    const first = await receive({ maxRecords: 6 });
    expect(first).toHaveLength(6);
    const second = await receive();
    expect(second).toHaveLength(4);
    const offsets = [...first, ...second].map((r) => `${r.partition}/${r.offset}`);
    expect(new Set(offsets).size).toBe(10);
    expect([...first, ...second].every((r) => r.deliveryCount === 1)).toBe(true);
    expect(first[0]!.headers.trace).toMatch(/^t\d+$/);
    expect(await receive()).toHaveLength(0);
    await ack(second.map((r) => ({ receipt: r.receipt, type: 'accept' })));
    clock.advance(999);
    expect(await receive()).toHaveLength(0);
    clock.advance(1);
    const again = await receive();
    expect(again.map((r) => `${r.partition}/${r.offset}`).sort()).toEqual(first.map((r) => `${r.partition}/${r.offset}`).sort());
    expect(again.every((r) => r.deliveryCount === 2)).toBe(true);
    // The first receipts' leases are over: RECEIPT_EXPIRED per item, the live ones apply.
    const results = await ack([...first.slice(0, 2), ...again.slice(0, 1)].map((r) => ({ receipt: r.receipt, type: 'accept' })));
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['RECEIPT_EXPIRED', 'RECEIPT_EXPIRED', 'ok']);
    const d = (await call('GET', '/share-groups/workers')).json();
    expect(d.partitions.reduce((s: number, p: any) => s + p.acquired, 0)).toBe(5);
    expect(d.partitions.reduce((s: number, p: any) => s + p.lag, 0)).toBe(5);
  });

  it('release makes a record available at once; extend keeps a lease past its timeout', async () => {
    const clock = new ManualClock();
    await setup({ clock, partitions: 1 });
    await configure({ startFrom: 'earliest', visibilityTimeoutMs: 1_000 });
    const got = await receive({ maxRecords: 2 });
    const results = await ack([{ receipt: got[0]!.receipt, type: 'release' }]);
    expect(results[0]!.ok).toBe(true);
    const extended = await call('POST', '/share-groups/workers/visibility', { receipts: [got[1]!.receipt, got[0]!.receipt], visibilityTimeoutMs: 5_000 });
    expect(extended.json().results.map((r: any) => r.error?.code ?? 'ok')).toEqual(['ok', 'RECEIPT_EXPIRED']);
    const next = await receive({ maxRecords: 1 });
    expect(next[0]!.offset).toBe(got[0]!.offset);
    expect(next[0]!.partition).toBe(got[0]!.partition);
    expect(next[0]!.deliveryCount).toBe(2);
    clock.advance(2_000);
    expect((await ack([{ receipt: got[1]!.receipt, type: 'accept' }]))[0]!.ok).toBe(true);
  });

  it('reject and maxDeliveryCount send the record to the dead-letter topic with its headers; it is not delivered again', async () => {
    const clock = new ManualClock();
    await setup({ clock, partitions: 1, records: 2 });
    await configure({ startFrom: 'earliest', visibilityTimeoutMs: 100, maxDeliveryCount: 2, deadLetterTopic: 'jobs-dlq' });
    const [a, b] = await receive();
    expect((await ack([{ receipt: a!.receipt, type: 'reject' }]))[0]!.ok).toBe(true);
    clock.advance(100);
    const [b2] = await receive();
    expect(b2!.offset).toBe(b!.offset);
    expect(b2!.deliveryCount).toBe(2);
    clock.advance(100);
    expect(await receive()).toHaveLength(0);
    await waitForDlq(2);
    const dlq = (await call('GET', '/topics/jobs-dlq/partitions/0/records?offset=earliest')).json().records;
    expect(dlq.map((r: any) => [r.value, r.headers['sluice-dlq-reason'], r.headers['sluice-dlq-delivery-count'], r.headers['sluice-dlq-offset']])).toEqual([
      ['job-0', 'rejected', '1', '0'],
      ['job-1', 'max-deliveries', '2', '1'],
    ]);
    expect(dlq[0].headers).toMatchObject({ trace: 't0', 'sluice-dlq-topic': 'jobs', 'sluice-dlq-partition': '0' });
    const d = (await call('GET', '/share-groups/workers')).json();
    expect(d.partitions[0]).toMatchObject({ startOffset: 2, acquired: 0, available: 0, lag: 0 });
    const metrics = (await broker!.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^sluice_share_records_delivered_total 3$/m);
    expect(metrics).toMatch(/^sluice_share_records_rejected_total 1$/m);
    expect(metrics).toMatch(/^sluice_share_records_dead_lettered_total 2$/m);
    expect(metrics).toMatch(/^sluice_share_records_max_deliveries_total 1$/m);
    expect(metrics).toMatch(/^sluice_share_group_lag\{group="workers",topic="jobs",partition="0"\} 0$/m);
  });

  it('receipts: forged, altered, from another group, acked twice', async () => {
    await setup();
    await configure({ startFrom: 'earliest' });
    await configure({ startFrom: 'earliest' }, 'others');
    const [mine] = await receive({ maxRecords: 1 });
    const [theirs] = await receive({ maxRecords: 1 }, 'others');
    const forged = encodeReceipt('00'.repeat(32), 'workers', { topic: 'jobs', partition: mine!.partition, offset: mine!.offset, incarnation: 1, leaseId: 1 });
    const altered = mine!.receipt.slice(0, -1) + (mine!.receipt.endsWith('A') ? 'B' : 'A');
    const results = await ack([
      { receipt: 'nonsense', type: 'accept' },
      { receipt: forged, type: 'accept' },
      { receipt: altered, type: 'accept' },
      { receipt: theirs!.receipt, type: 'accept' },
      { receipt: mine!.receipt, type: 'accept' },
      { receipt: mine!.receipt, type: 'accept' },
    ]);
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['INVALID_RECEIPT', 'INVALID_RECEIPT', 'INVALID_RECEIPT', 'INVALID_RECEIPT', 'ok', 'RECEIPT_EXPIRED']);
    // The other group's lease is untouched.
    expect((await ack([{ receipt: theirs!.receipt, type: 'accept' }], 'others'))[0]!.ok).toBe(true);
  });

  it('bad bodies are 400 and change nothing; unknown topics are 404', async () => {
    await setup();
    await configure({ startFrom: 'earliest', visibilityTimeoutMs: 1_000 });
    const [r] = await receive({ maxRecords: 1 });
    const bad: [string, string, unknown][] = [
      ['PUT', '/share-groups/workers', { visibilityTimeoutMs: 99 }],
      ['PUT', '/share-groups/workers', { maxDeliveryCount: 0 }],
      ['PUT', '/share-groups/workers', { startFrom: 'middle' }],
      ['PUT', '/share-groups/bad%20name', {}],
      ['POST', '/share-groups/workers/receive', { topics: [] }],
      ['POST', '/share-groups/workers/receive', { topics: ['jobs'], maxRecords: 10_001 }],
      ['POST', '/share-groups/workers/acks', { acks: [{ receipt: r!.receipt, type: 'accept' }, { receipt: r!.receipt, type: 'maybe' }] }],
      ['POST', '/share-groups/workers/acks', { acks: [{ receipt: r!.receipt, type: 'accept' }, { receipt: 5, type: 'accept' }] }],
      ['POST', '/share-groups/workers/visibility', { receipts: [r!.receipt], visibilityTimeoutMs: 43_200_001 }],
    ];
    for (const [method, url, body] of bad) {
      const response = await call(method as 'POST', url, body);
      expect(response.statusCode, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
      expect(response.json().error.code).toBe('INVALID_REQUEST');
    }
    expect((await call('PUT', '/share-groups/workers', { deadLetterTopic: 'nope' })).statusCode).toBe(404);
    expect((await call('POST', '/share-groups/workers/receive', { topics: ['nope'] })).json().error.code).toBe('UNKNOWN_TOPIC');
    expect((await call('GET', '/share-groups/workers')).json().config).toMatchObject({ visibilityTimeoutMs: 1_000, maxDeliveryCount: 5, deadLetterTopic: null });
    // The lease is still live: nothing was accepted by the refused bodies.
    expect((await ack([{ receipt: r!.receipt, type: 'accept' }]))[0]!.ok).toBe(true);
  });

  it('list, describe and delete; a deleted group\'s receipts are over and a receive creates it again', async () => {
    await setup();
    const [r] = await receive({ maxRecords: 1 }); // startFrom latest by default: nothing yet
    expect(r).toBeUndefined();
    expect((await call('GET', '/share-groups')).json()).toEqual({ groups: [{ group: 'workers', topics: ['jobs'] }] });
    await call('POST', '/topics/jobs/records', { records: [{ value: 'new', partition: 1 }] });
    const [fresh] = await receive();
    expect(fresh!.value).toBe('new');
    const d = (await call('GET', '/share-groups/workers')).json();
    expect(d.partitions).toEqual([
      { topic: 'jobs', partition: 0, startOffset: 5, acquired: 0, available: 0, lag: 0 },
      { topic: 'jobs', partition: 1, startOffset: 5, acquired: 1, available: 0, lag: 1 },
    ]);
    expect((await call('DELETE', '/share-groups/workers')).statusCode).toBe(204);
    expect((await call('GET', '/share-groups/workers')).statusCode).toBe(404);
    expect((await call('DELETE', '/share-groups/workers')).statusCode).toBe(404);
    expect((await ack([{ receipt: fresh!.receipt, type: 'accept' }]))[0]!.error?.code).toMatch(/INVALID_RECEIPT|RECEIPT_EXPIRED/);
    await configure({ startFrom: 'earliest' });
    expect(await receive()).toHaveLength(11);
  });

  it('long polls wake when records arrive and when a lease ends', async () => {
    const clock = new ManualClock();
    await setup({ clock, records: 0 });
    await configure({ visibilityTimeoutMs: 500 });
    const waiting = call('POST', '/share-groups/workers/receive', { topics: ['jobs'], maxWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    await call('POST', '/topics/jobs/records', { records: [{ value: 'x', partition: 1 }] });
    const got = (await waiting).json().records;
    expect(got.map((r: Rec) => r.value)).toEqual(['x']);
    const again = call('POST', '/share-groups/workers/receive', { topics: ['jobs'], maxWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(500);
    expect((await again).json().records.map((r: Rec) => [r.value, r.deliveryCount])).toEqual([['x', 2]]);
    const timesOut = call('POST', '/share-groups/workers/receive', { topics: ['jobs'], maxWaitMs: 100 });
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(100);
    expect((await timesOut).json().records).toEqual([]);
  });

  it('acks are durable: after a restart nothing accepted or rejected comes back and everything else does, with a new lease', async () => {
    const dataDir = tempDir();
    await setup({ dataDir, records: 20 });
    await configure({ startFrom: 'earliest' });
    const got = await receive({ maxRecords: 12 });
    await ack(got.slice(0, 8).map((r) => ({ receipt: r.receipt, type: r.offset % 3 === 0 ? 'reject' : 'accept' })));
    await broker!.close();
    broker = null;
    await setup({ dataDir });
    const done = new Set(got.slice(0, 8).map((r) => `${r.partition}/${r.offset}`));
    const after = await receive();
    expect(after).toHaveLength(12);
    expect(after.filter((r) => done.has(`${r.partition}/${r.offset}`))).toEqual([]);
    expect((await ack([{ receipt: got[9]!.receipt, type: 'accept' }]))[0]!.error?.code).toBe('RECEIPT_EXPIRED');
  });

  it('a topic deleted and created again starts its share-partitions over', async () => {
    await setup({ partitions: 1, records: 5 });
    await configure({ startFrom: 'earliest' });
    const first = await receive();
    await ack(first.map((r) => ({ receipt: r.receipt, type: 'accept' })));
    expect((await call('DELETE', '/topics/jobs')).statusCode).toBe(204);
    await call('POST', '/topics', { name: 'jobs', partitions: 1 });
    await call('POST', '/topics/jobs/records', { records: [{ value: 'again-0' }, { value: 'again-1' }] });
    expect((await receive()).map((r) => [r.offset, r.value])).toEqual([
      [0, 'again-0'],
      [1, 'again-1'],
    ]);
  });

  it('the share-state log stays bounded by snapshots, and the state read back from it is the same', async () => {
    const dataDir = tempDir();
    await setup({ dataDir, partitions: 1, records: 300, overrides: { shareStateTopicPartitions: 1 } });
    await broker!.services.topics.alterConfig('__share_group_state', { segmentBytes: 1_024 });
    await configure({ startFrom: 'earliest', visibilityTimeoutMs: 60_000 });
    const got = await receive({ maxRecords: 300 });
    // Accept one at a time, out of order, leaving every tenth leased: many small writes.
    for (const r of got.filter((r) => r.offset % 10 !== 0).reverse()) await ack([{ receipt: r.receipt, type: 'accept' }]);
    const state = broker!.services.topics.partition('__share_group_state', 0);
    expect(state.segmentCount).toBeLessThanOrEqual(10);
    expect(state.logStartOffset).toBeGreaterThan(0);
    await broker!.close();
    broker = null;
    await setup({ dataDir, overrides: { shareStateTopicPartitions: 1 } });
    const again = await receive({ maxRecords: 300 });
    expect(again.map((r) => r.offset)).toEqual(got.filter((r) => r.offset % 10 === 0).map((r) => r.offset));
  });

  it('the binary reply carries the same leases as record batches, runs of offsets with gaps between them', async () => {
    await setup({ partitions: 1, records: 10 });
    await configure({ startFrom: 'earliest' });
    const taken = await receive({ maxRecords: 10 });
    await ack(taken.filter((r) => r.offset % 3 === 1).map((r) => ({ receipt: r.receipt, type: 'release' })));
    const response = await broker!.app.inject({
      method: 'POST',
      url: '/share-groups/workers/receive',
      headers: { 'content-type': 'application/json', accept: 'application/vnd.sluice.record-batch' },
      payload: JSON.stringify({ topics: ['jobs'] }),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/vnd.sluice.record-batch');
    const leased = decodeShareFrames(response.rawPayload);
    expect(leased.map((l) => [l.record.offset, l.record.value!.toString(), l.deliveryCount, l.record.headers[0]?.key])).toEqual([
      [1, 'job-1', 2, 'trace'],
      [4, 'job-4', 2, 'trace'],
      [7, 'job-7', 2, 'trace'],
    ]);
    expect((await ack(leased.map((l) => ({ receipt: l.receipt, type: 'accept' })))).every((r) => r.ok)).toBe(true);
  });

  it('holds at most maxInFlightPerPartition records of a partition in flight', async () => {
    await setup({ partitions: 1, records: 30, overrides: { maxInFlightPerPartition: 8 } });
    await configure({ startFrom: 'earliest' });
    const first = await receive();
    expect(first.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await receive()).toHaveLength(0);
    await ack(first.slice(1).map((r) => ({ receipt: r.receipt, type: 'accept' })));
    expect(await receive()).toHaveLength(0); // offset 0 still leased: the window cannot move
    await ack([{ receipt: first[0]!.receipt, type: 'accept' }]);
    expect((await receive()).map((r) => r.offset)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  });
});

async function waitForDlq(n: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await call('GET', '/topics/jobs-dlq')).json().partitions[0].highWatermark < n) {
    if (Date.now() > deadline) throw new Error('dead-letter topic not written');
    await new Promise((r) => setTimeout(r, 5));
  }
}
