/**
 * Regressions found in review: idempotent retries after a timeout or a partial failure, concurrent producer
 * registration and config changes, 249-character topic names, orphaned partition directories, long polls
 * across a topic delete, and requests during shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) {
  return broker!.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
  });
}

async function values(topic: string, partition: number): Promise<string[]> {
  return (await call('GET', `/topics/${topic}/partitions/${partition}/records?offset=0`)).json().records.map((r: { value: string }) => r.value);
}

describe('idempotent JSON produce after failures', () => {
  it('a retry after a 504 timeout does not append the request again', async () => {
    const io = new FaultyFileIO();
    broker = await startTestBroker(tempDir(), { io });
    await call('POST', '/topics', { name: 't' });
    const { producerId } = (await call('POST', '/producers', { name: 'slow' })).json();
    const body = { producer: { id: producerId, epoch: 0, sequence: 0 }, records: [{ value: 'a', partition: 0 }], timeoutMs: 50 };
    io.inject({ op: 'datasync', pathIncludes: '.log', delayMs: 300, times: 1 });
    expect((await call('POST', '/topics/t/records', body)).statusCode).toBe(504);
    const retry = await call('POST', '/topics/t/records', { ...body, timeoutMs: 5000 });
    expect(retry.json()).toMatchObject({ offsets: [{ partition: 0, offset: 0 }], duplicate: true });
    expect(await values('t', 0)).toEqual(['a']);
  });

  it('a retry after a partial failure appends only the partitions that are missing', async () => {
    const io = new FaultyFileIO();
    broker = await startTestBroker(tempDir(), { io });
    await call('POST', '/topics', { name: 'p', partitions: 2 });
    const { producerId } = (await call('POST', '/producers', {})).json();
    const body = { producer: { id: producerId, epoch: 0, sequence: 0 }, records: [{ value: 'to-p0', partition: 0 }, { value: 'to-p1', partition: 1 }] };
    io.inject({ op: 'writev', pathIncludes: 'p-1/', errno: 'ENOSPC', times: 1 });
    expect((await call('POST', '/topics/p/records', body)).statusCode).toBe(507);
    const retry = (await call('POST', '/topics/p/records', body)).json();
    expect(retry.offsets).toEqual([expect.objectContaining({ partition: 0, offset: 0 }), expect.objectContaining({ partition: 1, offset: 0 })]);
    expect(retry.duplicate).toBeUndefined();
    expect(await values('p', 0)).toEqual(['to-p0']);
    expect(await values('p', 1)).toEqual(['to-p1']);
    expect((await call('POST', '/topics/p/records', { ...body, producer: { ...body.producer, sequence: 1 } })).statusCode).toBe(200);
  });

  it('an epoch bump racing an old-epoch request keeps gap detection for the new epoch', async () => {
    const io = new FaultyFileIO();
    broker = await startTestBroker(tempDir(), { io });
    await call('POST', '/topics', { name: 'e' });
    const { producerId } = (await call('POST', '/producers', { name: 'bump' })).json();
    const send = (epoch: number, sequence: number) => call('POST', '/topics/e/records', { producer: { id: producerId, epoch, sequence }, records: [{ value: `${epoch}-${sequence}` }] });
    for (let s = 0; s < 10; s++) await send(0, s);
    io.inject({ op: 'datasync', pathIncludes: '.log', delayMs: 200, times: 1 });
    const slow = send(0, 10);
    await new Promise((r) => setTimeout(r, 20));
    await call('POST', '/producers', { name: 'bump' });
    await slow;
    expect((await send(1, 0)).statusCode).toBe(200);
    expect((await send(1, 5)).json().error.code).toBe('OUT_OF_ORDER_SEQUENCE');
  });
});

describe('concurrency on metadata', () => {
  it('concurrent POST /producers issue distinct ids, and named ones distinct epochs', async () => {
    broker = await startTestBroker(tempDir());
    const unnamed = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/producers', {})));
    expect(unnamed.every((r) => r.statusCode === 200)).toBe(true);
    expect(new Set(unnamed.map((r) => r.json().producerId)).size).toBe(20);
    const named = await Promise.all(Array.from({ length: 10 }, () => call('POST', '/producers', { name: 'same' })));
    expect(new Set(named.map((r) => r.json().producerEpoch)).size).toBe(10);
    expect(new Set(named.map((r) => r.json().producerId)).size).toBe(1);
  });

  it('concurrent config changes all apply, without 5xx', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'c' });
    const changes = [{ retentionMs: 1000 }, { segmentBytes: 4096 }, { maxMessageBytes: 5000 }, { compression: 'lz4' }];
    const replies = await Promise.all(changes.map((c) => call('PATCH', '/topics/c/config', c)));
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    expect((await call('GET', '/topics/c')).json().config).toMatchObject({ retentionMs: 1000, segmentBytes: 4096, maxMessageBytes: 5000, compression: 'lz4' });
  });
});

describe('names and leftovers', () => {
  it('a 249-character topic name works end to end: create, produce, fetch, delete, restart', async () => {
    const dataDir = tempDir();
    broker = await startTestBroker(dataDir);
    const name = 'n'.repeat(249);
    expect((await call('POST', '/topics', { name, partitions: 12 })).statusCode).toBe(201);
    expect((await call('POST', `/topics/${name}/records`, { records: [{ value: 'long', partition: 11 }] })).statusCode).toBe(200);
    expect(await values(name, 11)).toEqual(['long']);
    expect((await call('PATCH', `/topics/${name}/config`, { retentionMs: 5 })).statusCode).toBe(200);
    expect((await call('DELETE', `/topics/${name}`)).statusCode).toBe(204);
    await broker.close();
    broker = await startTestBroker(dataDir);
    expect((await call('GET', '/topics')).json()).toEqual({ topics: [] });
  });

  it('refuses to create a topic over partition directories left by an earlier one', async () => {
    const dataDir = tempDir();
    broker = await startTestBroker(dataDir);
    await broker.services.logs.create({ topic: 'x', partition: 0 });
    const refused = await call('POST', '/topics', { name: 'x' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'TOPIC_ALREADY_EXISTS', partitions: ['x-0'] });
  });
});

describe('waiting and closing', () => {
  it('a long poll on a deleted topic wakes at once with UNKNOWN_TOPIC', async () => {
    broker = await startTestBroker(tempDir());
    await call('POST', '/topics', { name: 'gone' });
    const started = Date.now();
    const polling = call('GET', '/topics/gone/partitions/0/records?offset=0&maxWaitMs=10000');
    await waitFor(() => broker!.services.fetches.waitingFetches === 1, 5_000, 'the fetch to wait');
    await call('DELETE', '/topics/gone');
    const response = await polling;
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('UNKNOWN_TOPIC');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers requests that arrive during shutdown with the contract error body', async () => {
    broker = await startTestBroker(tempDir());
    broker.services.lifecycle.closing = true;
    const response = await call('GET', '/topics');
    expect(response.statusCode).toBe(503);
    expect(response.json().error).toMatchObject({ code: 'BROKER_NOT_AVAILABLE', retriable: true });
    broker.services.lifecycle.closing = false;
  });

  it('a long poll whose client disconnects stops waiting at once', async () => {
    broker = await startTestBroker(tempDir(), { listen: true });
    await call('POST', '/topics', { name: 'lp' });
    const clients = Array.from({ length: 20 }, () => new AbortController());
    const polls = clients.map((c) =>
      fetch(`${broker!.url}/topics/lp/partitions/0/records?offset=0&maxWaitMs=20000`, { signal: c.signal }).catch(() => undefined),
    );
    await waitFor(() => broker!.services.fetches.waitingFetches === 20, 5_000, '20 waiting fetches');
    for (const c of clients) c.abort();
    await Promise.all(polls);
    await waitFor(() => broker!.services.fetches.waitingFetches === 0, 5_000, 'the waiters to go');
    // A poll that stays connected still waits and is woken by data.
    const kept = fetch(`${broker.url}/topics/lp/partitions/0/records?offset=0&maxWaitMs=20000`);
    await waitFor(() => broker!.services.fetches.waitingFetches === 1, 5_000, 'the kept fetch to wait');
    await call('POST', '/topics/lp/records', { records: [{ value: 'x' }] });
    expect(((await (await kept).json()) as { records: unknown[] }).records).toHaveLength(1);
  });
});
