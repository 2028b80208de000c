/**
 * Decompression bombs through app.inject(): an LZ4 batch (or request) that may inflate above the broker's
 * limits is refused with 413 RECORD_TOO_LARGE before anything is decompressed or appended, compressed batches
 * under the limits are accepted, and a JSON fetch returns at most `maxBytes` of decoded records (at least one)
 * with a `nextOffset` that continues inside a batch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BROKER_DEFAULTS } from '../../src/server/broker-config.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { MiB, zeroRecordBatch } from '../helpers/bombs.js';
import { startTestBroker } from '../helpers/broker.js';
import { batchOf } from '../helpers/log-builder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const BATCHES = { 'content-type': 'application/vnd.sluice.record-batch' };

function call(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const json = body !== undefined && !Buffer.isBuffer(body);
  return broker!.app.inject({
    method,
    url,
    headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body === undefined ? {} : { payload: json ? JSON.stringify(body) : (body as Buffer) }),
  });
}

async function highWatermark(topic: string): Promise<number> {
  return (await call('GET', `/topics/${topic}`)).json().partitions[0].highWatermark;
}

describe('inflated size of produced batches', () => {
  it('refuses an LZ4 batch below maxMessageBytes that may inflate above maxBatchInflatedBytes (413, nothing appended)', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'bomb' });
    const bomb = zeroRecordBatch(200 * MiB);
    expect(bomb.length).toBeLessThan(BROKER_DEFAULTS.maxMessageBytes);
    // The bomb after a valid batch: the request is refused whole.
    const response = await call('POST', '/topics/bomb/partitions/0/batches', Buffer.concat([batchOf(['ok']), bomb]), BATCHES);
    expect(response.statusCode).toBe(413);
    const error = response.json().error;
    expect(error).toMatchObject({ code: 'RECORD_TOO_LARGE', retriable: false, batch: 1, maxBatchInflatedBytes: BROKER_DEFAULTS.maxBatchInflatedBytes });
    expect(error.inflatedBytes).toBeGreaterThanOrEqual(200 * MiB);
    expect(error.message).toContain('maxBatchInflatedBytes');
    expect(await highWatermark('bomb')).toBe(0);
    expect((await call('POST', '/topics/bomb/partitions/0/batches', batchOf(['after']), BATCHES)).json()).toEqual({ batches: [{ baseOffset: 0, lastOffset: 0 }] });
  });

  it('refuses a request whose batches together may inflate above maxRequestInflatedBytes (413, nothing appended)', async () => {
    broker = await startTestBroker(tempDir(), { overrides: { maxRequestInflatedBytes: 20 * MiB } });
    await call('POST', '/topics', { name: 'many' });
    const ten = zeroRecordBatch(10 * MiB);
    const response = await call('POST', '/topics/many/partitions/0/batches', Buffer.concat([ten, ten, ten]), BATCHES);
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toMatchObject({ code: 'RECORD_TOO_LARGE', maxRequestInflatedBytes: 20 * MiB });
    expect(await highWatermark('many')).toBe(0);
    const one = await call('POST', '/topics/many/partitions/0/batches', ten, BATCHES);
    expect(one.json()).toEqual({ batches: [{ baseOffset: 0, lastOffset: 0 }] });
  });

  it('accepts compressed batches that inflate up to the limit, which is never below the topic\'s maxMessageBytes', async () => {
    broker = await startTestBroker(tempDir(), { overrides: { maxBatchInflatedBytes: 65_536 } });
    await call('POST', '/topics', { name: 'fits', config: { maxMessageBytes: 2 * MiB } });
    // 1.5 MiB of records: above maxBatchInflatedBytes, below the topic's maxMessageBytes, so allowed.
    const ok = await call('POST', '/topics/fits/partitions/0/batches', zeroRecordBatch(1.5 * MiB), BATCHES);
    expect(ok.json()).toEqual({ batches: [{ baseOffset: 0, lastOffset: 0 }] });
    const tooBig = await call('POST', '/topics/fits/partitions/0/batches', zeroRecordBatch(3 * MiB), BATCHES);
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error).toMatchObject({ code: 'RECORD_TOO_LARGE', maxBatchInflatedBytes: 2 * MiB });
    expect(await highWatermark('fits')).toBe(1);
  });
});

describe('JSON fetch honours maxBytes after decoding', () => {
  it('returns a record larger than maxBytes alone, then continues after it', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'big', config: { maxMessageBytes: 4 * MiB } });
    const big = 'x'.repeat(600_000);
    await call('POST', '/topics/big/records', { records: ['x', 'y'].map((c) => ({ value: c.repeat(600_000) })).concat([{ value: 'a' }, { value: 'b' }]) });
    // One batch of 1.2 MB of records; the default maxBytes (1 MiB) fits one of the big records, not two.
    const first = (await call('GET', '/topics/big/partitions/0/records?offset=0')).json();
    expect(first.records.map((r: { offset: number }) => r.offset)).toEqual([0]);
    expect(first.records[0].value).toBe(big);
    expect(first.nextOffset).toBe(1);
    const tiny = (await call('GET', '/topics/big/partitions/0/records?offset=1&maxBytes=1')).json();
    expect(tiny.records.map((r: { offset: number }) => r.offset)).toEqual([1]);
    expect(tiny.nextOffset).toBe(2);
    const rest = (await call('GET', '/topics/big/partitions/0/records?offset=2')).json();
    expect(rest.records.map((r: { value: string }) => r.value)).toEqual(['a', 'b']);
    expect(rest.nextOffset).toBe(4);
  });

  it('stops inside a compressed batch of many records and continues from nextOffset', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'z', config: { compression: 'lz4' } });
    const values = Array.from({ length: 1_000 }, (_, i) => `${i}:`.padEnd(100, '.'));
    await call('POST', '/topics/z/records', { records: values.map((value) => ({ value })) });
    const seen: string[] = [];
    let offset = 0;
    let fetches = 0;
    while (offset < values.length) {
      const page = (await call('GET', `/topics/z/partitions/0/records?offset=${offset}&maxBytes=2048`)).json();
      fetches++;
      expect(page.records.length).toBeGreaterThan(0);
      expect(page.records.reduce((n: number, r: { value: string }) => n + r.value.length, 0)).toBeLessThanOrEqual(2048);
      expect(page.records[0].offset).toBe(offset);
      expect(page.nextOffset).toBe(page.records.at(-1).offset + 1);
      seen.push(...page.records.map((r: { value: string }) => r.value));
      offset = page.nextOffset;
    }
    expect(seen).toEqual(values);
    expect(fetches).toBeGreaterThan(50);
    const middle = (await call('GET', '/topics/z/partitions/0/records?offset=500&maxBytes=1')).json();
    expect(middle.records.map((r: { offset: number }) => r.offset)).toEqual([500]);
    expect(middle.nextOffset).toBe(501);
  });
});
