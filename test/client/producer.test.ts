/** The Producer against a real listening broker: placement, batching, options, errors, fencing, backpressure. */
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, BrokerError, Consumer, Producer } from '../../src/client/index.js';
import { partitionForKey } from '../../src/common/murmur2.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { codeOf } from '../helpers/error-code.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { freePort, postJson } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => undefined);
});

async function broker(options: Parameters<typeof startTestBroker>[1] = {}): Promise<RunningBroker & { url: string }> {
  const running = await startTestBroker(tempDir(), { listen: true, ...options });
  open.push(running);
  return running as RunningBroker & { url: string };
}

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

function track<T extends { close(): Promise<void> }>(client: T): T {
  open.push(client);
  return client;
}

async function readAll(url: string, topic: string, partition: number) {
  const consumer = new Consumer({ broker: url, partitions: [{ topic, partition, offset: 0 }], maxWaitMs: 0 });
  const out = [];
  for (;;) {
    const batch = await consumer.poll({ timeoutMs: 200 });
    if (batch.length === 0) break;
    out.push(...batch);
  }
  await consumer.close();
  return out;
}

describe('Producer', () => {
  it('sends records and resolves with partition, offset and timestamp; a keyed record lands where the JSON path puts it', async () => {
    const b = await broker();
    const admin = track(new Admin({ broker: b.url }));
    await admin.createTopic({ name: 'orders', partitions: 6 });
    const producer = track(new Producer({ broker: b.url, lingerMs: 2 }));
    const sent = await Promise.all(['a', 'b', 'c', 'customer-7'].map((key) => producer.send({ topic: 'orders', key, value: `v-${key}`, headers: { h: 'x', bin: new Uint8Array([1, 2]) } })));
    for (const [i, key] of ['a', 'b', 'c', 'customer-7'].entries()) {
      expect(sent[i]!.partition).toBe(partitionForKey(Buffer.from(key), 6));
      const viaJson = await postJson(`${b.url}/topics/orders/records`, { records: [{ key, value: 'json' }] });
      expect(viaJson.json.offsets[0].partition).toBe(sent[i]!.partition);
    }
    const stored = await readAll(b.url, 'orders', sent[3]!.partition);
    const record = stored.find((r) => r.offset === sent[3]!.offset)!;
    expect(record.key!.toString()).toBe('customer-7');
    expect(record.value!.toString()).toBe('v-customer-7');
    expect(record.timestamp).toBe(sent[3]!.timestamp);
    expect(record.headers).toEqual({ h: Buffer.from('x'), bin: Buffer.from([1, 2]) });
    expect(record.headers['h']!.toString()).toBe('x'); // typed by key: the object shape that went in
    expect(record.headerList).toEqual([
      { key: 'h', value: Buffer.from('x') },
      { key: 'bin', value: Buffer.from([1, 2]) },
    ]);
  });

  it('batches records per partition, keeps send order, and sends null values, explicit partitions and LZ4', async () => {
    const b = await broker();
    await track(new Admin({ broker: b.url })).createTopic({ name: 't', partitions: 2 });
    const producer = track(new Producer({ broker: b.url, lingerMs: 20, compression: 'lz4' }));
    const deliveries = [];
    for (let i = 0; i < 1_000; i++) deliveries.push((await producer.enqueue({ topic: 't', partition: i % 2, value: i === 7 ? null : `value-${i}` })).delivery);
    const sent = await Promise.all(deliveries);
    for (const p of [0, 1]) {
      const offsets = sent.filter((s) => s.partition === p).map((s) => s.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    const stored = await readAll(b.url, 't', 1);
    expect(stored).toHaveLength(500);
    expect(stored[3]!.value).toBeNull();
    expect(stored[10]!.value!.toString()).toBe('value-21');
    const description = await getJson(`${b.url}/topics/t`);
    expect(description.partitions[0].segments).toBe(1);
    // 500 records per partition went out in a few batches, not 500 requests
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    const requests = Number(/sluice_http_requests_total\{[^}]*route="\/topics\/:topic\/partitions\/:partition\/batches"[^}]*\} (\d+)/.exec(metrics)?.[1]);
    expect(requests).toBeLessThan(50);
  });

  it('keyless records stick to one partition per batch and spread over partitions', async () => {
    const b = await broker();
    await track(new Admin({ broker: b.url })).createTopic({ name: 'k', partitions: 4 });
    const producer = track(new Producer({ broker: b.url, lingerMs: 1, batchBytes: 2_048 }));
    const deliveries = [];
    for (let i = 0; i < 400; i++) deliveries.push((await producer.enqueue({ topic: 'k', value: 'x'.repeat(100) })).delivery);
    const sent = await Promise.all(deliveries);
    const used = new Set(sent.map((s) => s.partition));
    expect(used.size).toBeGreaterThan(1);
  });

  it('acks 0 resolves with offset -1', async () => {
    const b = await broker();
    await track(new Admin({ broker: b.url })).createTopic({ name: 'z' });
    const producer = track(new Producer({ broker: b.url, acks: '0', idempotent: false }));
    const sent = await producer.send({ topic: 'z', value: 'fire' });
    expect(sent.offset).toBe(-1);
    await producer.flush();
  });

  it('refuses bad options, bad records, unknown topics and partitions, and too large records with the contract codes', async () => {
    const b = await broker();
    await track(new Admin({ broker: b.url })).createTopic({ name: 'small', config: { maxMessageBytes: 1_000 } });
    expect(codeOf(() => new Producer({ broker: b.url, lingerMs: -1 }))).toBe('INVALID_CONFIG');
    expect(codeOf(() => new Producer({ broker: 'not a url' }))).toBe('INVALID_CONFIG');
    expect(codeOf(() => new Producer({ broker: b.url, acks: 'most' as never }))).toBe('INVALID_CONFIG');
    const producer = track(new Producer({ broker: b.url }));
    await expect(producer.send({ topic: 'nope', value: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    await expect(producer.send({ topic: 'small', partition: 3, value: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_PARTITION' });
    await expect(producer.send({ topic: 'small', value: 'x'.repeat(2_000) })).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
    await expect(producer.send({ topic: 'small', value: 42 as never })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(producer.send({ topic: 'small', value: 'far future', timestamp: Date.now() + 86_400_000 })).rejects.toMatchObject({ code: 'INVALID_TIMESTAMP' });
    // the refused batch consumed no sequence: the next send goes through
    expect((await producer.send({ topic: 'small', value: 'fine' })).offset).toBe(0);
    await producer.close();
    await expect(producer.send({ topic: 'small', value: 'late' })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('a producer with the same name fences the older one (INVALID_PRODUCER_EPOCH)', async () => {
    const b = await broker();
    await track(new Admin({ broker: b.url })).createTopic({ name: 'f' });
    const first = track(new Producer({ broker: b.url, name: 'writer' }));
    await first.send({ topic: 'f', value: 'one' });
    const second = track(new Producer({ broker: b.url, name: 'writer' }));
    await second.send({ topic: 'f', value: 'two' });
    const err = await first.send({ topic: 'f', value: 'zombie' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as BrokerError).code).toBe('INVALID_PRODUCER_EPOCH');
    await expect(first.send({ topic: 'f', value: 'again' })).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    expect((await readAll(b.url, 'f', 0)).map((r) => r.value!.toString())).toEqual(['one', 'two']);
  });

  it('an unreachable broker fails sends after deliveryTimeoutMs with an error naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const producer = track(new Producer({ broker: url, maxBlockMs: 300 }));
    const err = (await producer.send({ topic: 't', value: 'x' }).catch((e: unknown) => e)) as BrokerError;
    expect(err.code).toBe('BROKER_NOT_AVAILABLE');
    expect(err.message).toContain(url);
    expect(err.retriable).toBe(true);
  });

  it('a slow broker: bufferBytes bounds memory and enqueue waits for space', async () => {
    const io = new FaultyFileIO();
    const b = await broker({ io });
    await track(new Admin({ broker: b.url })).createTopic({ name: 'slow', partitions: 2 });
    io.inject({ op: 'datasync', delayMs: 30 });
    const bufferBytes = 256 * 1024;
    const producer = track(new Producer({ broker: b.url, bufferBytes, batchBytes: 32 * 1024, lingerMs: 1 }));
    const value = Buffer.alloc(1_024, 7);
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest runs the workers with --expose-gc').toBeTypeOf('function');
    const retained = () => {
      gc!();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = retained();
    let peakBuffered = 0;
    let peakRetained = 0;
    let waits = 0;
    let last: Promise<unknown> = Promise.resolve();
    const total = 32 * 1024; // 32 MiB of values, 128 times the buffer
    for (let i = 0; i < total; i++) {
      const started = performance.now();
      const { delivery } = await producer.enqueue({ topic: 'slow', value });
      if (performance.now() - started > 5) waits++;
      last = delivery;
      peakBuffered = Math.max(peakBuffered, producer.bufferedBytes);
      if (i % 2_048 === 1_024) peakRetained = Math.max(peakRetained, retained() - baseline);
    }
    await last;
    expect(peakBuffered).toBeLessThanOrEqual(bufferBytes);
    expect(waits).toBeGreaterThan(10);
    // 32 MiB went through the producer while it (and the broker in this process) held a few MiB at most
    expect(peakRetained).toBeLessThan(10 * 1024 * 1024); // about 19 MiB when bufferBytes does not bound it
    await producer.close();
    const described = await getJson(`${b.url}/topics/slow`);
    expect(described.partitions.reduce((n: number, p: { highWatermark: number }) => n + p.highWatermark, 0)).toBe(total);
  });
});
