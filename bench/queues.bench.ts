/**
 * The queues suite: share groups (docs/queues.md) end to end against a real broker process
 * (`sluice serve --fsync always`), next to the consumer-group path on the same topic in the same run.
 *
 * Topic of 4 partitions, 1 KiB records. Share path: 8 ShareConsumers (one process, the benchmark's) each
 * receive batches of 100 and accept every batch before the next receive, until every record is accepted.
 * Consumer-group path: 8 Consumers in one group (4 of them get a partition), committing after each poll,
 * until every record was read. Measured: records/s end to end, and the broker's CPU time (user + system,
 * from /proc) per record, which for the share path covers receive, lease and the durable accept.
 */
import { Admin, Consumer, Producer, ShareConsumer, type RecordMetadata } from '../src/client/index.js';
import type { ServiceProcess } from './lib/child-processes.js';
import { makeResult, valueTarget, type BenchResult } from './lib/results.js';
import type { Suite, SuiteContext, SuiteOutput } from './lib/suite.js';
import { createTopic, startBroker } from './http/servers.js';
import { join } from 'node:path';

const RECORD_BYTES = 1_024;
const PARTITIONS = 4;
const RECEIVERS = 8;
const BATCH = 100;
const CASES = 2;

interface Settings {
  records: number;
  rounds: number;
}

const settingsFor = (quick: boolean): Settings => ({ records: quick ? 40_000 : 200_000, rounds: quick ? 1 : 3 });

interface Run {
  recordsPerSec: number;
  brokerCpuUsPerRecord: number;
}

let serial = 0;

async function measure(broker: ServiceProcess, records: number, drain: () => Promise<void>): Promise<Run> {
  const cpuBefore = broker.cpuTimeMs();
  const started = performance.now();
  await drain();
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = broker.cpuTimeMs() - cpuBefore;
  return { recordsPerSec: records / seconds, brokerCpuUsPerRecord: (cpuMs * 1000) / records };
}

/** 8 receivers, batches of 100, each batch accepted before the next receive. */
async function shareDrain(broker: ServiceProcess, topic: string, records: number): Promise<Run> {
  const group = `bench-share-${++serial}`;
  const admin = new Admin({ broker: broker.url });
  await admin.configureShareGroup(group, { startFrom: 'earliest', visibilityTimeoutMs: 60_000 });
  await admin.close();
  const receivers = Array.from({ length: RECEIVERS }, () => new ShareConsumer({ broker: broker.url, group, topics: [topic], maxRecords: BATCH, maxWaitMs: 100 }));
  let accepted = 0;
  try {
    return await measure(broker, records, async () => {
      await Promise.all(
        receivers.map(async (r) => {
          while (accepted < records) {
            const batch = await r.receive();
            await Promise.all(batch.map((m) => m.ack()));
            accepted += batch.length;
          }
        }),
      );
    });
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
  }
}

/** 8 members of one consumer group (4 partitions: 4 of them idle), committing after each poll. */
async function groupDrain(broker: ServiceProcess, topic: string, records: number): Promise<Run> {
  const group = `bench-group-${++serial}`;
  const consumers = Array.from({ length: RECEIVERS }, () => new Consumer({ broker: broker.url, group, topics: [topic], autoOffsetReset: 'earliest', autoCommit: false, maxWaitMs: 100 }));
  let read = 0;
  try {
    return await measure(broker, records, async () => {
      await Promise.all(
        consumers.map(async (c) => {
          while (read < records) {
            const batch = await c.poll({ maxRecords: BATCH, timeoutMs: 100 });
            if (batch.length === 0) continue;
            read += batch.length;
            await c.commit().catch(() => undefined); // a rebalance may refuse one; the next commit covers it
          }
        }),
      );
    });
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
  }
}

async function fill(broker: ServiceProcess, topic: string, records: number): Promise<void> {
  await createTopic(broker, topic, PARTITIONS);
  const producer = new Producer({ broker: broker.url });
  const value = 'x'.repeat(RECORD_BYTES);
  let last: Promise<RecordMetadata> | null = null;
  const deliveries: Promise<RecordMetadata>[] = [];
  for (let i = 0; i < records; i++) {
    last = (await producer.enqueue({ topic, value, partition: i % PARTITIONS })).delivery;
    if (i % 10_000 === 0) deliveries.push(last);
  }
  await Promise.all([...deliveries, last]);
  await producer.close();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const queuesSuite: Suite = {
  name: 'queues',
  title: 'Share groups (queue semantics) vs consumer groups, real broker process',
  fsyncPolicy: 'always (broker started with --fsync always: every accept is durable before its reply)',
  plannedCases: () => CASES,
  diskBytes: (quick) => settingsFor(quick).records * RECORD_BYTES * 2,
  async run(ctx: SuiteContext): Promise<SuiteOutput> {
    const s = settingsFor(ctx.quick);
    const broker = await startBroker(join(ctx.dataDir, 'broker'), ['--group-initial-rebalance-delay-ms', '0']);
    const results: BenchResult[] = [];
    try {
      const topic = 'queue-bench';
      await fill(broker, topic, s.records);
      ctx.progress.startCase('share group drain vs consumer group');
      const share: Run[] = [];
      const groups: Run[] = [];
      await shareDrain(broker, topic, Math.min(s.records, 20_000)); // warm-up (JIT), partial
      for (let r = 0; r < s.rounds; r++) {
        share.push(await shareDrain(broker, topic, s.records));
        groups.push(await groupDrain(broker, topic, s.records));
      }
      const params = { records: s.records, recordBytes: RECORD_BYTES, partitions: PARTITIONS, receivers: RECEIVERS, batch: BATCH };
      const rate = makeResult({
        id: 'queues.share.throughput',
        group: 'Share group drain (8 receivers, batches of 100, accept each batch)',
        name: 'share group, records/s end to end',
        params,
        value: median(share.map((x) => x.recordsPerSec)),
        unit: 'records/s',
        better: 'higher',
        baseline: { name: 'consumer group, 8 members, commit per poll', value: median(groups.map((x) => x.recordsPerSec)) },
        target: valueTarget('>=', 100_000, 'records/s'),
        rounds: { value: share.map((x) => x.recordsPerSec), baseline: groups.map((x) => x.recordsPerSec) },
      });
      ctx.report(rate);
      ctx.progress.startCase('broker CPU per record');
      const cpu = makeResult({
        id: 'queues.share.broker-cpu',
        group: 'Share group drain (8 receivers, batches of 100, accept each batch)',
        name: 'share group, broker CPU per record (receive to accept)',
        params,
        value: median(share.map((x) => x.brokerCpuUsPerRecord)),
        unit: 'µs/op',
        better: 'lower',
        baseline: { name: 'consumer group, broker CPU per record', value: median(groups.map((x) => x.brokerCpuUsPerRecord)) },
        target: valueTarget('<', 20, 'µs/op'),
        rounds: { value: share.map((x) => x.brokerCpuUsPerRecord), baseline: groups.map((x) => x.brokerCpuUsPerRecord) },
      });
      ctx.report(cpu);
      results.push(rate, cpu);
    } finally {
      await broker.stop();
    }
    return {
      settings: { records: s.records, recordBytes: RECORD_BYTES, partitions: PARTITIONS, receivers: RECEIVERS, batch: BATCH, rounds: s.rounds },
      notes: [
        'Broker: `node bin/sluice.js serve --fsync always` in its own process; the receivers (sluice/client ShareConsumer, JSON receive with base64 values, acks batched per turn of the event loop) and the consumer-group members all run in the benchmark process, so the two share the machine\'s 2 cores.',
        'Share path: a fresh share group per round (startFrom earliest) drains the whole topic; each receiver receives 100 records, accepts them (one acks request, durable before the reply), and receives again.',
        'Consumer-group path (baseline): a fresh group of 8 members per round (only 4 own a partition); each member polls up to 100 records and commits. The group\'s formation is inside the measured time.',
        'Broker CPU per record: the broker process\'s user + system CPU time over the drain (from /proc), divided by the records drained.',
        'Targets (issue 18): ≥ 100,000 records/s end to end, < 20 µs of broker CPU per record.',
      ],
      results,
    };
  },
};
