/**
 * The client against a real `sluice serve` process: an idempotent producer that rides out two SIGKILLs of the
 * broker without losing or duplicating a record, and a consumer group whose members come and go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConsumerRecord, type RecordMetadata } from '../../src/client/index.js';
import { BrokerProcess, freePort } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function startBroker(): Promise<BrokerProcess> {
  const broker = new BrokerProcess(tempDir(), await freePort());
  await broker.start();
  cleanup.push(() => broker.stop('SIGKILL'));
  return broker;
}

/** Every record of a topic, partition by partition, read with a groupless consumer. */
async function readTopic(url: string, topic: string, partitions: number, expected: number): Promise<ConsumerRecord[][]> {
  const consumer = new Consumer({ broker: url, partitions: Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, offset: 0 })), maxWaitMs: 0 });
  const byPartition: ConsumerRecord[][] = Array.from({ length: partitions }, () => []);
  let total = 0;
  for (let idle = 0; idle < 3; ) {
    const batch = await consumer.poll({ maxRecords: 5_000, timeoutMs: 300 });
    if (batch.length === 0) idle++;
    for (const r of batch) byPartition[r.partition]!.push(r);
    total += batch.length;
    if (total >= expected) idle = Math.max(idle, 2); // one more poll to catch anything beyond
  }
  await consumer.close();
  return byPartition;
}

describe('client against a broker process', () => {
  it('an idempotent producer sends 100,000 records across two SIGKILLs of the broker: each is stored once, in send order', async () => {
    const broker = await startBroker();
    const admin = new Admin({ broker: broker.url });
    cleanup.push(() => admin.close());
    await admin.createTopic({ name: 'events', partitions: 8 });
    // A small buffer: while the broker is down the producer fills it and send waits, as in production.
    const producer = new Producer({ broker: broker.url, lingerMs: 2, batchBytes: 16_384, bufferBytes: 262_144, retryBackoffMs: 20, retryBackoffMaxMs: 200 });
    cleanup.push(() => producer.close());

    const total = 100_000;
    const deliveries: Promise<RecordMetadata>[] = [];
    const kills = [30_000, 65_000];
    let restarted = Promise.resolve();
    for (let i = 0; i < total; i++) {
      if (kills.includes(i)) {
        await restarted;
        await deliveries[i - 2_000]; // the broker is up and taking records again
        await broker.stop('SIGKILL'); // with requests in flight
        restarted = new Promise((resolve) => setTimeout(resolve, 300)).then(() => broker.start());
      }
      deliveries.push((await producer.enqueue({ topic: 'events', key: `key-${i % 97}`, value: String(i) })).delivery);
    }
    const acks = await Promise.all(deliveries);
    await producer.close();

    const stored = await readTopic(broker.url, 'events', 8, total);
    const seen = new Map<number, { partition: number; offset: number }>();
    for (const records of stored) {
      let previous = -1;
      for (const r of records) {
        const i = Number(r.value!.toString());
        expect(seen.has(i), `record ${i} stored twice`).toBe(false);
        seen.set(i, { partition: r.partition, offset: r.offset });
        expect(i, `send order in partition ${r.partition}`).toBeGreaterThan(previous);
        previous = i;
      }
    }
    expect(seen.size).toBe(total);
    // every acknowledgement names where its record really is
    for (let i = 0; i < total; i += 997) expect(seen.get(i)).toEqual({ partition: acks[i]!.partition, offset: acks[i]!.offset });
  });

  it('three consumers of a 12-partition topic, one leaves and one joins: every record processed exactly once, commits never go backwards', async () => {
    const broker = await startBroker();
    const admin = new Admin({ broker: broker.url });
    cleanup.push(() => admin.close());
    await admin.createTopic({ name: 'work', partitions: 12 });
    const producer = new Producer({ broker: broker.url, lingerMs: 2 });
    cleanup.push(() => producer.close());
    const total = 24_000;
    const produceHalf = async (from: number) => {
      const sent: Promise<unknown>[] = [];
      for (let i = from; i < from + total / 2; i++) sent.push((await producer.enqueue({ topic: 'work', key: `k${i}`, value: String(i) })).delivery);
      await Promise.all(sent);
    };

    const processed = new Map<string, number>(); // partition/offset -> times
    const members = new Map<string, Consumer>();
    const loops: Promise<void>[] = [];
    const start = (name: string) => {
      const consumer = new Consumer({ broker: broker.url, group: 'workers', topics: ['work'], autoOffsetReset: 'earliest', heartbeatIntervalMs: 50, autoCommitIntervalMs: 50, maxWaitMs: 200 });
      members.set(name, consumer);
      cleanup.push(() => consumer.close());
      loops.push(
        (async () => {
          for await (const r of consumer) {
            const key = `${r.partition}/${r.offset}`;
            processed.set(key, (processed.get(key) ?? 0) + 1);
            if (r.offset % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 2)); // slow work: rebalances happen mid-stream
          }
        })(),
      );
    };

    // commits never go backwards: watch them from the outside while everything runs
    const lastCommitted = new Map<number, number>();
    let watching = true;
    let backwards = 0;
    const watcher = (async () => {
      while (watching) {
        const offsets = await admin.groupOffsets('workers').catch(() => []);
        for (const o of offsets) {
          if ((lastCommitted.get(o.partition) ?? -1) > o.offset) backwards++;
          lastCommitted.set(o.partition, o.offset);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    start('a');
    start('b');
    start('c');
    await waitFor(() => [...members.values()].every((m) => m.assignment().length === 4), 10_000, 'four partitions each');
    await produceHalf(0);
    await waitFor(() => processed.size > 4_000, 30_000, 'the group to get going');
    await members.get('c')!.close(); // leaves: its partitions go to a and b
    await produceHalf(total / 2);
    await waitFor(() => processed.size > 14_000, 30_000, 'progress after the leave');
    start('d'); // joins: takes partitions from a and b
    await waitFor(() => processed.size === total, 60_000, 'every record processed');
    await waitFor(async () => (await admin.groupOffsets('workers')).reduce((n, o) => n + o.lag, 0) === 0, 10_000, 'commits to catch up');
    watching = false;
    await watcher;
    for (const name of ['a', 'b', 'd']) await members.get(name)!.close();
    await Promise.all(loops);

    expect(backwards).toBe(0);
    expect(processed.size).toBe(total);
    // Revoke before assign: a partition moved (c left, d joined) only after its owner had processed and
    // committed what it handed out, so nothing is processed twice and no partition was worked on by two at once.
    const duplicates = [...processed.entries()].filter(([, times]) => times > 1).map(([key]) => key);
    expect(duplicates).toEqual([]);
  });
});
