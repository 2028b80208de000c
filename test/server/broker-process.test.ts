/**
 * End to end against the real broker process: 100,000 records from concurrent clients over 8 partitions,
 * a SIGKILL in the middle, a restart, and then every acknowledged record is in the log exactly once, at the
 * offset it was acknowledged with, in send order per partition. Also: an idempotent retry across a
 * SIGKILL and restart, and a graceful SIGTERM that writes the clean-shutdown marker.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const running: BrokerProcess[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop('SIGKILL');
});

async function launch(dataDir: string, port: number): Promise<BrokerProcess> {
  const broker = new BrokerProcess(dataDir, port);
  running.push(broker);
  await broker.start();
  return broker;
}

const PARTITIONS = 8;
const TOTAL = 100_000;
const PER_REQUEST = 250;

describe('broker process', () => {
  it(`keeps every acknowledged record exactly once across a SIGKILL (${TOTAL} records, ${PARTITIONS} partitions)`, async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let broker = await launch(dataDir, port);
    expect((await postJson(`${broker.url}/topics`, { name: 'load', partitions: PARTITIONS })).status).toBe(201);

    // acked[partition] = values in acknowledged offset order; sent counters make every value unique.
    const acked = new Map<number, Map<number, string>>();
    for (let p = 0; p < PARTITIONS; p++) acked.set(p, new Map());
    let ackedCount = 0;
    let killed = false;
    let sequence = 0;
    const client = async (partition: number) => {
      while (ackedCount < TOTAL) {
        const values = Array.from({ length: PER_REQUEST }, () => `p${partition}-${sequence++}`);
        try {
          const { status, json } = await postJson(`${broker.url}/topics/load/records`, { records: values.map((value) => ({ value, partition })) });
          if (status !== 200) throw new Error(`status ${status}`);
          json.offsets.forEach((o: { partition: number; offset: number }, i: number) => acked.get(o.partition)!.set(o.offset, values[i]!));
          ackedCount += values.length;
        } catch {
          // the broker is down (killed, restarting): this request is not acknowledged
          await new Promise((r) => setTimeout(r, 50));
        }
        if (!killed && ackedCount >= TOTAL * 0.4) {
          killed = true;
          await broker.stop('SIGKILL');
          broker = await launch(dataDir, port);
        }
      }
    };
    await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => client(p)));
    expect(killed).toBe(true);

    for (let p = 0; p < PARTITIONS; p++) {
      const stored = new Map<number, string>();
      for (let offset = 0; ; ) {
        const response = await fetch(`${broker.url}/topics/load/partitions/${p}/records?offset=${offset}&maxBytes=4194304`);
        const body = (await response.json()) as { records: { offset: number; value: string }[]; nextOffset: number; highWatermark: number };
        for (const r of body.records) stored.set(r.offset, r.value);
        if (body.nextOffset >= body.highWatermark) break;
        offset = body.nextOffset;
      }
      const mine = acked.get(p)!;
      for (const [offset, value] of mine) expect(stored.get(offset), `partition ${p} offset ${offset}`).toBe(value);
      const values = [...stored.values()];
      expect(new Set(values).size, `no record twice in partition ${p}`).toBe(values.length);
      // Send order per partition: sequence numbers only grow with the offset.
      const sequences = [...stored.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => Number(v.split('-')[1]));
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    }
    expect(ackedCount).toBeGreaterThanOrEqual(TOTAL);
    expect(await broker.stop('SIGTERM')).toBe(0);
    expect(existsSync(join(dataDir, 'clean-shutdown'))).toBe(true);
  }, 180_000);

  it('answers an idempotent retry with the original offsets after SIGKILL and restart', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let broker = await launch(dataDir, port);
    await postJson(`${broker.url}/topics`, { name: 'idem', partitions: 3 });
    const { json: producer } = await postJson(`${broker.url}/producers`, { name: 'retrier' });
    const request = { producer: { id: producer.producerId, epoch: producer.producerEpoch, sequence: 0 }, records: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { value: '3' }] };
    const first = await postJson(`${broker.url}/topics/idem/records`, request);
    expect(first.status).toBe(200);
    await broker.stop('SIGKILL');
    broker = await launch(dataDir, port);
    const retry = await postJson(`${broker.url}/topics/idem/records`, request);
    expect(retry).toEqual({ status: 200, json: { offsets: first.json.offsets, duplicate: true } });
    const next = await postJson(`${broker.url}/topics/idem/records`, { ...request, producer: { ...request.producer, sequence: 1 } });
    expect(next.json.duplicate).toBeUndefined();
    const description = (await (await fetch(`${broker.url}/topics/idem`)).json()) as { partitions: { logEndOffset: number }[] };
    expect(description.partitions.reduce((n, p) => n + p.logEndOffset, 0)).toBe(6);
  }, 60_000);

  it('SIGTERM lets in-flight requests finish, wakes long polls, writes the clean-shutdown marker and exits 0', async () => {
    const dataDir = tempDir();
    const broker = await launch(dataDir, await freePort());
    await postJson(`${broker.url}/topics`, { name: 'calm' });
    await postJson(`${broker.url}/topics/calm/records`, { records: [{ value: 'before' }] });
    const polling = fetch(`${broker.url}/topics/calm/partitions/0/records?offset=1&maxWaitMs=20000`);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const exit = broker.stop('SIGTERM');
    const response = await polling;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ records: [], nextOffset: 1 });
    expect(await exit).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(existsSync(join(dataDir, 'clean-shutdown'))).toBe(true);
    const again = await launch(dataDir, await freePort());
    const fetched = await (await fetch(`${again.url}/topics/calm/partitions/0/records?offset=0`)).json();
    expect(fetched).toMatchObject({ records: [{ value: 'before' }], highWatermark: 1 });
  }, 60_000);
});
