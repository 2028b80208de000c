/** `POST /fetch`: many partitions in one request and one long poll, JSON and binary frames. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeFetchFrames } from '../../src/common/fetch-frames.js';
import { decodeRecords } from '../../src/log/batch-decoder.js';
import { batchSize, readBatchHeader } from '../../src/log/record-batch.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker;
beforeEach(async () => {
  broker = await startTestBroker(tempDir());
});
afterEach(async () => {
  await broker.close();
});

async function call(method: 'GET' | 'POST', url: string, payload?: object, headers: Record<string, string> = {}) {
  const r = await broker.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  return { status: r.statusCode, json: String(r.headers['content-type'] ?? '').startsWith('application/json') ? r.json() : null, raw: r.rawPayload };
}

async function produce(topic: string, partition: number, values: string[]): Promise<void> {
  const r = await call('POST', `/topics/${topic}/records`, { records: values.map((value) => ({ value, partition })) });
  expect(r.status).toBe(200);
}

/** Values of the records in stored batches at or after `from`. */
function valuesOf(batches: Buffer, from: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < batches.length; ) {
    const header = readBatchHeader(batches, at);
    for (const r of decodeRecords(batches.subarray(at, at + batchSize(header)), header)) if (r.offset >= from) out.push(r.value!.toString());
    at += batchSize(header);
  }
  return out;
}

describe('POST /fetch', () => {
  it('answers many partitions at once, with per-partition errors in place', async () => {
    await call('POST', '/topics', { name: 'a', partitions: 2 });
    await call('POST', '/topics', { name: 'b', partitions: 1 });
    await produce('a', 0, ['a0-0', 'a0-1', 'a0-2']);
    await produce('a', 1, ['a1-0']);
    await produce('b', 0, ['b0-0', 'b0-1']);
    const r = await call('POST', '/fetch', {
      partitions: [
        { topic: 'a', partition: 0, offset: 1 },
        { topic: 'nope', partition: 0, offset: 0 },
        { topic: 'a', partition: 1, offset: 0 },
        { topic: 'b', partition: 0, offset: 5 },
        { topic: 'a', partition: 7, offset: 0 },
      ],
    });
    expect(r.status).toBe(200);
    const [a0, nope, a1, b0, a7] = r.json.partitions;
    expect(a0).toMatchObject({ topic: 'a', partition: 0, nextOffset: 3, highWatermark: 3, logStartOffset: 0 });
    expect(a0.records.map((x: { offset: number; value: string }) => [x.offset, x.value])).toEqual([
      [1, 'a0-1'],
      [2, 'a0-2'],
    ]);
    expect(nope).toMatchObject({ topic: 'nope', partition: 0, error: { code: 'UNKNOWN_TOPIC', retriable: false } });
    expect(a1.records.map((x: { value: string }) => x.value)).toEqual(['a1-0']);
    expect(b0.error).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', highWatermark: 2 });
    expect(a7.error.code).toBe('UNKNOWN_PARTITION');
  });

  it('refuses a malformed request whole', async () => {
    await call('POST', '/topics', { name: 'a', partitions: 1 });
    const bad = [
      { partitions: [] },
      { partitions: [{ topic: 'a', partition: 0 }] },
      { partitions: [{ topic: 'a', partition: 0, offset: -1 }] },
      { partitions: [{ topic: '../x', partition: 0, offset: 0 }] },
      { partitions: [{ topic: 'a', partition: 0, offset: 0 }], maxWaitMs: 10_000_000 },
      { partitions: [{ topic: 'a', partition: 0, offset: 0 }, { topic: 'a', partition: 0, offset: 3 }] },
      { partitions: [{ topic: 'a', partition: 0, offset: 0 }], extra: 1 },
    ];
    for (const body of bad) {
      const r = await call('POST', '/fetch', body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(['INVALID_REQUEST', 'INVALID_TOPIC_NAME']).toContain(r.json.error.code);
    }
  });

  it('long-polls all partitions and answers when any of them gets records', async () => {
    await call('POST', '/topics', { name: 'a', partitions: 3 });
    const started = Date.now();
    const pending = call('POST', '/fetch', {
      partitions: [0, 1, 2].map((partition) => ({ topic: 'a', partition, offset: 0 })),
      maxWaitMs: 20_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(broker.services.fetches.waitingFetches).toBe(1);
    await produce('a', 2, ['late']);
    const r = await pending;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.json.partitions.map((p: { records: unknown[] }) => p.records.length)).toEqual([0, 0, 1]);
    expect(broker.services.fetches.waitingFetches).toBe(0);
    // Nothing new anywhere and no wait: answered at once, empty.
    const empty = await call('POST', '/fetch', { partitions: [{ topic: 'a', partition: 2, offset: 1 }] });
    expect(empty.json.partitions[0]).toMatchObject({ records: [], nextOffset: 1, highWatermark: 1 });
  });

  it('binary frames carry the stored batches of each partition and errors in place', async () => {
    await call('POST', '/topics', { name: 'a', partitions: 2 });
    await produce('a', 0, ['x0', 'x1']);
    await produce('a', 0, ['x2']);
    await produce('a', 1, ['y0']);
    const r = await call(
      'POST',
      '/fetch',
      { partitions: [{ topic: 'a', partition: 0, offset: 1 }, { topic: 'a', partition: 1, offset: 0 }, { topic: 'zz', partition: 0, offset: 0 }] },
      { accept: 'application/vnd.sluice.record-batch' },
    );
    expect(r.status).toBe(200);
    const frames = decodeFetchFrames(r.raw);
    expect(frames.map((f) => [f.kind, f.topic, f.partition])).toEqual([
      ['records', 'a', 0],
      ['records', 'a', 1],
      ['error', 'zz', 0],
    ]);
    const [f0, f1, f2] = frames;
    if (f0?.kind !== 'records' || f1?.kind !== 'records' || f2?.kind !== 'error') throw new Error('kinds');
    expect(valuesOf(f0.batches, 1)).toEqual(['x1', 'x2']);
    expect(f0).toMatchObject({ highWatermark: 3, nextOffset: 3, logStartOffset: 0 });
    expect(valuesOf(f1.batches, 0)).toEqual(['y0']);
    expect(f2.error.code).toBe('UNKNOWN_TOPIC');
  });

  it('bounds the reply by maxBytes in total, always giving the first partition with data one batch', async () => {
    await call('POST', '/topics', { name: 'a', partitions: 3 });
    for (const p of [0, 1, 2]) await produce('a', p, ['v'.repeat(1_000)]);
    const fetchWith = async (maxBytes: number) =>
      decodeFetchFrames(
        (await call('POST', '/fetch', { partitions: [0, 1, 2].map((partition) => ({ topic: 'a', partition, offset: 0 })), maxBytes }, { accept: 'application/vnd.sluice.record-batch' })).raw,
      ).map((f) => (f.kind === 'records' ? f.batches.length > 0 : 'error'));
    expect(await fetchWith(10)).toEqual([true, false, false]);
    expect(await fetchWith(2_500)).toEqual([true, true, false]);
    expect(await fetchWith(1_000_000)).toEqual([true, true, true]);
  });

  it('serves 1,000 partitions in one request', async () => {
    await call('POST', '/topics', { name: 'wide', partitions: 1_000 });
    const records = Array.from({ length: 1_000 }, (_, partition) => ({ value: `p${partition}`, partition }));
    expect((await call('POST', '/topics/wide/records', { records })).status).toBe(200);
    const r = await call('POST', '/fetch', { partitions: records.map((_, partition) => ({ topic: 'wide', partition, offset: 0 })) });
    expect(r.json.partitions.map((p: { records: { value: string }[] }) => p.records[0]!.value)).toEqual(records.map((x) => x.value));
  });
});
