/**
 * One idempotence scheme: the JSON route's per-request sequences are mapped onto Kafka's per-partition
 * sequences (request-tag.ts). What lands on disk is checked batch by batch against Kafka's rules, for the JSON
 * and the binary route sharing one producer id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { consumerRecordsOf } from '../../src/client/records.js';
import { encodeBatch } from '../../src/log/record-batch.js';
import { REQUEST_SEQUENCE_HEADER, requestProducerId } from '../../src/log/request-tag.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { batchesOnDisk, replaySequences } from '../helpers/disk-batches.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const BATCH_TYPE = 'application/vnd.sluice.record-batch';

function call(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const binary = Buffer.isBuffer(body);
  return broker!.app.inject({
    method,
    url,
    headers: { ...(body === undefined ? {} : { 'content-type': binary ? BATCH_TYPE : 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: binary ? body : JSON.stringify(body) }),
  });
}

async function jsonRecords(topic: string, partition: number) {
  const reply = await call('GET', `/topics/${topic}/partitions/${partition}/records?offset=0`);
  return reply.json().records as { offset: number; value: string; headers: Record<string, string | null> }[];
}

describe('the JSON and binary routes on one producer id', () => {
  for (const compression of ['none', 'lz4'] as const) {
    it(`both routes' batches follow Kafka's per-partition sequences on disk; the tag is the request sequence and consumers never see it (${compression})`, async () => {
      const dataDir = tempDir();
      broker = await startTestBroker(dataDir);
      expect((await call('POST', '/topics', { name: 'mix', partitions: 2, config: { compression } })).statusCode).toBe(201);
      const { producerId } = (await call('POST', '/producers', { name: 'both-routes' })).json();
      const json = (sequence: number, records: object[]) => call('POST', '/topics/mix/records', { producer: { id: producerId, epoch: 0, sequence }, records });
      const binary = (baseSequence: number, values: string[]) =>
        call('POST', '/topics/mix/partitions/0/batches', encodeBatch({ records: values.map((v) => ({ value: v })), producerId, producerEpoch: 0, baseSequence, compression }));

      const replies = [];
      replies.push((await json(0, [{ value: 'j0-a', partition: 0, headers: { mine: 'kept' } }, { value: 'j0-b', partition: 1 }])).json());
      expect((await binary(0, ['b0', 'b1'])).json()).toEqual({ batches: [{ baseOffset: 1, lastOffset: 2 }] });
      replies.push((await json(1, [{ value: 'j1-a', partition: 0 }, { value: 'j1-b', partition: 0 }, { value: 'j1-c', partition: 0 }])).json());
      expect((await binary(2, ['b2'])).json()).toEqual({ batches: [{ baseOffset: 6, lastOffset: 6 }] });
      replies.push((await json(2, [{ value: 'j2-a', partition: 1 }])).json());
      replies.push((await json(3, [{ value: 'j3-a', partition: 0 }, { value: 'j3-b', partition: 1 }])).json());
      // Retries on both routes are duplicates with the original offsets; nothing is written twice.
      expect((await json(3, [{ value: 'j3-a', partition: 0 }, { value: 'j3-b', partition: 1 }])).json()).toEqual({ offsets: replies[3].offsets, duplicate: true });
      expect((await json(1, [{ value: 'j1-a', partition: 0 }, { value: 'j1-b', partition: 0 }, { value: 'j1-c', partition: 0 }])).json()).toEqual({ offsets: replies[1].offsets, duplicate: true });
      expect((await binary(2, ['b2'])).json()).toEqual({ batches: [{ baseOffset: 6, lastOffset: 6, duplicate: true }] });
      expect((await binary(3, ['b3'])).json()).toEqual({ batches: [{ baseOffset: 8, lastOffset: 8 }] });
      expect((await json(5, [{ value: 'gap', partition: 0 }])).json().error.code).toBe('OUT_OF_ORDER_SEQUENCE');
      expect((await binary(5, ['gap'])).json().error.code).toBe('OUT_OF_ORDER_SEQUENCE');

      const runs0 = replaySequences(batchesOnDisk(dataDir, 'mix', 0));
      expect(runs0).toEqual([
        { producerId: requestProducerId(producerId), producerEpoch: 0, baseSequences: [0, 1, 4], requestSequences: [0, 1, 3] },
        { producerId, producerEpoch: 0, baseSequences: [0, 2, 3], requestSequences: [null, null, null] },
      ]);
      const runs1 = replaySequences(batchesOnDisk(dataDir, 'mix', 1));
      expect(runs1).toEqual([{ producerId: requestProducerId(producerId), producerEpoch: 0, baseSequences: [0, 1, 2], requestSequences: [0, 2, 3] }]);

      // No offset goes to bookkeeping, and the tag is not handed to consumers (JSON fetch, the client).
      const p0 = await jsonRecords('mix', 0);
      expect(p0.map((r) => r.value)).toEqual(['j0-a', 'b0', 'b1', 'j1-a', 'j1-b', 'j1-c', 'b2', 'j3-a', 'b3']);
      expect(p0.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect(p0[0]!.headers).toEqual({ mine: 'kept' });
      expect(p0.every((r) => !(REQUEST_SEQUENCE_HEADER in r.headers))).toBe(true);
      const raw = await call('GET', '/topics/mix/partitions/0/records?offset=0', undefined, { accept: BATCH_TYPE });
      const consumed = consumerRecordsOf(raw.rawPayload, 'mix', 0, 0);
      expect(consumed.map((r) => r.headerList)).toEqual(p0.map((r) => Object.entries(r.headers).map(([key, value]) => ({ key, value: Buffer.from(value!) }))));
      // ...while the stored first record carries it, first among its headers
      const stored = batchesOnDisk(dataDir, 'mix', 0)[0]!.records[0]!.headers;
      expect(stored.map((h) => [h.key, h.value?.toString()])).toEqual([[REQUEST_SEQUENCE_HEADER, '0'], ['mine', 'kept']]);
    });
  }

  it('request producer ids are the broker’s: a binary batch naming one is refused, nothing written', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'own' });
    const { producerId } = (await call('POST', '/producers', {})).json();
    const forged = encodeBatch({ records: [{ value: 'x' }], producerId: requestProducerId(producerId), producerEpoch: 0, baseSequence: 0 });
    const reply = await call('POST', '/topics/own/partitions/0/batches', forged);
    expect({ status: reply.statusCode, code: reply.json().error.code }).toEqual({ status: 409, code: 'UNKNOWN_PRODUCER_ID' });
    expect(broker.services.logs.get({ topic: 'own', partition: 0 })!.logEndOffset).toBe(0);
  });

  it('after a leader change the new leader answers retries from the batches it copied as a follower', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'lc' });
    const { producerId } = (await call('POST', '/producers', { name: 'moving' })).json();
    const request = (sequence: number) => ({ producer: { id: producerId, epoch: 0, sequence }, records: [{ value: `v${sequence}` }, { value: `w${sequence}` }] });
    const originals = [];
    for (let s = 0; s < 3; s++) originals.push((await call('POST', '/topics/lc/records', request(s))).json());
    const source = broker.services.logs.get({ topic: 'lc', partition: 0 })!;
    const { bytes } = await source.read(0, { maxBytes: 1 << 20, maxOffset: source.logEndOffset });
    await broker.close();

    // The new leader: its sessions exist already (another producer's request built them), the partition's
    // batches arrive by follower append (offsets, epochs, tags as the old leader wrote them).
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'lc' });
    await call('POST', '/topics', { name: 'other' });
    expect((await call('POST', '/producers', { name: 'moving' })).json().producerId).toBe(producerId);
    const other = (await call('POST', '/producers', {})).json();
    expect((await call('POST', '/topics/other/records', { producer: { id: other.producerId, epoch: 0, sequence: 0 }, records: [{ value: 'x' }] })).statusCode).toBe(200);
    await broker.services.logs.get({ topic: 'lc', partition: 0 })!.appendAsFollower(Buffer.from(bytes));
    broker.services.replicas.becameLeader(broker.services.topics.partition('lc', 0));

    expect((await call('POST', '/topics/lc/records', request(2))).json()).toEqual({ offsets: originals[2].offsets, duplicate: true });
    expect((await call('POST', '/topics/lc/records', request(4))).json().error).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE', expectedSequence: 3 });
    expect((await call('POST', '/topics/lc/records', request(3))).json()).toEqual({ offsets: [expect.objectContaining({ offset: 6 }), expect.objectContaining({ offset: 7 })] });
  });

  it('a new epoch starts every partition at sequence 0 again, on both routes', async () => {
    const dataDir = tempDir();
    broker = await startTestBroker(dataDir);
    await call('POST', '/topics', { name: 'ep' });
    const { producerId } = (await call('POST', '/producers', { name: 'bumped' })).json();
    for (let s = 0; s < 3; s++) expect((await call('POST', '/topics/ep/records', { producer: { id: producerId, epoch: 0, sequence: s }, records: [{ value: `e0-${s}` }] })).statusCode).toBe(200);
    expect((await call('POST', '/producers', { name: 'bumped' })).json().producerEpoch).toBe(1);
    expect((await call('POST', '/topics/ep/records', { producer: { id: producerId, epoch: 0, sequence: 3 }, records: [{ value: 'fenced' }] })).json().error.code).toBe('INVALID_PRODUCER_EPOCH');
    expect((await call('POST', '/topics/ep/records', { producer: { id: producerId, epoch: 1, sequence: 0 }, records: [{ value: 'e1-0' }, { value: 'e1-0b' }] })).statusCode).toBe(200);
    expect((await call('POST', '/topics/ep/records', { producer: { id: producerId, epoch: 1, sequence: 1 }, records: [{ value: 'e1-1' }] })).statusCode).toBe(200);
    const runs = replaySequences(batchesOnDisk(dataDir, 'ep', 0));
    expect(runs.map((r) => [r.producerEpoch, r.baseSequences, r.requestSequences])).toEqual([
      [0, [0, 1, 2], [0, 1, 2]],
      [1, [0, 2], [0, 1]],
    ]);
  });
});
