/**
 * Share groups against a real `sluice serve` process and receivers in their own processes: a drain of
 * 100,000 records by 8 receivers (each accepted exactly once, no record leased to two receivers at once),
 * receivers that never ack (their records come back after the visibility timeout), and a SIGKILL of the
 * broker in the middle of a drain (nothing accepted comes back, everything else does, nothing is lost).
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Producer, ShareConsumer, type ShareMessage } from '../../src/client/index.js';
import { BrokerProcess, freePort } from '../helpers/broker-process.js';
import { startShareWorker, type ShareWorkerMessage } from '../helpers/share-worker.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function startBroker(dataDir = tempDir(), port?: number): Promise<BrokerProcess> {
  const broker = new BrokerProcess(dataDir, port ?? (await freePort()));
  await broker.start();
  cleanup.push(() => broker.stop('SIGKILL'));
  return broker;
}

async function produce(url: string, topic: string, partitions: number, total: number): Promise<void> {
  const admin = new Admin({ broker: url });
  await admin.createTopic({ name: topic, partitions });
  await admin.close();
  const producer = new Producer({ broker: url, lingerMs: 5, batchBytes: 262_144 });
  const deliveries: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) deliveries.push((await producer.enqueue({ topic, value: String(i), partition: i % partitions })).delivery);
  await Promise.all(deliveries);
  await producer.close();
}

function stopWorkers(workers: ChildProcess[]): Promise<unknown> {
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.exitCode !== null || w.signalCode !== null) return resolve();
          w.once('exit', () => resolve());
          if (w.connected) w.send('stop');
          else w.kill('SIGKILL');
          setTimeout(() => w.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
}

describe('share groups against a broker process', () => {
  it('8 receivers in 8 processes drain 100,000 records: each accepted exactly once, none leased to two receivers at once', async () => {
    const broker = await startBroker();
    const total = 100_000;
    const visibilityTimeoutMs = 20_000;
    await produce(broker.url, 'work', 4, total);
    const admin = new Admin({ broker: broker.url });
    cleanup.push(() => admin.close());
    await admin.configureShareGroup('pool', { startFrom: 'earliest', visibilityTimeoutMs });

    const leases = new Map<string, { name: string; sentAt: number; receivedAt: number }[]>();
    const accepted = new Map<string, number>();
    const errors: string[] = [];
    let acceptedTotal = 0;
    const onMessage = (m: ShareWorkerMessage) => {
      if (m.type === 'received') {
        for (const [p, o] of m.records) {
          const key = `${p}/${o}`;
          leases.set(key, [...(leases.get(key) ?? []), { name: m.name, sentAt: m.sentAt, receivedAt: m.receivedAt }]);
        }
      } else if (m.type === 'accepted') {
        for (const [p, o] of m.records) accepted.set(`${p}/${o}`, (accepted.get(`${p}/${o}`) ?? 0) + 1);
        acceptedTotal += m.records.length;
      } else if (m.type === 'error' || m.type === 'ack-failed') errors.push(JSON.stringify(m));
    };
    const workers = Array.from({ length: 8 }, (_, i) =>
      startShareWorker({ name: `w${i}`, broker: broker.url, group: 'pool', topic: 'work', maxRecords: 100, visibilityTimeoutMs }, onMessage),
    );
    cleanup.push(() => stopWorkers(workers));
    await waitFor(() => acceptedTotal >= total || errors.length > 0, 50_000, 'the drain');
    await stopWorkers(workers);
    expect(errors).toEqual([]);
    expect(accepted.size).toBe(total);
    expect([...accepted.values()].every((n) => n === 1)).toBe(true);
    expect([...accepted.keys()].every((k) => /^[0-3]\/\d+$/.test(k))).toBe(true);
    // A second delivery of a record may only be answered after the first lease could have timed out.
    let overlaps = 0;
    for (const deliveries of leases.values()) {
      for (let i = 1; i < deliveries.length; i++) if (deliveries[i]!.receivedAt < deliveries[i - 1]!.sentAt + visibilityTimeoutMs) overlaps++;
    }
    expect(overlaps).toBe(0);
    expect(new Set([...leases.values()].map((d) => d[0]!.name)).size).toBeGreaterThan(1);
    const description = await admin.describeShareGroup('pool');
    expect(description.partitions.map((p) => [p.startOffset, p.lag])).toEqual([
      [total / 4, 0],
      [total / 4, 0],
      [total / 4, 0],
      [total / 4, 0],
    ]);
  });

  it('records of receivers that never ack come back after the visibility timeout with deliveryCount 2', async () => {
    const broker = await startBroker();
    await produce(broker.url, 'slow', 2, 40);
    const admin = new Admin({ broker: broker.url });
    cleanup.push(() => admin.close());
    await admin.configureShareGroup('lazy', { startFrom: 'earliest', visibilityTimeoutMs: 300 });
    const firstDeliveries = new Map<string, number>();
    const idle = startShareWorker({ name: 'idle', broker: broker.url, group: 'lazy', topic: 'slow', maxRecords: 40, visibilityTimeoutMs: 300, neverAck: true }, (m) => {
      if (m.type === 'received') for (const [p, o, d] of m.records) if (!firstDeliveries.has(`${p}/${o}`)) firstDeliveries.set(`${p}/${o}`, d);
    });
    cleanup.push(() => stopWorkers([idle]));
    await waitFor(() => firstDeliveries.size === 40, 20_000, 'the first deliveries');
    await stopWorkers([idle]);
    expect([...firstDeliveries.values()].every((d) => d === 1)).toBe(true);
    const consumer = new ShareConsumer({ broker: broker.url, group: 'lazy', topics: ['slow'], maxWaitMs: 2_000 });
    cleanup.push(() => consumer.close());
    const second: ShareMessage[] = [];
    while (second.length < 40) second.push(...(await consumer.receive()));
    expect(new Set(second.map((m) => `${m.partition}/${m.offset}`))).toEqual(new Set(firstDeliveries.keys()));
    expect(second.every((m) => m.deliveryCount >= 2)).toBe(true);
    expect(second.filter((m) => m.deliveryCount === 2).length).toBeGreaterThan(0);
    await Promise.all(second.map((m) => m.ack()));
    expect((await admin.describeShareGroup('lazy')).partitions.every((p) => p.lag === 0)).toBe(true);
  });

  it('a SIGKILL of the broker mid-drain: nothing accepted is delivered again, everything unaccepted is, nothing is lost', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let broker = await startBroker(dataDir, port);
    const total = 6_000;
    await produce(broker.url, 'orders', 4, total);
    const admin = new Admin({ broker: broker.url, retryTimeoutMs: 20_000 });
    cleanup.push(() => admin.close());
    // A lease whose reply was lost in the crash ends after 10 s, well within the wait below.
    await admin.configureShareGroup('billing', { startFrom: 'earliest', visibilityTimeoutMs: 10_000 });

    let killedAt = Infinity;
    let restarted = false;
    const deliveries: { key: string; at: number }[] = [];
    const acceptedAt = new Map<string, number[]>();
    /** records whose ack was on its way when the broker died (it may or may not have been stored) */
    const ambiguous = new Set<string>();
    const receivers = Array.from({ length: 4 }, () => new ShareConsumer({ broker: broker.url, group: 'billing', topics: ['orders'], maxRecords: 50, maxWaitMs: 200, retryTimeoutMs: 30_000 }));
    cleanup.push(() => Promise.all(receivers.map((r) => r.close())));
    const acceptedCount = () => [...acceptedAt.values()].reduce((n, a) => n + a.length, 0);
    let stop = false;
    const loopErrors: unknown[] = [];
    const loops = receivers.map(async (consumer) => {
      while (!stop) {
        const batch = await consumer.receive();
        const at = Date.now();
        for (const m of batch) deliveries.push({ key: `${m.partition}/${m.offset}`, at });
        await new Promise((r) => setTimeout(r, 2)); // processing
        const sentAt = Date.now();
        const results = await Promise.allSettled(batch.map((m) => m.ack()));
        batch.forEach((m, i) => {
          const key = `${m.partition}/${m.offset}`;
          if (results[i]!.status === 'fulfilled') acceptedAt.set(key, [...(acceptedAt.get(key) ?? []), Date.now()]);
          else if (sentAt < killedAt) ambiguous.add(key);
        });
      }
    }).map((loop) => loop.catch((err) => void loopErrors.push(err)));
    await waitFor(() => acceptedCount() >= total * 0.4, 30_000, '40% accepted');
    // A receiver that holds its records (never acks) when the broker dies: they must all come back.
    const holder = new ShareConsumer({ broker: broker.url, group: 'billing', topics: ['orders'], maxRecords: 20, maxWaitMs: 1_000 });
    cleanup.push(() => holder.close());
    const held = await holder.receive();
    expect(held.length).toBeGreaterThan(0);
    for (const m of held) deliveries.push({ key: `${m.partition}/${m.offset}`, at: Date.now() });
    killedAt = Date.now();
    await broker.stop('SIGKILL');
    const acceptedBeforeKill = new Set([...acceptedAt].filter(([, at]) => at.some((t) => t <= killedAt)).map(([k]) => k));
    const deliveredBeforeKill = new Set(deliveries.filter((d) => d.at <= killedAt).map((d) => d.key));
    broker = new BrokerProcess(dataDir, port);
    await broker.start();
    cleanup.push(() => broker.stop('SIGKILL'));
    restarted = true;
    // An accept on its way when the broker died may have been stored with its reply lost (the retry then
    // gets RECEIPT_EXPIRED): such records count as done once the broker says so.
    const settled = () => new Set([...acceptedAt.keys(), ...ambiguous]).size;
    await waitFor(() => settled() >= total || loopErrors.length > 0, 45_000, 'the rest of the drain');
    await waitFor(async () => (await admin.describeShareGroup('billing')).partitions.every((p) => p.lag === 0), 20_000, 'no lag');
    expect(loopErrors).toEqual([]);
    stop = true;
    await Promise.all(loops);
    expect(restarted).toBe(true);
    // Nothing lost (every record accepted, or stored as accepted by an ack whose reply the crash took, and
    // the broker has nothing left), nothing accepted twice.
    expect(settled()).toBe(total);
    expect((await admin.describeShareGroup('billing')).partitions.map((p) => [p.startOffset, p.lag])).toEqual([
      [total / 4, 0],
      [total / 4, 0],
      [total / 4, 0],
      [total / 4, 0],
    ]);
    expect([...acceptedAt.values()].filter((a) => a.length !== 1)).toEqual([]);
    // Nothing accepted before the kill is delivered after it.
    const deliveredAfter = new Set(deliveries.filter((d) => d.at > killedAt).map((d) => d.key));
    expect([...acceptedBeforeKill].filter((k) => deliveredAfter.has(k))).toEqual([]);
    // Everything delivered before the kill and not accepted (nor with an ack in flight) is delivered again.
    const unaccepted = [...deliveredBeforeKill].filter((k) => !acceptedBeforeKill.has(k) && !ambiguous.has(k));
    expect(unaccepted.length).toBeGreaterThanOrEqual(held.length);
    expect(unaccepted.filter((k) => !deliveredAfter.has(k))).toEqual([]);
    expect(acceptedBeforeKill.size).toBeGreaterThanOrEqual(total * 0.4);
  });
});
