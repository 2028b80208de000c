/**
 * The listener's framing against a real broker process: versions it does not have, malformed, truncated and
 * oversized frames (fuzzed) close only their own connection and never crash the broker; a replayed
 * idempotent produce frame (kafkajs' golden bytes) is answered as a duplicate without appending again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { RawKafkaClient, apiVersionsRequest, startKafkaBroker, type KafkaBroker } from '../helpers/kafka.js';
import { postJson } from '../helpers/broker-process.js';
import { Reader } from '../../src/kafka/protocol/reader.js';
import { Writer } from '../../src/kafka/protocol/writer.js';
import { ApiVersions, IMPLEMENTED_APIS, InitProducerId, Produce } from '../../src/kafka/generated/index.js';
import { readBatchHeader } from '../../src/log/record-batch.js';
import { crc32c } from '../../src/log/crc32c.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);

describe('Kafka framing', () => {
  let k: KafkaBroker;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-frames-'));
    k = await startKafkaBroker(dir, ['--max-request-bytes', '65536']);
  }, 60_000);

  afterAll(async () => {
    await k?.broker.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  async function stillServes(): Promise<void> {
    const c = await RawKafkaClient.connect(k.kafkaPort);
    c.send(apiVersionsRequest(7));
    const reply = (await c.next())!;
    expect(reply.readInt32BE(0)).toBe(7);
    c.close();
    expect(k.broker.child!.exitCode).toBeNull();
  }

  it('ApiVersions offers exactly the implemented versions; an unknown ApiVersions version gets UNSUPPORTED_VERSION in v0', async () => {
    const c = await RawKafkaClient.connect(k.kafkaPort);
    c.send(apiVersionsRequest(1, 0));
    const ok = ApiVersions.readApiVersionsResponse(new Reader((await c.next())!, 4), 0);
    expect(ok.errorCode).toBe(0);
    expect(ok.apiKeys).toEqual(IMPLEMENTED_APIS.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion })));
    c.send(apiVersionsRequest(2, 99));
    const refused = (await c.next())!;
    expect(refused.readInt32BE(0)).toBe(2);
    expect(ApiVersions.readApiVersionsResponse(new Reader(refused, 4), 0).errorCode).toBe(35);
    c.close();
  });

  it('a version outside the implemented range of another API closes that connection only', async () => {
    const c = await RawKafkaClient.connect(k.kafkaPort);
    const frame = apiVersionsRequest(3);
    frame.writeInt16BE(1, 0); // Fetch
    frame.writeInt16BE(0, 2); // v0: not implemented (record batches v2 need v4)
    c.send(frame);
    expect(await c.next()).toBeNull();
    await stillServes();
  });

  it('a frame larger than the limit closes the connection before it is read', async () => {
    const c = await RawKafkaClient.connect(k.kafkaPort);
    const size = Buffer.alloc(4);
    size.writeInt32BE(2_000_000_000);
    c.sendRaw(size);
    expect(await c.next()).toBeNull();
    await stillServes();
  });

  it('fuzzed frames (random, truncated and bit-flipped real client frames) never crash the broker', async () => {
    const golden = ['kafkajs-Produce-v7.bin', 'kafkajs-JoinGroup-v5.bin', 'kcat-ApiVersions-v3.bin', 'kafkajs-Fetch-v11.bin', 'kafkajs-CreateTopics-v3.bin', 'kcat-InitProducerId-v4.bin', 'kafkajs-OffsetCommit-v5.bin'].map((f) =>
      readFileSync(new URL(f, FIXTURES)),
    );
    const frames = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom(...golden), fc.nat()).map(([g, n]) => g.subarray(0, n % g.length)),
      fc.tuple(fc.constantFrom(...golden), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([g, at, x]) => {
        const copy = Buffer.from(g);
        copy[at % copy.length]! ^= x;
        return copy;
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 4 }), fc.boolean(), async (list, lieAboutSize) => {
        const c = await RawKafkaClient.connect(k.kafkaPort);
        for (const f of list) {
          const size = Buffer.alloc(4);
          size.writeInt32BE(lieAboutSize ? f.length + 3 : f.length);
          c.sendRaw(Buffer.concat([size, f]));
        }
        // Whatever the broker answers (or closing), it answers promptly or waits for the missing bytes.
        await Promise.race([c.next(2_000).catch(() => null), new Promise((r) => setTimeout(r, 300))]);
        c.close();
      }),
      { numRuns: 150 },
    );
    await stillServes();
  }, 120_000);

  it('a replayed idempotent produce frame is answered with the first offsets and appends nothing', async () => {
    await postJson(`${k.broker.url}/topics`, { name: 'replayed', partitions: 2 });
    const c = await RawKafkaClient.connect(k.kafkaPort);
    // A producer id from this broker, then kafkajs' captured Produce v7 restamped with it.
    const init = new Writer();
    init.int16(22).int16(1).int32(1).nullableString('t', false);
    InitProducerId.writeInitProducerIdRequest(init, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    c.send(init.toBuffer());
    const ids = InitProducerId.readInitProducerIdResponse(new Reader((await c.next())!, 4), 1);
    expect(ids.errorCode).toBe(0);
    const golden = readFileSync(new URL('kafkajs-Produce-v7.bin', FIXTURES));
    const r = new Reader(golden);
    r.int16(); r.int16(); r.int32(); r.nullableString(false);
    const request = Produce.readProduceRequest(r, 7);
    const records = Buffer.from(request.topicData[0]!.partitionData[0]!.records!);
    const header = readBatchHeader(records, 0);
    expect(header.producerId).toBeGreaterThanOrEqual(0);
    records.writeBigInt64BE(BigInt(ids.producerId), 43); // producerId (the CRC covers attributes onwards: recompute)
    records.writeUInt32BE(crc32c(records.subarray(21)), 17);
    request.topicData = [{ name: 'replayed', partitionData: [{ index: 0, records }] }];
    const offsets: number[] = [];
    for (let i = 0; i < 2; i++) {
      const w = new Writer();
      w.int16(0).int16(7).int32(10 + i).nullableString('t', false);
      Produce.writeProduceRequest(w, 7, request);
      c.send(w.toBuffer());
      const reply = Produce.readProduceResponse(new Reader((await c.next())!, 4), 7);
      expect(reply.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
      offsets.push(reply.responses[0]!.partitionResponses[0]!.baseOffset);
    }
    expect(offsets).toEqual([0, 0]);
    const topic = (await (await fetch(`${k.broker.url}/topics/replayed`)).json()) as any;
    expect(topic.partitions[0].highWatermark).toBe(header.lastOffsetDelta + 1);
    c.close();
  });
});
