/**
 * Quotas (token buckets per client address without auth, per principal with it) and limits: over a quota a
 * request is refused with 429 THROTTLED, Retry-After and Sluice-Throttle-Ms, and nothing of it is applied;
 * once the bucket refills it passes again; the client rides through throttling without failing a send. Also
 * groupMaxSize, maxConnections and the bound on concurrent long polls per client.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Consumer } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import type { RunningBroker } from '../../src/server/broker.js';
import type { BrokerConfig } from '../../src/server/broker-config.js';
import { newToken } from '../../src/security/tokens.js';
import { startTestBroker } from '../helpers/broker.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closing.splice(0)) await c.close().catch(() => undefined);
  await broker?.close();
  broker = null;
});

async function start(overrides: Partial<BrokerConfig>, options: { clock?: ManualClock; listen?: boolean } = {}) {
  broker = await startTestBroker(tempDir(), { overrides, ...options });
  return broker;
}

const json = (method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) =>
  broker!.app.inject({ method, url, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });

const highWatermark = async () => (await json('GET', '/topics/t')).json().partitions[0].highWatermark;

describe('quotas', () => {
  it('requests per second per client address: over it 429 THROTTLED with Retry-After, refilled after a second', async () => {
    const clock = new ManualClock();
    await start({ quotaRequestsPerSec: 3 }, { clock });
    for (let i = 0; i < 3; i++) expect((await json('GET', '/topics')).statusCode).toBe(200);
    const refused = await json('GET', '/topics');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toMatchObject({ code: 'THROTTLED', retriable: true, quota: 'requestsPerSec' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['sluice-throttle-ms'])).toBeGreaterThan(0);
    expect((await json('GET', '/health')).statusCode).toBe(200); // health is never throttled
    clock.advance(1_000);
    expect((await json('GET', '/topics')).statusCode).toBe(200);
  });

  it('produce bytes: a request over the quota applies nothing, and passes again once the debt is paid', async () => {
    const clock = new ManualClock();
    await start({ quotaProduceBytesPerSec: 1_000 }, { clock });
    expect((await json('POST', '/topics', { name: 't', partitions: 1 })).statusCode).toBe(201);
    const big = { records: [{ value: 'x'.repeat(1_500) }] };
    expect((await json('POST', '/topics/t/records', big)).statusCode).toBe(200); // one request larger than the bucket passes, into debt
    const refused = await json('POST', '/topics/t/records', { records: [{ value: 'y' }] });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.quota).toBe('produceBytesPerSec');
    expect(await highWatermark()).toBe(1);
    expect((await json('GET', '/topics/t/partitions/0/records?offset=0')).statusCode).toBe(200); // fetch has its own quota
    clock.advance(Number(refused.headers['sluice-throttle-ms']));
    expect((await json('POST', '/topics/t/records', { records: [{ value: 'y' }] })).statusCode).toBe(200);
    expect(await highWatermark()).toBe(2);
  });

  it('fetch bytes: the reply is charged, the next fetch waits', async () => {
    const clock = new ManualClock();
    await start({ quotaFetchBytesPerSec: 500 }, { clock });
    await json('POST', '/topics', { name: 't', partitions: 1 });
    await json('POST', '/topics/t/records', { records: [{ value: 'x'.repeat(2_000) }] });
    expect((await json('GET', '/topics/t/partitions/0/records?offset=0')).statusCode).toBe(200);
    const refused = await json('GET', '/topics/t/partitions/0/records?offset=0');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.quota).toBe('fetchBytesPerSec');
    clock.advance(Number(refused.headers['sluice-throttle-ms']));
    expect((await json('GET', '/topics/t/partitions/0/records?offset=0')).statusCode).toBe(200);
  });

  it('per principal from the auth file: the producer rides through THROTTLED replies, every send succeeds in order', async () => {
    const dir = tempDir();
    const { token, tokenSha256 } = newToken();
    writeFileSync(
      join(dir, 'auth.json'),
      JSON.stringify({
        principals: [{ name: 'p', tokenSha256, acls: [{ resource: 'topic', name: '*', pattern: 'literal', operations: ['create', 'write', 'read'] }, { resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['describe'] }], quotas: { produceBytesPerSec: 40_000 } }],
      }),
    );
    await start({ authFile: join(dir, 'auth.json') }, { listen: true });
    const auth = { authorization: `Bearer ${token}` };
    expect((await json('POST', '/topics', { name: 't', partitions: 1 }, auth)).statusCode).toBe(201);
    const producer = new Producer({ broker: broker!.url!, token, lingerMs: 0, batchBytes: 4_096 });
    closing.push(producer);
    const sends = Array.from({ length: 60 }, (_, i) => producer.send({ topic: 't', partition: 0, value: `${i}:`.padEnd(1_000, 'v') }));
    const offsets = (await Promise.all(sends)).map((m) => m.offset);
    expect(offsets).toEqual(Array.from({ length: 60 }, (_, i) => i));
    const metrics = (await json('GET', '/metrics', undefined, auth)).body;
    expect(metrics).toMatch(/sluice_errors_total\{code="THROTTLED"[^}]*\} [1-9]/);
  });

  it('the consumer rides through fetch-bytes throttling: every record arrives, once, in order (80 KiB at 40 KiB/s)', async () => {
    await start({ quotaFetchBytesPerSec: 40_000, groupInitialRebalanceDelayMs: 0 }, { listen: true });
    await json('POST', '/topics', { name: 't', partitions: 1 });
    for (let i = 0; i < 80; i++) await json('POST', '/topics/t/records', { records: [{ value: `${i}:`.padEnd(1_000, 'v') }] });
    const consumer = new Consumer({ broker: broker!.url!, group: 'g', topics: ['t'], autoOffsetReset: 'earliest', maxBytesPerPartition: 8_000 });
    closing.push(consumer);
    const seen: number[] = [];
    while (seen.length < 80) for (const r of await consumer.poll({ timeoutMs: 5_000 })) seen.push(r.offset);
    expect(seen).toEqual(Array.from({ length: 80 }, (_, i) => i));
    const metrics = (await json('GET', '/metrics')).body;
    expect(metrics).toMatch(/sluice_errors_total\{code="THROTTLED"[^}]*\} [1-9]/);
  });
});

describe('limits', () => {
  it('groupMaxSize: one join more is refused with 409 GROUP_MAX_SIZE_REACHED', async () => {
    await start({ groupMaxSize: 2 });
    await json('POST', '/topics', { name: 't', partitions: 1 });
    for (let i = 0; i < 2; i++) expect((await json('POST', '/groups/g/members', { topics: ['t'] })).statusCode).toBe(201);
    const refused = await json('POST', '/groups/g/members', { topics: ['t'] });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'GROUP_MAX_SIZE_REACHED', groupMaxSize: 2 });
    expect((await json('GET', '/groups/g')).json().members).toHaveLength(2);
  });

  it('maxConnections: a connection beyond is closed at once; a freed slot takes a new one', async () => {
    await start({ maxConnections: 2 }, { listen: true });
    const port = Number(new URL(broker!.url!).port);
    const open = () => new Promise<import('node:net').Socket>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
    });
    const a = await open();
    const b = await open();
    await waitFor(async () => (await new Promise<number>((r) => broker!.app.server.getConnections((_e, n) => r(n)))) === 2);
    const c = await open();
    const closed = await new Promise<boolean>((resolve) => {
      c.on('close', () => resolve(true));
      c.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(closed).toBe(true);
    a.destroy();
    await waitFor(async () => (await new Promise<number>((r) => broker!.app.server.getConnections((_e, n) => r(n)))) === 1);
    expect((await fetch(`${broker!.url}/health`)).status).toBe(200);
    b.destroy();
  });

  it('concurrent long polls per client: one more is 429 THROTTLED; once one ends another is accepted', async () => {
    await start({ maxLongPollsPerClient: 1 }, { listen: true });
    await json('POST', '/topics', { name: 't', partitions: 1 });
    const url = `${broker!.url}/topics/t/partitions/0/records?offset=0&maxWaitMs=10000`;
    const first = fetch(url);
    await waitFor(() => broker!.services.fetches.waitingFetches > 0, 5_000, 'the first long poll to wait');
    const second = await fetch(url);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { quota: string } }).error.quota).toBe('maxLongPollsPerClient');
    expect((await fetch(`${broker!.url}/topics/t/partitions/0/records?offset=0`)).status).toBe(200); // a fetch that does not wait is not bounded
    await json('POST', '/topics/t/records', { records: [{ value: 'wake' }] });
    expect((await first).status).toBe(200);
    await waitFor(async () => (await fetch(`${broker!.url}/topics/t/partitions/0/records?offset=1&maxWaitMs=1`)).status === 200, 5_000, 'a new long poll to be accepted');
  });
});
