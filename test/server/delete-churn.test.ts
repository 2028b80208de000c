/**
 * Issue 12, defect 5: requests racing a topic delete. Produce (JSON with and without a producer id, binary
 * batches) and fetch (plain and long polls) hammer a topic that is created and deleted over and over. A
 * request that loses the race is told the topic is gone (404 UNKNOWN_TOPIC, not retriable), never 500 with a
 * storage error, and the broker logs no error for it.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/log/record-batch.js';
import { loadBrokerConfig } from '../../src/server/broker-config.js';
import { startBroker, type RunningBroker } from '../../src/server/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

/** A broker whose log lines (warn and above) are kept, to check that no error is logged. */
async function startLoggingBroker(dataDir: string): Promise<{ lines: { level: number; msg: string }[] }> {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const config = loadBrokerConfig({ overrides: { dataDir, port: 0, logLevel: 'warn', segmentBytes: 16_384 } });
  broker = await startBroker(config, { logger: pino({ level: 'warn' }, sink), listen: false });
  return { lines };
}

function call(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const payload = Buffer.isBuffer(body) ? body : body === undefined ? undefined : JSON.stringify(body);
  const type = Buffer.isBuffer(body) ? 'application/vnd.sluice.record-batch' : 'application/json';
  return broker!.app.inject({ method, url, headers: { ...(payload === undefined ? {} : { 'content-type': type }), ...headers }, ...(payload === undefined ? {} : { payload }) });
}

const PARTITIONS = 2;
const ROUNDS = 25;

describe('produce and fetch while the topic is deleted', () => {
  it('every answer is 2xx or 404 UNKNOWN_TOPIC (409 for a sequence the recreated topic does not know), never 500', async () => {
    const { lines } = await startLoggingBroker(tempDir());
    const { producerId } = (await call('POST', '/producers', { name: 'churn' })).json();
    let running = true;
    const answers = new Map<string, number>();
    const unexpected: string[] = [];
    const note = (kind: string, status: number, body: string) => {
      const code = status >= 300 ? (JSON.parse(body) as { error: { code: string } }).error.code : '';
      const key = `${kind} ${status} ${code}`.trim();
      answers.set(key, (answers.get(key) ?? 0) + 1);
      const fine = status < 300 || (status === 404 && code === 'UNKNOWN_TOPIC') || (status === 409 && code === 'OUT_OF_ORDER_SEQUENCE') || (status === 416 && kind.startsWith('fetch'));
      if (!fine && unexpected.length < 10) unexpected.push(`${kind}: ${status} ${body}`);
      if (status === 404 && JSON.parse(body).error.retriable !== false && unexpected.length < 10) unexpected.push(`${kind}: retriable 404 ${body}`);
    };
    let sequence = 0;
    const value = 'v'.repeat(600); // a few requests per segment: rolls race the delete too
    const workers: Record<string, () => Promise<void>> = {
      json: async () => {
        const r = await call('POST', '/topics/c/records', { records: [{ value }, { value, partition: 1 }] });
        note('json', r.statusCode, r.body);
      },
      idempotent: async () => {
        const r = await call('POST', '/topics/c/records', { producer: { id: producerId, epoch: 0, sequence }, records: [{ value, partition: 0 }] });
        if (r.statusCode === 200) sequence++;
        note('idempotent', r.statusCode, r.body);
      },
      binary: async () => {
        const batch = encodeBatch({ records: [{ value: Buffer.from(value) }, { value: Buffer.from(value) }] });
        const r = await call('POST', `/topics/c/partitions/${sequence % PARTITIONS}/batches`, batch);
        note('binary', r.statusCode, r.body);
      },
      fetch: async () => {
        const r = await call('GET', '/topics/c/partitions/0/records?offset=0&maxBytes=100000');
        note('fetch', r.statusCode, r.body);
      },
      'fetch long poll': async () => {
        const r = await call('GET', '/topics/c/partitions/1/records?offset=latest&maxWaitMs=200');
        note('fetch long poll', r.statusCode, r.body);
      },
    };
    const loops = Object.values(workers).flatMap((work) =>
      Array.from({ length: 3 }, async () => {
        while (running) {
          await work();
          await new Promise((r) => setImmediate(r)); // let the churn loop's timers run
        }
      }),
    );
    for (let round = 0; round < ROUNDS; round++) {
      expect((await call('POST', '/topics', { name: 'c', partitions: PARTITIONS })).statusCode).toBe(201);
      await new Promise((r) => setTimeout(r, 5 + (round % 4) * 5));
      expect((await call('DELETE', '/topics/c')).statusCode).toBe(204);
    }
    running = false;
    await Promise.all(loops);

    expect(unexpected).toEqual([]);
    // The churn did race: both successes and losers of the race were seen.
    expect([...answers.keys()].some((k) => k.startsWith('json 200') || k.startsWith('binary 200'))).toBe(true);
    expect([...answers.keys()].some((k) => k.includes('404 UNKNOWN_TOPIC'))).toBe(true);
    expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    expect((await call('GET', '/health')).json()).toMatchObject({ status: 'ok', offlinePartitions: [] });
  }, 60_000);
});
