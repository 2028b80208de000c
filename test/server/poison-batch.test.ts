/**
 * Issue 12, defect 1: a 122-byte binary produce (two header-only batches, recordCount 0, lastOffsetDelta
 * 2^31-1, valid CRCs) was accepted, broke the next roll and kept the broker from ever starting again. Every
 * variant is refused with 400 CORRUPT_MESSAGE with nothing appended, against a real broker process that is
 * then restarted; and a partition whose files cannot be loaded goes offline instead of failing start-up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BATCH, BATCH_HEADER_SIZE, LOG_OVERHEAD, computeBatchCrc } from '../../src/log/record-batch.js';
import { writeInt64 } from '../../src/log/buffers.js';
import { sep } from 'node:path';
import { pino } from 'pino';
import type { RunningBroker } from '../../src/server/broker.js';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf } from '../helpers/log-builder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: BrokerProcess | null = null;
afterEach(async () => {
  await broker?.stop('SIGKILL');
  broker = null;
});

/** A batch with its header fields changed after encoding, its CRC made valid again. */
function tampered(base: Buffer, change: (b: Buffer) => void): Buffer {
  const b = Buffer.from(base);
  change(b);
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), BATCH.crc);
  return b;
}

/** A header-only batch (no records at all), as the probe sent it. */
function headerOnly(recordCount: number, lastOffsetDelta: number): Buffer {
  const b = Buffer.from(batchOf(['x']).subarray(0, BATCH_HEADER_SIZE));
  b.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD, BATCH.batchLength);
  return tampered(b, (x) => {
    x.writeInt32BE(recordCount, BATCH.recordCount);
    x.writeInt32BE(lastOffsetDelta, BATCH.lastOffsetDelta);
  });
}

const POISONS: Record<string, Buffer> = {
  'the probe: two header-only batches, count 0, delta 2^31-1': Buffer.concat([headerOnly(0, 0x7fffffff), headerOnly(0, 0x7fffffff)]),
  'count 0, delta 0': headerOnly(0, 0),
  'count 1 in the header, no record in the payload': headerOnly(1, 0),
  'count != delta + 1 (3 records, delta 5)': tampered(batchOf(['a', 'b', 'c']), (b) => b.writeInt32BE(5, BATCH.lastOffsetDelta)),
  'count != delta + 1 (3 records, count 2)': tampered(batchOf(['a', 'b', 'c']), (b) => b.writeInt32BE(2, BATCH.recordCount)),
  'delta past a segment (count 2^31-1 claimed, 1 record present)': tampered(batchOf(['a']), (b) => {
    b.writeInt32BE(0x7fffffff, BATCH.recordCount);
    b.writeInt32BE(0x7ffffffe, BATCH.lastOffsetDelta);
  }),
  'negative count and delta': tampered(batchOf(['a']), (b) => {
    b.writeInt32BE(-1, BATCH.recordCount);
    b.writeInt32BE(-2, BATCH.lastOffsetDelta);
  }),
  'maxTimestamp beyond 2^53': tampered(batchOf(['a']), (b) => b.writeUInt32BE(0x7fffffff, BATCH.maxTimestamp)),
  'maxTimestamp below the first record': tampered(batchOf(['a'], { timestamp: 1_700_000_000_000 }), (b) => writeInt64(b, BATCH.maxTimestamp, 5)),
};

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

async function produceBinary(url: string, topic: string, partition: number, body: Buffer): Promise<{ status: number; json: any }> {
  const response = await fetch(`${url}/topics/${topic}/partitions/${partition}/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.sluice.record-batch' },
    body,
  });
  return { status: response.status, json: await response.json() };
}

describe('poison batches', () => {
  it('every variant is refused with 400 CORRUPT_MESSAGE, nothing is appended, and the broker restarts', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    // Small segments, so that a roll follows the bad produce (the probe's batch broke the roll).
    broker = new BrokerProcess(dir, await freePort(), ['--segment-bytes', '1024']);
    await broker.start();
    expect((await postJson(`${broker.url}/topics`, { name: 'p', partitions: 1 })).status).toBe(201);
    expect((await postJson(`${broker.url}/topics`, { name: 'other', partitions: 1 })).status).toBe(201);
    expect((await postJson(`${broker.url}/topics/other/records`, { records: [{ value: 'kept' }] })).status).toBe(200);
    for (const [name, body] of Object.entries(POISONS)) {
      const reply = await produceBinary(broker.url, 'p', 0, body);
      expect({ name, status: reply.status, code: reply.json.error?.code }).toEqual({ name, status: 400, code: 'CORRUPT_MESSAGE' });
    }
    // Nothing was appended: the next record gets offset 0, and enough of them roll segments.
    for (let i = 0; i < 40; i++) {
      const reply = await postJson(`${broker.url}/topics/p/records`, { records: [{ value: `v${i}`.padEnd(100, '.') }] });
      expect(reply.status).toBe(200);
      expect(reply.json.offsets[0].offset).toBe(i);
    }
    await broker.stop('SIGKILL');
    await broker.start();
    const health = await getJson(`${broker.url}/health`);
    expect(health.offlinePartitions).toEqual([]);
    const offsets: number[] = [];
    while (offsets.length < 40) {
      const page = await getJson(`${broker.url}/topics/p/partitions/0/records?offset=${offsets.length}`);
      if (page.records.length === 0) break;
      offsets.push(...page.records.map((r: { offset: number }) => r.offset));
    }
    expect(offsets).toEqual([...Array(40).keys()]);
    const kept = await getJson(`${broker.url}/topics/other/partitions/0/records?offset=0`);
    expect(kept.records[0].value).toBe('kept');
  });

  it('a partition whose files cannot be loaded goes offline; the broker starts and serves the others', async () => {
    const dir = tempDir();
    const first = await startTestBroker(dir);
    const call = (b: RunningBroker, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
      b.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) }).then((r) => ({ status: r.statusCode, json: r.body ? r.json() : null }));
    expect((await call(first, 'POST', '/topics', { name: 'good', partitions: 2 })).status).toBe(201);
    expect((await call(first, 'POST', '/topics', { name: 'bad', partitions: 2 })).status).toBe(201);
    expect((await call(first, 'POST', '/topics/good/records', { records: [{ value: 'g', partition: 1 }] })).status).toBe(200);
    expect((await call(first, 'POST', '/topics/bad/records', { records: [{ value: 'b', partition: 1 }] })).status).toBe(200);
    await first.close();

    // Every open of bad-0's files fails (a bad disk sector, a file an operator mangled): loading it throws.
    const io = new FaultyFileIO();
    io.inject({ op: 'open', pathIncludes: `${sep}bad-0${sep}`, errno: 'EIO' });
    const lines: { level: number; msg: string; partition?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const b = await startTestBroker(dir, { io, logger });
    try {
      const health = await call(b, 'GET', '/health');
      expect(health.json.offlinePartitions).toEqual(['bad-0']);
      const metrics = (await b.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/^sluice_offline_partitions 1$/m);
      expect(lines.some((l) => l.level === 50 && /could not be loaded/.test(l.msg) && l.partition === 'bad-0')).toBe(true);
      // The other partitions of both topics serve as before.
      expect((await call(b, 'GET', '/topics/good/partitions/1/records?offset=0')).json.records[0].value).toBe('g');
      expect((await call(b, 'GET', '/topics/bad/partitions/1/records?offset=0')).json.records[0].value).toBe('b');
      expect((await call(b, 'POST', '/topics/good/records', { records: [{ value: 'g2', partition: 0 }] })).status).toBe(200);
      // The offline one answers a retriable storage error naming the partition (no path), and describe shows it.
      const refused = await call(b, 'POST', '/topics/bad/records', { records: [{ value: 'x', partition: 0 }] });
      expect(refused.status).toBe(500);
      expect(refused.json.error).toMatchObject({ code: 'KAFKA_STORAGE_ERROR', retriable: true });
      expect(refused.json.error.message).toContain('bad-0');
      expect(refused.json.error.message).not.toContain(dir);
      expect((await call(b, 'GET', '/topics/bad/partitions/0/records?offset=0')).status).toBe(500);
      const described = await call(b, 'GET', '/topics/bad');
      expect(described.json.partitions.map((p: { partition: number; offline?: boolean }) => [p.partition, p.offline ?? false])).toEqual([
        [0, true],
        [1, false],
      ]);
      // Creating the topic again is refused while its data is there; deleting it removes the data.
      expect((await call(b, 'POST', '/topics', { name: 'bad', partitions: 1 })).status).toBe(409);
      io.clear();
      expect((await call(b, 'DELETE', '/topics/bad')).status).toBe(204);
      expect((await call(b, 'GET', '/health')).json.offlinePartitions).toEqual([]);
      expect((await call(b, 'POST', '/topics', { name: 'bad', partitions: 1 })).status).toBe(201);
      expect((await call(b, 'POST', '/topics/bad/records', { records: [{ value: 'new' }] })).json.offsets[0].offset).toBe(0);
    } finally {
      await b.close();
    }
  });

  it('an offline partition of __consumer_offsets leaves the other groups working', async () => {
    const dir = tempDir();
    const overrides = { offsetsTopicPartitions: 2 };
    const first = await startTestBroker(dir, { overrides });
    await first.close();
    const io = new FaultyFileIO();
    io.inject({ op: 'open', pathIncludes: `${sep}__consumer_offsets-1${sep}`, errno: 'EIO' });
    const b = await startTestBroker(dir, { io, overrides });
    try {
      expect((await b.app.inject({ method: 'GET', url: '/health' })).json().offlinePartitions).toEqual(['__consumer_offsets-1']);
      await b.app.inject({ method: 'POST', url: '/topics', payload: { name: 't', partitions: 1 } });
      const outcomes = new Map<number, string>();
      for (let i = 0; i < 12; i++) {
        const r = await b.app.inject({ method: 'POST', url: `/groups/g${i}/offsets`, payload: { offsets: [{ topic: 't', partition: 0, offset: 0 }] } });
        outcomes.set(r.statusCode, r.statusCode === 200 || r.statusCode === 204 ? 'ok' : r.json().error.code);
      }
      // Some groups map to the healthy partition and commit; the others get a retriable storage error.
      expect([...outcomes.values()].sort()).toEqual(['KAFKA_STORAGE_ERROR', 'ok']);
    } finally {
      await b.close();
    }
  });
});
