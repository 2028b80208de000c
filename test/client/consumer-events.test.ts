/**
 * What the client tells its application: an unreachable broker (poll returns or fails by its timeout, an
 * `error` event names the URL), topics that do not exist yet (waited for, a warning once, or created),
 * rebalance hooks in order (revocation awaited before the release), `rebalance` and `retry` events, and the
 * client id on every request.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type BrokerError, type Logger, type RebalanceEvent, type RetryEvent } from '../../src/client/index.js';
import { startTestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/broker-process.js';
import { useClosing } from '../helpers/closing.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const track = useClosing();

/** A logger that keeps what it is given. */
function memoryLogger(): Logger & { lines: { level: string; msg: string; obj: object }[] } {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg: msg ?? '', obj });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function listeningBroker(overrides = {}) {
  const b = await startTestBroker(tempDir(), { listen: true, overrides });
  track(b);
  return { b, admin: track(new Admin({ broker: b.url! })) };
}

describe('an unreachable broker', () => {
  it.each([['without a group', undefined], ['before its first join', 'g']])('%s: poll fails by its timeout with BROKER_NOT_AVAILABLE naming the URL, and an error event says so', async (_name, group) => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const logger = memoryLogger();
    const consumer = track(new Consumer({ broker: url, topics: ['t'], group, requestTimeoutMs: 300, retryBackoffMaxMs: 100, logger }));
    const errors: BrokerError[] = [];
    const retries: RetryEvent[] = [];
    consumer.on('error', (err) => errors.push(err));
    consumer.on('retry', (event) => retries.push(event));
    const started = Date.now();
    await expect(consumer.poll({ timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE', message: expect.stringContaining(url) });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(url);
    expect(retries.length).toBeGreaterThan(0);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toContain('cannot reach the broker; retrying');
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toContain('the broker is unreachable');
    // before requestTimeoutMs has passed, poll simply returns by its timeout
    const patient = track(new Consumer({ broker: url, topics: ['t'], group }));
    const t0 = Date.now();
    expect(await patient.poll({ timeoutMs: 300 })).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('a broker that goes away mid-stream: poll keeps returning by its timeout and an error event names the URL', async () => {
    const { b, admin } = await listeningBroker();
    await admin.createTopic({ name: 'live', partitions: 2 });
    const producer = track(new Producer({ broker: b.url! }));
    await producer.send({ topic: 'live', value: 'one' });
    const consumer = track(new Consumer({ broker: b.url!, group: 'live', topics: ['live'], autoOffsetReset: 'earliest', requestTimeoutMs: 400, retryBackoffMaxMs: 100 }));
    const errors: BrokerError[] = [];
    consumer.on('error', (err) => errors.push(err));
    let got = 0;
    while (got === 0) got += (await consumer.poll({ timeoutMs: 1_000 })).length;
    await producer.close();
    await b.close();
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      expect(await consumer.poll({ timeoutMs: 400 })).toEqual([]); // a member keeps its partitions: no rejection
      expect(Date.now() - t0).toBeLessThan(1_500);
    }
    await waitFor(() => errors.length > 0, 5_000, 'the error event');
    expect(errors[0]).toMatchObject({ code: 'BROKER_NOT_AVAILABLE', message: expect.stringContaining(b.url!) });
  });
});

describe('topics that do not exist yet', () => {
  it('a consumer started before its topic waits for it (one warning), then consumes', async () => {
    const { b, admin } = await listeningBroker();
    const logger = memoryLogger();
    const grouped = track(new Consumer({ broker: b.url!, group: 'early', topics: ['later'], autoOffsetReset: 'earliest', logger, retryBackoffMaxMs: 50 }));
    const plain = track(new Consumer({ broker: b.url!, topics: ['later'], autoOffsetReset: 'earliest', retryBackoffMaxMs: 50 }));
    for (let i = 0; i < 3; i++) {
      expect(await grouped.poll({ timeoutMs: 100 })).toEqual([]);
      expect(await plain.poll({ timeoutMs: 100 })).toEqual([]);
    }
    expect(logger.lines.filter((l) => l.msg === 'topic does not exist yet; waiting for it')).toHaveLength(1);
    await admin.createTopic({ name: 'later', partitions: 2 });
    const producer = track(new Producer({ broker: b.url! }));
    await producer.sendAll([0, 1, 2, 3].map((i) => ({ topic: 'later', partition: i % 2, value: `v${i}` })));
    for (const consumer of [grouped, plain]) {
      const values: string[] = [];
      while (values.length < 4) values.push(...(await consumer.poll({ timeoutMs: 1_000 })).map((r) => r.value!.toString()));
      expect(values.sort()).toEqual(['v0', 'v1', 'v2', 'v3']);
    }
  });

  it('autoCreateTopics creates a missing topic', async () => {
    const { b, admin } = await listeningBroker();
    const consumer = track(new Consumer({ broker: b.url!, group: 'maker', topics: ['made'], autoCreateTopics: { partitions: 3 } }));
    expect(await consumer.poll({ timeoutMs: 200 })).toEqual([]);
    await waitFor(() => consumer.assignment().length === 3, 5_000, 'the created topic\'s partitions');
    expect((await admin.describeTopic('made')).partitions).toHaveLength(3);
    const producer = track(new Producer({ broker: b.url! }));
    await producer.send({ topic: 'made', partition: 2, value: 'hello' });
    const [record] = await consumer.poll({ timeoutMs: 5_000 });
    expect(record?.value?.toString()).toBe('hello');
  });
});

describe('rebalance hooks and events', () => {
  it('onRevoked runs after the handed-out records were processed and is awaited before the commit and the release; the new owner starts after them', async () => {
    const { b, admin } = await listeningBroker();
    await admin.createTopic({ name: 'rb', partitions: 4 });
    const producer = track(new Producer({ broker: b.url! }));
    await producer.sendAll(Array.from({ length: 400 }, (_, i) => ({ topic: 'rb', partition: i % 4, value: `v${i}` })));
    const log: string[] = [];
    const keys = (ps: { partition: number }[]) => ps.map((p) => p.partition).join(',');
    const hooks = (name: string) => ({
      onAssigned: async (ps: { partition: number }[]) => {
        const committed = await admin.groupOffsets('rb').catch(() => []);
        log.push(`${name} assigned ${keys(ps)} committed ${committed.filter((o) => ps.some((p) => p.partition === o.partition)).map((o) => o.offset).join(',')}`);
      },
      onRevoked: async (ps: { partition: number }[]) => {
        log.push(`${name} revoking ${keys(ps)}`);
        await new Promise((r) => setTimeout(r, 150)); // the new owner waits for this
        log.push(`${name} revoked ${keys(ps)}`);
      },
    });
    const aEvents: RebalanceEvent[] = [];
    const a = track(new Consumer({ broker: b.url!, group: 'rb', topics: ['rb'], autoOffsetReset: 'earliest', clientId: 'worker-a', ...hooks('a') }));
    a.on('rebalance', (e) => aEvents.push(e));
    // a takes records one at a time until it holds one of partition 3 (which it will have to give up), unprocessed
    let last;
    do last = await a.poll({ maxRecords: 1, timeoutMs: 1_000 });
    while (last[0]?.partition !== 3);
    expect(log).toEqual(['a assigned 0,1,2,3 committed ']);

    const c = track(new Consumer({ broker: b.url!, group: 'rb', topics: ['rb'], autoOffsetReset: 'earliest', clientId: 'worker-c', ...hooks('c') }));
    const cPoll = c.poll({ timeoutMs: 5_000 });
    // a holds an unprocessed record of partition 3: nothing is released until it asks for more
    await waitFor(() => a.pendingAssignment().length === 0 && c.pendingAssignment().length === 2, 5_000, 'c to be promised two');
    await new Promise((r) => setTimeout(r, 100));
    expect(log).toEqual(['a assigned 0,1,2,3 committed ']);
    const positions = Object.fromEntries(a.assignment().map((p) => [p.partition, a.position(p)]));
    await a.poll({ maxRecords: 1, timeoutMs: 0 }); // done with the last batch: the release goes ahead
    await cPoll;
    await waitFor(() => log.length === 4, 5_000, 'c to get its partitions');
    const revoked = log[1]!.split(' ')[2]!;
    expect(log).toEqual([
      'a assigned 0,1,2,3 committed ',
      `a revoking ${revoked}`,
      `a revoked ${revoked}`,
      `c assigned ${revoked} committed ${revoked.split(',').map((p) => positions[Number(p)]).join(',')}`,
    ]);
    expect(aEvents.map((e) => [e.assigned.length, e.revoked.length, e.lost])).toEqual([[4, 0, false], [0, 2, false]]);
    expect(c.assignment().map((p) => p.partition).join(',')).toBe(revoked);
    const members = (await admin.describeGroup('rb')).members;
    expect(members.map((m) => m.clientId).sort()).toEqual(['worker-a', 'worker-c']);
    expect(members.every((m) => m.host === '127.0.0.1')).toBe(true);
    // closing runs onRevoked for what is left, then leaves
    await a.close();
    expect(log.slice(4)).toEqual([expect.stringMatching(/^a revoking /), expect.stringMatching(/^a revoked /)]);
  });

  it('the producer sends its client id with every request and reports retries', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BROKER_NOT_AVAILABLE', message: 'restarting' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // pino fits the logger option as it is
    const producer = track(new Producer({ broker: url, clientId: 'billing-writer', maxBlockMs: 300, requestTimeoutMs: 100, retryBackoffMs: 20, logger: pino({ level: 'silent' }) }));
    const retries: RetryEvent[] = [];
    const errors: BrokerError[] = [];
    producer.on('retry', (e) => retries.push(e));
    producer.on('error', (e) => errors.push(e));
    await expect(producer.send({ topic: 't', value: 'x' })).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    expect(errors[0]).toMatchObject({ code: 'BROKER_NOT_AVAILABLE', message: expect.stringContaining(url) }); // 503s for longer than requestTimeoutMs
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((h) => h['sluice-client-id'] === 'billing-writer')).toBe(true);
    expect(retries[0]).toMatchObject({ operation: 'GET /topics/t', attempt: 1, error: { code: 'BROKER_NOT_AVAILABLE' } });
    expect(new Producer({ broker: url }).clientId).toMatch(/-\d+$/); // host name and pid by default
  });
});
