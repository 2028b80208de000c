/**
 * The JSON route's request sequences survive a kill -9 of the real broker process: they are read back from
 * the batches themselves (request-tag.ts), from segments with and without a producer snapshot after them,
 * compressed or not. The binary route on the same producer id carries on unaffected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/log/record-batch.js';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { batchesOnDisk, replaySequences } from '../helpers/disk-batches.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const running: BrokerProcess[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop('SIGKILL');
});

async function launch(dataDir: string, port: number): Promise<BrokerProcess> {
  const broker = new BrokerProcess(dataDir, port);
  running.push(broker);
  await broker.start();
  return broker;
}

async function postBatch(url: string, batch: Buffer): Promise<{ status: number; json: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/vnd.sluice.record-batch' }, body: batch });
  return { status: response.status, json: await response.json() };
}

const PARTITIONS = 3;
const REQUESTS = 40;

describe('JSON idempotence across kill -9', () => {
  it('a retry of the last and of an earlier request is a duplicate with the original offsets, a gap is refused, the next request appends', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let broker = await launch(dataDir, port);
    // Small segments: rolls (and the producer snapshots they write) happen along the way, so after the
    // crash some request sequences come from snapshots and the newest from the batches after them.
    await postJson(`${broker.url}/topics`, { name: 'crash', partitions: PARTITIONS, config: { segmentBytes: 1024, compression: 'lz4' } });
    const { json: producer } = await postJson(`${broker.url}/producers`, { name: 'crashing' });
    const stamp = (sequence: number) => ({ id: producer.producerId, epoch: producer.producerEpoch, sequence });
    const request = (sequence: number) => ({
      producer: stamp(sequence),
      records: [{ key: `k${sequence % 5}`, value: `keyed-${sequence}` }, { value: `loose-${sequence}` }, { value: `p2-${sequence}`, partition: 2 }],
    });
    const binary = (baseSequence: number) =>
      postBatch(`${broker.url}/topics/crash/partitions/0/batches`, encodeBatch({ records: [{ value: `bin-${baseSequence}` }], producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence }));

    const originals: { offsets: unknown[] }[] = [];
    for (let s = 0; s < REQUESTS; s++) {
      const reply = await postJson(`${broker.url}/topics/crash/records`, request(s));
      expect(reply.status).toBe(200);
      originals.push(reply.json);
      if (s % 10 === 0) { const b = await binary(s / 10); expect(b.status, JSON.stringify(b.json)).toBe(200); }
    }
    await broker.stop('SIGKILL');
    broker = await launch(dataDir, port);

    const last = REQUESTS - 1;
    expect(await postJson(`${broker.url}/topics/crash/records`, request(last))).toEqual({ status: 200, json: { offsets: originals[last]!.offsets, duplicate: true } });
    expect(await postJson(`${broker.url}/topics/crash/records`, request(last - 1))).toEqual({ status: 200, json: { offsets: originals[last - 1]!.offsets, duplicate: true } });
    const gap = await postJson(`${broker.url}/topics/crash/records`, request(last + 2));
    expect({ status: gap.status, code: gap.json.error.code, expected: gap.json.error.expectedSequence }).toEqual({ status: 409, code: 'OUT_OF_ORDER_SEQUENCE', expected: last + 1 });
    const next = await postJson(`${broker.url}/topics/crash/records`, request(last + 1));
    expect(next.status).toBe(200);
    expect(next.json.duplicate).toBeUndefined();
    // The binary producer on the same id: its sequences went on where they were, its retry is a duplicate.
    expect((await binary(4)).json).toEqual({ batches: [{ baseOffset: expect.any(Number), lastOffset: expect.any(Number) }] });
    expect((await binary(4)).json.batches[0].duplicate).toBe(true);
    expect((await binary(3)).json.batches[0].duplicate).toBe(true);
    expect((await binary(6)).json.error.code).toBe('OUT_OF_ORDER_SEQUENCE');

    // Every record once, and every partition's batches pass Kafka's sequence rules in log order.
    await broker.stop('SIGKILL');
    let records = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const batches = batchesOnDisk(dataDir, 'crash', p);
      records += batches.reduce((n, b) => n + b.records.length, 0);
      for (const run of replaySequences(batches)) {
        const tags = run.requestSequences.filter((t) => t !== null);
        expect(tags).toEqual([...tags].sort((a, b) => a - b));
        expect(new Set(tags).size).toBe(tags.length);
      }
    }
    expect(records).toBe((REQUESTS + 1) * 3 + 5);
  }, 60_000);
});
