/**
 * ShareConsumer against an in-process broker over real HTTP: the for-await loop with auto-accept, explicit
 * release and reject, extend, background lease extension, autoAccept off, and close() releasing what was
 * received but not handed out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Producer, ShareConsumer, type ShareMessage } from '../../src/client/index.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function setup(records: number, group: Record<string, unknown> = {}): Promise<{ broker: RunningBroker; admin: Admin; url: string }> {
  const broker = await startTestBroker(tempDir(), { listen: true });
  cleanup.push(() => broker.close());
  const url = broker.url!;
  const admin = new Admin({ broker: url });
  cleanup.push(() => admin.close());
  await admin.createTopic({ name: 'tasks', partitions: 2 });
  await admin.createTopic({ name: 'tasks-dlq', partitions: 1 });
  const producer = new Producer({ broker: url });
  await Promise.all(Array.from({ length: records }, (_, i) => producer.send({ topic: 'tasks', value: `task-${i}`, partition: i % 2 })));
  await producer.close();
  await admin.configureShareGroup('g', { startFrom: 'earliest', ...group });
  return { broker, admin, url };
}

function consumer(url: string, options: Partial<ConstructorParameters<typeof ShareConsumer>[0]> = {}): ShareConsumer {
  const c = new ShareConsumer({ broker: url, group: 'g', topics: ['tasks'], maxWaitMs: 100, ...options });
  cleanup.push(() => c.close());
  return c;
}

const lag = async (admin: Admin) => (await admin.describeShareGroup('g')).partitions.reduce((n, p) => n + p.lag, 0);

describe('ShareConsumer', () => {
  it('for await accepts each message once the loop moves on; leaving the loop accepts the last and releases the rest', async () => {
    const { admin, url } = await setup(20);
    const seen: string[] = [];
    for await (const m of consumer(url, { maxRecords: 20 })) {
      seen.push(m.value!.toString());
      if (seen.length === 12) break;
    }
    expect(seen).toHaveLength(12);
    expect(await lag(admin)).toBe(8); // 12 accepted; the 8 received but not handed out were released
    const rest: ShareMessage[] = [];
    const other = consumer(url);
    while (rest.length < 8) rest.push(...(await other.receive()));
    expect(rest.every((m) => m.deliveryCount === 2)).toBe(true);
    expect(new Set([...seen, ...rest.map((m) => m.value!.toString())]).size).toBe(20);
  });

  it('release, reject (to the dead-letter topic) and settling twice', async () => {
    const { admin, url } = await setup(2, { deadLetterTopic: 'tasks-dlq' });
    const c = consumer(url, { maxRecords: 10 });
    const [a, b] = await c.receive();
    await a!.reject();
    await b!.release();
    await expect(b!.ack()).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    const [again] = await c.receive();
    expect([again!.offset, again!.partition, again!.deliveryCount]).toEqual([b!.offset, b!.partition, 2]);
    await again!.ack();
    expect(await lag(admin)).toBe(0);
    expect((await admin.describeTopic('tasks-dlq')).partitions[0]!.highWatermark).toBe(1);
  });

  it('extend keeps a lease; extendLeases keeps one alive in the background', async () => {
    const { url } = await setup(2, { visibilityTimeoutMs: 300 });
    const c = consumer(url, { maxRecords: 1, visibilityTimeoutMs: 300, extendLeases: true });
    const plain = consumer(url, { maxRecords: 1, visibilityTimeoutMs: 300 });
    const [held] = await c.receive();
    const [short] = await plain.receive();
    await short!.extend(1_000);
    await new Promise((r) => setTimeout(r, 700)); // past 300 ms: held lives by background extension, short by extend
    await held!.ack();
    await short!.ack();
    const [none] = await plain.receive({ maxWaitMs: 0 });
    expect(none).toBeUndefined();
  });

  it('with autoAccept off a message nobody settles comes back after its lease', async () => {
    const { admin, url } = await setup(1, { visibilityTimeoutMs: 200 });
    const c = consumer(url, { autoAccept: false, maxWaitMs: 1_000 });
    let first: ShareMessage | null = null;
    for await (const m of c) {
      if (!first) {
        first = m;
        continue;
      }
      expect(m.offset).toBe(first.offset);
      expect(m.deliveryCount).toBe(2);
      await expect(first.ack()).rejects.toMatchObject({ code: 'RECEIPT_EXPIRED' });
      await m.ack();
      break;
    }
    expect(await lag(admin)).toBe(0);
  });
});
