/**
 * The Kafka listener suite: kafkajs 2.2 producing and consuming 1 KiB records through `--kafka-listener`,
 * next to sluice/client on the HTTP binary path, same broker process, same run (target: ≥ 0.8× the client).
 *
 * - produce: kafkajs producer (idempotent, acks=-1), 1,000 records per send, 4 sends in flight, keyless
 *   records spread over the 4 partitions; vs sluice/client's Producer (defaults: idempotent, acks all).
 * - consume: a kafkajs consumer (its own fresh group, fromBeginning, eachBatch) reading the whole topic,
 *   the group join included; vs sluice/client's Consumer reading every partition from 0.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Consumer, Producer, type RecordMetadata } from '../src/client/index.js';
import { freePort, type ServiceProcess } from './lib/child-processes.js';
import { interleavedRounds, type RoundsResult } from './lib/measure.js';
import { makeResult, ratioTarget, type BenchResult } from './lib/results.js';
import type { Suite, SuiteContext, SuiteOutput } from './lib/suite.js';
import { createTopic, deleteTopic, startBroker } from './http/servers.js';
import { rawKafkaProduce } from './kafka-raw.js';

const RECORD_BYTES = 1_024;
const PARTITIONS = 4;
const SEND_RECORDS = 1_000;
const IN_FLIGHT = 4;
const TARGET = ratioTarget('>=', 0.8);

const settingsFor = (quick: boolean) => ({ records: quick ? 20_000 : 200_000, rounds: quick ? 1 : 3 });
let serial = 0;
const value = (i: number) => String(i).padStart(RECORD_BYTES, 'x');
const mb = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

async function kafkajsProduce(kafka: Kafka, topic: string, records: number): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: IN_FLIGHT });
  await producer.connect();
  const sends = Math.ceil(records / SEND_RECORDS);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let s = next++; s < sends; s = next++) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: SEND_RECORDS }, (_, i) => ({ value: value(s * SEND_RECORDS + i), partition: (s + i) % PARTITIONS })) });
      }
    }),
  );
  const ms = performance.now() - started;
  await producer.disconnect();
  return mb(sends * SEND_RECORDS * RECORD_BYTES, ms);
}

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

async function kafkajsConsume(kafka: Kafka, topic: string, records: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${++serial}`, maxBytesPerPartition: 4_194_304, maxBytes: 16_777_216, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let bytes = 0;
  let count = 0;
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += m.value!.length;
        count += batch.messages.length;
        if (count >= records) resolve();
      },
    });
  });
  await done;
  const ms = performance.now() - started;
  await consumer.disconnect();
  return mb(bytes, ms);
}

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

function result(s: { records: number }, id: string, group: string, name: string, measured: RoundsResult, baseline: string): BenchResult {
  return makeResult({
    id,
    group,
    name,
    params: { records: s.records, recordBytes: RECORD_BYTES, partitions: PARTITIONS },
    value: measured.value,
    unit: 'MB/s',
    better: 'higher',
    baseline: { name: baseline, value: measured.baseline },
    target: TARGET,
    rounds: measured.rounds,
  });
}

export const kafkaSuite: Suite = {
  name: 'kafka',
  title: 'Kafka protocol listener (kafkajs) vs sluice/client (HTTP binary path), real broker process',
  fsyncPolicy: 'always (broker started with --fsync always; both producers use acks=all)',
  plannedCases: () => 3,
  diskBytes: (quick) => settingsFor(quick).records * RECORD_BYTES * 4,
  async run(ctx: SuiteContext): Promise<SuiteOutput> {
    const s = settingsFor(ctx.quick);
    const kafkaPort = await freePort();
    const broker = await startBroker(`${ctx.dataDir}/broker`, ['--kafka-listener', `127.0.0.1:${kafkaPort}`, '--group-initial-rebalance-delay-ms', '0']);
    const kafka = new Kafka({ brokers: [`127.0.0.1:${kafkaPort}`], clientId: 'bench', logLevel: logLevel.NOTHING });
    const results: BenchResult[] = [];
    const round = async (produce: (topic: string) => Promise<number>) => {
      const topic = `kafka-bench-${++serial}`;
      await createTopic(broker, topic, PARTITIONS);
      try {
        return await produce(topic);
      } finally {
        await deleteTopic(broker, topic);
      }
    };
    try {
      ctx.progress.startCase('kafkajs produce vs sluice/client');
      await round((t) => kafkajsProduce(kafka, t, s.records));
      const produced = await interleavedRounds(s.rounds, () => round((t) => clientProduce(broker, t, s.records)), () => round((t) => kafkajsProduce(kafka, t, s.records)));
      results.push(result(s, 'kafka.produce.kafkajs', 'Produce (acks=all, fsync always)', 'kafkajs over the Kafka listener, 1 KiB records', produced, 'sluice/client Producer, HTTP binary path'));
      ctx.report(results.at(-1)!);

      ctx.progress.startCase('pre-encoded Produce frames vs sluice/client (the listener without client cost)');
      const raw = await interleavedRounds(s.rounds, () => round((t) => clientProduce(broker, t, s.records)), () => round((t) => rawKafkaProduce(kafkaPort, t, s.records, PARTITIONS, RECORD_BYTES)));
      results.push(result(s, 'kafka.produce.raw-frames', 'Produce (acks=all, fsync always)', 'pre-encoded Produce v7 frames over the listener', raw, 'sluice/client Producer, HTTP binary path'));
      ctx.report(results.at(-1)!);

      ctx.progress.startCase('kafkajs consume vs sluice/client');
      const topic = `kafka-bench-${++serial}`;
      await createTopic(broker, topic, PARTITIONS);
      try {
        await clientProduce(broker, topic, s.records);
        await kafkajsConsume(kafka, topic, s.records);
        const consumed = await interleavedRounds(s.rounds, () => clientConsume(broker, topic, s.records), () => kafkajsConsume(kafka, topic, s.records));
        results.push(result(s, 'kafka.consume.kafkajs', 'Consume (page cache)', 'kafkajs over the Kafka listener, 1 KiB records', consumed, 'sluice/client Consumer, HTTP binary path'));
        ctx.report(results.at(-1)!);
      } finally {
        await deleteTopic(broker, topic);
      }
    } finally {
      await broker.stop();
    }
    return {
      settings: { records: s.records, recordBytes: RECORD_BYTES, partitions: PARTITIONS, rounds: s.rounds, sendRecords: SEND_RECORDS, inFlight: IN_FLIGHT },
      notes: [
        'Ratio is value ÷ baseline (kafkajs ÷ sluice/client); target ≥ 0.8×. MB/s count record values (1,024 bytes each).',
        'kafkajs producer: idempotent, acks=-1, 1,000 records per send with explicit partitions spread over the 4 partitions, 4 sends in flight. sluice/client Producer: defaults (lingerMs 5, 512 KiB batches, idempotent, acks all), keyless records.',
        'kafkajs consumer: a fresh group per round (join and sync included in the time), fromBeginning, eachBatch, no commits, maxBytesPerPartition 4 MiB. sluice/client Consumer: every partition from 0, poll of up to 5,000 records.',
        'Pre-encoded frames: the listener\'s own cost: Produce v7 frames built once (4 partitions × 250 records of 1 KiB, acks=-1), 4 requests in flight on one socket; what kafkajs adds on top is its own encoding (pure-JS CRC-32C, per-record objects) and, idempotent, one request in flight.',
        'Both clients run in the benchmark process against the same broker process; rounds alternate subject and baseline, median reported.',
      ],
      results,
    };
  },
};
