/**
 * The client suite (src/client end to end): sluice/client's Producer and Consumer against the real broker
 * process (`sluice serve --fsync always`), 1 KiB records, next to
 *
 * - the JSON path a user without the client takes: POST /topics/:t/records with 1,000 records per request and
 *   GET .../records (JSON), one request in flight per partition, on undici Pools;
 * - the raw disk: fs.write + fdatasync of the same bytes in the producer's batch size (produce), fs.read of
 *   the segment files just written (consume, from the page cache).
 *
 * Each case runs `rounds` times after one unmeasured round, subject and baseline alternating; medians are
 * reported. Every produce round writes a fresh topic that is deleted afterwards.
 */
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Consumer, Producer, type RecordMetadata } from '../src/client/index.js';
import type { ServiceProcess } from './lib/child-processes.js';
import { interleavedRounds, type RoundsResult } from './lib/measure.js';
import { RawAppender } from './lib/raw-io.js';
import { makeResult, ratioTarget, type BenchResult, type Target } from './lib/results.js';
import type { Suite, SuiteContext, SuiteOutput } from './lib/suite.js';
import { openPool, send } from './http/load.js';
import { createTopic, deleteTopic, startBroker } from './http/servers.js';

const RECORD_BYTES = 1_024;
const PARTITIONS = 4;
const JSON_RECORDS_PER_REQUEST = 1_000;
const CASES = 4;
/** The point of the client: the JSON path should reach at most 0.8× of what the binary path moves. */
const BINARY_BEATS_JSON = ratioTarget('<=', 0.8);

interface Settings {
  records: number;
  rounds: number;
}

const settingsFor = (quick: boolean): Settings => ({ records: quick ? 20_000 : 200_000, rounds: quick ? 1 : 3 });

let serial = 0;
const freshTopic = () => `client-bench-${++serial}`;
const value = (i: number) => String(i).padStart(RECORD_BYTES, 'x');
const mb = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** Producer (binary path, defaults, acks=all): MB/s of record values. */
async function clientProduce(broker: ServiceProcess, topic: string, records: number): Promise<number> {
  const producer = new Producer({ broker: broker.url });
  const started = performance.now();
  let last: Promise<RecordMetadata> = Promise.resolve({ topic, partition: 0, offset: 0, timestamp: 0 });
  const deliveries: Promise<RecordMetadata>[] = [];
  for (let i = 0; i < records; i++) {
    last = (await producer.enqueue({ topic, value: value(i) })).delivery;
    if (i % 10_000 === 0) deliveries.push(last);
  }
  await Promise.all([...deliveries, last]);
  const ms = performance.now() - started;
  await producer.close();
  return mb(records * RECORD_BYTES, ms);
}

/** The JSON path: 1,000 records per POST, one request in flight per partition. */
async function jsonProduce(broker: ServiceProcess, topic: string, records: number): Promise<number> {
  const pool = openPool(broker.url, PARTITIONS);
  const requests = Math.ceil(records / JSON_RECORDS_PER_REQUEST);
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, partition) => {
        for (let r = next++; r < requests; r = next++) {
          const body = JSON.stringify({ records: Array.from({ length: JSON_RECORDS_PER_REQUEST }, (_, i) => ({ value: value(r * JSON_RECORDS_PER_REQUEST + i), partition })) });
          await send(pool, { method: 'POST', path: `/topics/${topic}/records`, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) });
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return mb(requests * JSON_RECORDS_PER_REQUEST * RECORD_BYTES, performance.now() - started);
}

/** The raw disk: write + fdatasync of the same bytes in the producer's batch size. */
async function rawProduce(dir: string, records: number): Promise<number> {
  const path = join(dir, `raw-${++serial}.bin`);
  const appender = await RawAppender.create(path, 'always', 0);
  const chunk = Buffer.alloc(512 * 1024, 'x');
  const total = records * RECORD_BYTES;
  const started = performance.now();
  for (let written = 0; written < total; written += chunk.length) await appender.append(chunk);
  const ms = performance.now() - started;
  await appender.close();
  await rm(path);
  return mb(total, ms);
}

/** Consumer (binary path, no group) reading every partition from 0: MB/s of record values. */
async function clientConsume(broker: ServiceProcess, topic: string, records: number): Promise<number> {
  const consumer = new Consumer({ broker: broker.url, partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 0 })), maxWaitMs: 100 });
  const started = performance.now();
  let bytes = 0;
  for (let n = 0; n < records; ) {
    const batch = await consumer.poll({ maxRecords: 5_000 });
    for (const r of batch) bytes += r.value!.length;
    n += batch.length;
  }
  const ms = performance.now() - started;
  await consumer.close();
  return mb(bytes, ms);
}

/** The JSON path: GET .../records with maxRecords 1,000, one request in flight per partition. */
async function jsonConsume(broker: ServiceProcess, topic: string, records: number): Promise<number> {
  const pool = openPool(broker.url, PARTITIONS);
  let bytes = 0;
  let count = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, partition) => {
        for (let offset = 0; count < records; ) {
          const reply = await pool.request({ method: 'GET', path: `/topics/${topic}/partitions/${partition}/records?offset=${offset}&maxRecords=${JSON_RECORDS_PER_REQUEST}&maxBytes=4194304` });
          if (reply.statusCode !== 200) throw new Error(`JSON fetch answered ${reply.statusCode}: ${await reply.body.text()}`);
          const parsed = JSON.parse(await reply.body.text()) as { records: { value: string }[]; nextOffset: number; highWatermark: number };
          for (const r of parsed.records) bytes += Buffer.byteLength(r.value);
          count += parsed.records.length;
          offset = parsed.nextOffset;
          if (offset >= parsed.highWatermark) return;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return mb(bytes, performance.now() - started);
}

/** fs.read of the topic's segment files (page cache), 1 MiB at a time. */
async function rawConsume(dataDir: string, topic: string): Promise<number> {
  const files: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const dir = join(dataDir, `${topic}-${p}`);
    for (const name of await readdir(dir)) if (name.endsWith('.log')) files.push(join(dir, name));
  }
  const buffer = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  const started = performance.now();
  for (const file of files) {
    const handle = await open(file, 'r');
    const size = (await stat(file)).size;
    for (let at = 0; at < size; at += buffer.length) bytes += (await handle.read(buffer, 0, buffer.length, at)).bytesRead;
    await handle.close();
  }
  return mb(bytes, performance.now() - started);
}

function clientResult(s: Settings, id: string, group: string, name: string, measured: RoundsResult, baseline: string, target?: Target): BenchResult {
  return makeResult({
    id,
    group,
    name,
    params: { records: s.records, recordBytes: RECORD_BYTES, partitions: PARTITIONS },
    value: measured.value,
    unit: 'MB/s',
    better: 'higher',
    baseline: { name: baseline, value: measured.baseline },
    target: target ?? null,
    rounds: measured.rounds,
  });
}

async function produceCases(broker: ServiceProcess, ctx: SuiteContext, s: Settings): Promise<BenchResult[]> {
  const round = async (produce: (topic: string) => Promise<number>) => {
    const topic = freshTopic();
    await createTopic(broker, topic, PARTITIONS);
    try {
      return await produce(topic);
    } finally {
      await deleteTopic(broker, topic);
    }
  };
  ctx.progress.startCase('client produce, binary vs raw disk');
  await round((t) => clientProduce(broker, t, s.records)); // warm-up
  const binary = await interleavedRounds(s.rounds, () => rawProduce(ctx.dataDir, s.records), () => round((t) => clientProduce(broker, t, s.records)));
  const produceBinary = clientResult(s, 'client.produce.binary', 'Produce (acks=all, fsync always)', 'Producer, binary path, 1 KiB records', binary, 'raw write + fdatasync, 512 KiB', ratioTarget('>=', 0.3));
  ctx.report(produceBinary);
  ctx.progress.startCase('JSON produce vs client binary');
  await round((t) => jsonProduce(broker, t, s.records));
  const json = await interleavedRounds(s.rounds, () => round((t) => clientProduce(broker, t, s.records)), () => round((t) => jsonProduce(broker, t, s.records)));
  const produceJson = clientResult(s, 'client.produce.json', 'Produce (acks=all, fsync always)', 'JSON path (POST /records, 1,000 per request)', json, 'Producer, binary path', BINARY_BEATS_JSON);
  ctx.report(produceJson);
  return [produceBinary, produceJson];
}

async function consumeCases(broker: ServiceProcess, brokerDataDir: string, ctx: SuiteContext, s: Settings): Promise<BenchResult[]> {
  const topic = freshTopic();
  await createTopic(broker, topic, PARTITIONS);
  try {
    await clientProduce(broker, topic, s.records);
    ctx.progress.startCase('client consume, binary vs raw read');
    await clientConsume(broker, topic, s.records);
    const binary = await interleavedRounds(s.rounds, () => rawConsume(brokerDataDir, topic), () => clientConsume(broker, topic, s.records));
    const consumeBinary = clientResult(s, 'client.consume.binary', 'Consume (page cache)', 'Consumer, binary path, 1 KiB records', binary, 'raw fs.read of the segments');
    ctx.report(consumeBinary);
    ctx.progress.startCase('JSON consume vs client binary');
    await jsonConsume(broker, topic, s.records);
    const json = await interleavedRounds(s.rounds, () => clientConsume(broker, topic, s.records), () => jsonConsume(broker, topic, s.records));
    const consumeJson = clientResult(s, 'client.consume.json', 'Consume (page cache)', 'JSON path (GET /records, 1,000 per request)', json, 'Consumer, binary path', BINARY_BEATS_JSON);
    ctx.report(consumeJson);
    return [consumeBinary, consumeJson];
  } finally {
    await deleteTopic(broker, topic);
  }
}

export const clientSuite: Suite = {
  name: 'client',
  title: 'TypeScript client (src/client, real broker process)',
  fsyncPolicy: 'always (broker started with --fsync always; the producer uses acks=all)',
  plannedCases: () => CASES,
  diskBytes: (quick) => settingsFor(quick).records * RECORD_BYTES * 3,
  async run(ctx: SuiteContext): Promise<SuiteOutput> {
    const s = settingsFor(ctx.quick);
    const brokerDataDir = join(ctx.dataDir, 'broker');
    const broker = await startBroker(brokerDataDir);
    const results: BenchResult[] = [];
    try {
      results.push(...(await produceCases(broker, ctx, s)));
      results.push(...(await consumeCases(broker, brokerDataDir, ctx, s)));
    } finally {
      await broker.stop();
    }
    return {
      settings: { records: s.records, recordBytes: RECORD_BYTES, partitions: PARTITIONS, rounds: s.rounds, jsonRecordsPerRequest: JSON_RECORDS_PER_REQUEST },
      notes: [
        'Ratio is value ÷ baseline. MB/s count record values (1,024 bytes each) for the client and JSON cases, file bytes for the raw baselines.',
        'Broker: `node bin/sluice.js serve --fsync always` in its own process (as in the HTTP suite); the client runs in the benchmark process with default options (lingerMs 5, batchBytes 512 KiB, idempotent, acks all). Keyless records, so the producer\'s sticky partitioner fills one partition\'s batch at a time.',
        'JSON path: what a program without the client does: 1,000 records per POST /topics/:t/records (explicit partition), and GET .../records?maxRecords=1000, one request in flight per partition (4), undici Pools.',
        'Raw baselines: write + fdatasync of 512 KiB chunks of the same total size to one file (produce); fs.read of the topic\'s segment files right after they were consumed, 1 MiB at a time, from the page cache (consume).',
        'Targets: the producer reaches at least 0.3× of the raw disk; the JSON path at most 0.8× of the client (the binary path must pay off).',
        'Each case: one unmeasured round, then the measured rounds alternating subject and baseline; median reported. Every produce round writes a fresh topic of 4 partitions, deleted after it.',
      ],
      results,
    };
  },
};
