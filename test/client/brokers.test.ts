/**
 * The client's broker list: parsing, and riding out a bootstrap broker that cannot be reached (a real broker
 * beside a port nothing listens on). Redirects to partition leaders are tested against a real cluster in
 * test/cluster/.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer } from '../../src/client/index.js';
import { Brokers, brokerList } from '../../src/client/brokers.js';
import { BrokerError } from '../../src/client/errors.js';
import { startTestBroker } from '../helpers/broker.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningBroker } from '../../src/server/broker.js';

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('brokerList', () => {
  it('takes a URL, a comma-separated string or a list', () => {
    expect(brokerList('http://a:1')).toEqual(['http://a:1']);
    expect(brokerList(' http://a:1, http://b:2 ,')).toEqual(['http://a:1', 'http://b:2']);
    expect(brokerList(['http://a:1', 'https://b:2'])).toEqual(['http://a:1', 'https://b:2']);
    expect(brokerList('a:1,[::1]:2')).toEqual(['http://a:1', 'http://[::1]:2']);
  });

  it('refuses an empty list and anything that is not an http(s) URL, naming the option', () => {
    expect(() => brokerList('')).toThrow(/at least one broker/);
    expect(() => brokerList(['http://a:1', 'ftp://b'])).toThrow(/http or https URL/);
    try {
      brokerList('a:1,b:99999', '--broker');
      expect.unreachable();
    } catch (err) {
      expect((err as BrokerError).code).toBe('INVALID_CONFIG');
      expect((err as BrokerError).message).toMatch(/^--broker must be host:port/);
    }
  });
});

describe('a list of brokers with one of them down', () => {
  let broker: RunningBroker;
  let dead: string;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-brokers-'));
  beforeAll(async () => {
    broker = await startTestBroker(dir, { listen: true });
    dead = `http://127.0.0.1:${await deadPort()}`;
  });
  afterAll(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Brokers moves to the next bootstrap broker after one cannot be reached', async () => {
    const brokers = new Brokers([dead, broker.url!]);
    try {
      await expect(brokers.json('GET', '/topics')).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
      expect(brokers.baseUrl).toBe(broker.url);
      await expect(brokers.json('GET', '/topics')).resolves.toMatchObject({ topics: [] });
    } finally {
      await brokers.close();
    }
  });

  it('admin, producer and consumer work with the dead broker first in the list', async () => {
    const admin = new Admin({ broker: [dead, broker.url!], retryTimeoutMs: 10_000 });
    const producer = new Producer({ broker: `${dead},${broker.url!}`, retryBackoffMs: 10, lingerMs: 0 });
    const consumer = new Consumer({ broker: [dead, broker.url!], partitions: [{ topic: 'listed', partition: 0 }], startOffset: 0, retryBackoffMs: 10 });
    try {
      expect((await admin.listTopics()).length).toBe(0);
      await admin.createTopic({ name: 'listed', partitions: 1 });
      await producer.send({ topic: 'listed', value: 'one' });
      await producer.send({ topic: 'listed', value: 'two' });
      const seen: string[] = [];
      while (seen.length < 2) for (const r of await consumer.poll({ timeoutMs: 200 })) seen.push(r.value!.toString());
      expect(seen).toEqual(['one', 'two']);
    } finally {
      await Promise.all([admin.close(), producer.close(), consumer.close()]);
    }
  });
});
