/**
 * Producer ids come in blocks (no write per anonymous producer, and the registry does not grow with them),
 * and idempotent-producer state expires after producerIdExpirationMs, on a manual clock.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { LocalMetadataStore, PRODUCER_ID_BLOCK_SIZE } from '../../src/topics/metadata-store.js';
import { requestProducerId } from '../../src/log/request-tag.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe('producer id registry', () => {
  it('100,000 anonymous producers: unique ids, one write per block, a registry that stays empty', async () => {
    const dir = tempDir();
    const io = new FaultyFileIO();
    const store = new LocalMetadataStore(io, dir);
    await store.load();
    const renamesBefore = io.metadataOps.length;
    let last = 0;
    for (let i = 0; i < 100_000; i++) {
      const { producerId, producerEpoch } = await store.registerProducer(null);
      expect(producerId).toBeGreaterThan(last);
      expect(producerEpoch).toBe(0);
      last = producerId;
    }
    const atomicWrites = io.metadataOps.slice(renamesBefore).filter((op) => op.startsWith('rename')).length;
    expect(atomicWrites).toBe(100_000 / PRODUCER_ID_BLOCK_SIZE);
    expect(store.namedProducers).toBe(0);
    const file = readFileSync(join(dir, 'meta', 'producers.json'), 'utf8');
    expect(file.length).toBeLessThan(100);
    expect(store.getProducer(last)).toEqual({ producerId: last, producerEpoch: 0, name: null });
    expect(store.getProducer(last + 1)).toBeUndefined(); // the 100th block ended with the last id
    expect(store.getProducer(0)).toBeUndefined();

    // After a restart no id is handed out twice: the next block starts after the reserved one.
    const again = new LocalMetadataStore(io, dir);
    await again.load();
    expect((await again.registerProducer(null)).producerId).toBeGreaterThan(last);
    expect(again.getProducer(last)?.producerEpoch).toBe(0);
  });

  it('named producers are remembered with their epoch across restarts, anonymous ones are not', async () => {
    const dir = tempDir();
    const store = new LocalMetadataStore(new FaultyFileIO(), dir);
    await store.load();
    await store.registerProducer(null);
    const first = await store.registerProducer('billing');
    await store.registerProducer(null);
    const second = await store.registerProducer('billing');
    expect(second).toEqual({ ...first, producerEpoch: 1 });
    const again = new LocalMetadataStore(new FaultyFileIO(), dir);
    await again.load();
    expect(again.namedProducers).toBe(1);
    expect(again.getProducer(first.producerId)).toEqual(second);
    expect(await again.registerProducer('billing')).toEqual({ ...first, producerEpoch: 2 });
  });

  it('reads a producers.json from before blocks: anonymous entries go, nothing below its bound is reissued', async () => {
    const dir = tempDir();
    const io = new FaultyFileIO();
    await io.mkdir(join(dir, 'meta'));
    const legacy = { nextProducerId: 4, producers: [{ producerId: 1, producerEpoch: 0, name: null }, { producerId: 2, producerEpoch: 3, name: 'n' }, { producerId: 3, producerEpoch: 0, name: null }] };
    const fd = await io.open(join(dir, 'meta', 'producers.json'), 'create');
    await io.writev(fd, [Buffer.from(JSON.stringify(legacy))], 0);
    await io.close(fd);
    const store = new LocalMetadataStore(io, dir);
    await store.load();
    expect(store.namedProducers).toBe(1);
    expect(store.getProducer(2)).toEqual({ producerId: 2, producerEpoch: 3, name: 'n' });
    expect(store.getProducer(3)).toEqual({ producerId: 3, producerEpoch: 0, name: null });
    expect((await store.registerProducer(null)).producerId).toBe(4);
  });
});

describe('producer state expiry', () => {
  it('a partition forgets a producer idle for producerIdExpirationMs; an active one stays', async () => {
    const clock = new ManualClock();
    const manager = await LogManager.open({ dataDir: tempDir(), clock, producerIdExpirationMs: 60_000, producerIdExpirationCheckIntervalMs: 10_000 });
    const log = await manager.create({ topic: 't', partition: 0 });
    await log.append(batchOf(['a'], { producerId: 7, producerEpoch: 0, baseSequence: 0, timestamp: clock.now() }));
    await log.append(batchOf(['b'], { producerId: 8, producerEpoch: 0, baseSequence: 0, timestamp: clock.now() }));
    clock.advance(40_000);
    await log.append(batchOf(['c'], { producerId: 8, producerEpoch: 0, baseSequence: 1, timestamp: clock.now() }));
    // The check runs every 10 s: by 70 s producer 7 has been idle 70 s, producer 8 only 30 s.
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(log.producerState.get(7)).toBeUndefined();
    expect(log.producerState.get(8)?.batches.length).toBe(2);
    // Producer 7 is new again: a retry of its old batch is not recognised, sequence 0 is expected.
    await expect(log.append(batchOf(['a'], { producerId: 7, producerEpoch: 0, baseSequence: 3, timestamp: clock.now() }))).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    await manager.close();
  });

  it('the JSON route forgets idle producer sessions, and an idempotent retry within the window is still a duplicate', async () => {
    const clock = new ManualClock();
    const broker = await startTestBroker(tempDir(), { clock, overrides: { producerIdExpirationMs: 60_000, producerIdExpirationCheckIntervalMs: 1_000 } });
    try {
      const call = (url: string, payload: object) => broker.app.inject({ method: 'POST', url, payload }).then((r) => r.json());
      await call('/topics', { name: 't', partitions: 4 });
      for (let i = 0; i < 50; i++) {
        const { producerId, producerEpoch } = await call('/producers', {});
        const body = { records: [{ value: `v${i}` }], producer: { id: producerId, epoch: producerEpoch, sequence: 0 } };
        const first = await call('/topics/t/records', body);
        expect((await call('/topics/t/records', body)).duplicate).toBe(true);
        expect((await call('/topics/t/records', body)).offsets).toEqual(first.offsets);
      }
      expect(broker.services.replicas.producerSessions).toBe(50);
      clock.advance(61_000);
      const { producerId } = await call('/producers', {});
      await call('/topics/t/records', { records: [{ value: 'x' }], producer: { id: producerId, epoch: 0, sequence: 0 } });
      expect(broker.services.replicas.producerSessions).toBe(1);
    } finally {
      await broker.close();
    }
  });

  it('a JSON session stays while a partition still knows the producer, and goes with it: then the producer is new', async () => {
    const clock = new ManualClock();
    const broker = await startTestBroker(tempDir(), { clock, overrides: { producerIdExpirationMs: 60_000, producerIdExpirationCheckIntervalMs: 1_000 } });
    try {
      const call = (url: string, payload: object) => broker.app.inject({ method: 'POST', url, payload }).then((r) => r.json());
      await call('/topics', { name: 't' });
      const { producerId } = await call('/producers', {});
      const send = (sequence: number, timestamp?: number) =>
        call('/topics/t/records', { records: [{ value: `v${sequence}`, ...(timestamp ? { timestamp } : {}) }], producer: { id: producerId, epoch: 0, sequence } });
      // Record timestamps are what the partitions expire by: this one keeps the producer 50 s longer.
      const first = await send(0, clock.now() + 50_000);
      const log = broker.services.logs.get({ topic: 't', partition: 0 })!;
      clock.advance(61_000);
      await call('/producers', {}); // any request may run the idle check; this one leaves the session alone
      expect(await send(1, clock.now() + 1)).toEqual({ offsets: [expect.objectContaining({ partition: 0, offset: 1 })] });
      expect(log.producerState.get(requestProducerId(producerId))).toBeDefined();
      expect((await send(0)).offsets).toEqual(first.offsets);
      expect((await send(2)).duplicate).toBeUndefined();
      // Idle past both expiries: the partition forgets the producer, then its session goes at the next check.
      // (The partitions' check re-arms after it ran: let it run once more after the jump.)
      clock.advance(61_000);
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(1_000);
      expect(log.producerState.get(requestProducerId(producerId))).toBeUndefined();
      const other = await call('/producers', {});
      await call('/topics/t/records', { records: [{ value: 'x' }], producer: { id: other.producerId, epoch: 0, sequence: 0 } });
      expect(broker.services.replicas.producerSessions).toBe(1);
      // A retry now is not recognised: the producer starts over at 0, as a Kafka producer whose id expired.
      expect((await send(2)).error).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE', expectedSequence: 0 });
      expect((await send(0)).duplicate).toBeUndefined();
    } finally {
      await broker.close();
    }
  });
});
