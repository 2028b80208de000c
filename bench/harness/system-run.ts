/**
 * One workload against one system (sluice through one path, or a peer): creates the `bench-` topics, forks
 * the consumer processes and waits until every group has all partitions, forks the producer processes, sends
 * them one start time, samples CPU, RSS and event-loop delay every second, waits for the producers, then
 * for the consumers to have every acknowledged record (or a drain timeout), and deletes the topics again
 * (also when the run fails).
 *
 * A backlog workload (catch-up read) produces first with no consumer running, lets the caller drop the
 * backlog from the page cache, then starts the consumers and measures how fast they read it from the start.
 */
import type { Progress } from '../lib/progress.js';
import { ClientProcess } from './clients.js';
import type { DriverSpec, SystemAdmin, SystemName } from './drivers/types.js';
import { meanSize } from './records.js';
import { Sampler, type Samples } from './sampler.js';
import { mergeHistograms, mergeWindows, percentilesMs, type ClientReport, type Percentiles, type Windows } from './stats.js';
import type { Workload } from './workload.js';

export interface SystemUnderTest {
  /** `sluice (client)`, `redis`, ... */
  label: string;
  system: SystemName;
  urls: string[];
  admin: SystemAdmin;
  /** what an acknowledgement means on this system */
  durability: string;
  serverPids: () => number[];
  metricsUrl: string | null;
  /** drops the topics' files from the page cache (only where the harness runs the server) */
  dropPageCache?: (topics: string[]) => Promise<string>;
}

export interface Throughput {
  records: number;
  bytes: number;
  recordsPerSec: number;
  mbPerSec: number;
}

export interface SystemResult {
  label: string;
  system: SystemName;
  durability: string;
  produce: Throughput;
  consume: (Throughput & { perGroup: Record<string, { records: number; bytes: number }> }) | null;
  latencyMs: { sendToAck: Percentiles | null; endToEnd: Percentiles | null };
  windows: { produce: Windows; consume: Windows };
  samples: Samples;
  clientProcesses: { producers: number; consumers: number };
  /** why the numbers may show the client rather than the system */
  clientBound: string | null;
  /** every produced record was consumed by every group */
  complete: boolean;
  errors: { count: number; first: string | null };
  notes: string[];
}

export interface RunPlan {
  workload: Workload;
  durationSeconds: number | null;
  runId: string;
  progress: Progress;
}

const through = (records: number, bytes: number, seconds: number): Throughput => ({
  records,
  bytes,
  recordsPerSec: seconds > 0 ? records / seconds : 0,
  mbPerSec: seconds > 0 ? bytes / 1e6 / seconds : 0,
});

function split<T>(items: T[], buckets: number): T[][] {
  const out: T[][] = Array.from({ length: Math.min(buckets, items.length) }, () => []);
  items.forEach((item, i) => out[i % out.length]!.push(item));
  return out;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string, failed?: Promise<unknown>): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let failure: unknown = null;
  failed?.catch((err: unknown) => (failure = err));
  while (!condition()) {
    if (failure) throw failure;
    if (performance.now() > deadline) {
      if (what) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

export async function runOnSystem(sut: SystemUnderTest, plan: RunPlan): Promise<SystemResult> {
  const w = plan.workload;
  const topics = Array.from({ length: w.topics }, (_, i) => `bench-${w.name}-${plan.runId}-${sut.system}-${i}`);
  const spec: DriverSpec = { system: sut.system, urls: sut.urls, acks: w.acks, compression: w.compression, topics, partitions: w.partitionsPerTopic };
  const groups = Array.from({ length: w.consumerGroups }, (_, g) => `bench-group-${plan.runId}-${g}`);
  const members = groups.flatMap((group) => Array.from({ length: w.consumersPerGroup }, (_, member) => ({ group, member, members: w.consumersPerGroup })));
  const producerProcesses = Math.min(w.producers, w.clientProcesses?.producers ?? 4);
  const consumerProcesses = Math.min(members.length, w.clientProcesses?.consumers ?? 4);
  const ratePerProducer = w.rate === 'max' ? 'max' : w.rate / w.producers;
  const backlogRecords = w.backlog ? Math.ceil(w.backlog.bytes / meanSize(w.recordSize)) : null;
  const recordsTotal = backlogRecords ?? w.records ?? null;
  const recordsPerProducer = recordsTotal === null ? null : Math.ceil(recordsTotal / w.producers);
  const notes: string[] = [];
  const clients: ClientProcess[] = [];
  const clientPids = () => clients.map((c) => c.pid);

  await sut.admin.createTopics(topics, w.partitionsPerTopic, w.replicationFactor, w.topicConfig);
  try {
    const startConsumers = async () => {
      const started = split(members, consumerProcesses).map(
        (slice) => new ClientProcess({ type: 'init', role: 'consumer', spec, producers: [], rate: 'max', recordSize: w.recordSize, keys: w.keys, consumers: slice }),
      );
      clients.push(...started);
      const failed = Promise.race(started.map((c) => c.done));
      await Promise.race([Promise.all(started.map((c) => c.ready)), failed]);
      const wanted = w.partitionsPerTopic * w.topics;
      const assigned = (group: string) => started.reduce((n, c) => n + (c.progress.assigned?.[group] ?? 0), 0);
      // members of a shared group (Redis, JetStream) each report every partition: at least all, not exactly
      await waitUntil(() => groups.every((g) => assigned(g) >= wanted), 60_000, 'the consumer groups to assign every partition', failed);
      return started;
    };
    let consumers = w.backlog ? [] : await startConsumers();
    const producerIndexes = Array.from({ length: w.producers }, (_, i) => i);
    const producers = split(producerIndexes, producerProcesses).map(
      (slice) => new ClientProcess({ type: 'init', role: 'producer', spec, producers: slice, rate: ratePerProducer, recordSize: w.recordSize, keys: w.keys, consumers: [] }),
    );
    clients.push(...producers);
    await Promise.race([Promise.all(producers.map((p) => p.ready)), Promise.race(producers.map((p) => p.done))]);

    const startMs = Date.now() + 100;
    const warmupEndMs = startMs + w.warmupSeconds * 1000;
    const endMs = plan.durationSeconds === null ? null : warmupEndMs + plan.durationSeconds * 1000;
    const go = { type: 'go' as const, startMs, warmupEndMs, endMs, recordsPerProducer };
    for (const c of [...consumers, ...producers]) c.go(go);
    const sampler = new Sampler(sut.serverPids, clientPids, sut.metricsUrl, startMs);
    sampler.start();
    const produced = () => producers.reduce((n, p) => n + p.progress.records, 0);
    const step = plan.progress.step(`${sut.label}: ${w.name}`, endMs !== null ? (endMs - startMs) / 1000 : (recordsTotal ?? 0), endMs !== null ? 's' : 'records');
    const ticker = setInterval(() => step.update(endMs !== null ? (Date.now() - startMs) / 1000 : produced()), 250);

    let producerReports: ClientReport[];
    let consumerReports: ClientReport[] = [];
    let consumeStartMs = startMs;
    let caughtUpMs = Date.now();
    let complete = true;
    try {
      producerReports = await Promise.all(producers.map((p) => p.done));
      const producersDoneMs = Date.now();
      const producedRecords = producerReports.reduce((n, r) => n + r.records, 0);
      if (w.backlog) {
        if (w.backlog.dropPageCache !== false) notes.push(sut.dropPageCache ? await sut.dropPageCache(topics) : 'page cache not dropped: the harness does not run this server');
        consumeStartMs = Date.now();
        consumers = await startConsumers();
        for (const c of consumers) c.go({ ...go, startMs: consumeStartMs, warmupEndMs: 0 });
      }
      const received = (group: string) => consumers.reduce((n, c) => n + (c.progress.groups?.[group]?.records ?? 0), 0);
      const drainMs = Math.max(15_000, (producersDoneMs - startMs) * 2);
      if (consumers.length > 0) {
        complete = await waitUntil(() => groups.every((g) => received(g) >= producedRecords), drainMs, '', Promise.race(consumers.map((c) => c.done)));
        caughtUpMs = Date.now();
        if (!complete) notes.push(`consumers did not receive every record within ${drainMs / 1000} s after the producers stopped`);
        for (const c of consumers) c.stop();
        consumerReports = await Promise.all(consumers.map((c) => c.done));
      }
      const measuredProduceSeconds = (producersDoneMs - warmupEndMs) / 1000;
      const measuredConsumeSeconds = (caughtUpMs - Math.max(consumeStartMs, w.backlog ? consumeStartMs : warmupEndMs)) / 1000;
      return summarize(sut, plan, producerReports, consumerReports, groups, measuredProduceSeconds, measuredConsumeSeconds, sampler.samples, complete, notes, {
        producers: producers.length,
        consumers: consumers.length,
      });
    } finally {
      clearInterval(ticker);
      step.finish();
      await sampler.stop();
    }
  } finally {
    for (const c of clients) c.kill();
    await sut.admin.deleteTopics(topics).catch((err: unknown) => notes.push(`could not delete the bench topics: ${(err as Error).message}`));
  }
}

function summarize(
  sut: SystemUnderTest,
  plan: RunPlan,
  producerReports: ClientReport[],
  consumerReports: ClientReport[],
  groups: string[],
  produceSeconds: number,
  consumeSeconds: number,
  samples: Samples,
  complete: boolean,
  notes: string[],
  clientProcesses: { producers: number; consumers: number },
): SystemResult {
  const sum = (reports: ClientReport[], f: (r: ClientReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const perGroup: Record<string, { records: number; bytes: number }> = {};
  for (const r of consumerReports) {
    for (const [g, v] of Object.entries(r.groups ?? {})) {
      const entry = (perGroup[g] ??= { records: 0, bytes: 0 });
      entry.records += v.records;
      entry.bytes += v.bytes;
    }
  }
  const produce = { ...through(sum(producerReports, (r) => r.measuredRecords), sum(producerReports, (r) => r.measuredBytes), produceSeconds) };
  produce.records = sum(producerReports, (r) => r.records);
  produce.bytes = sum(producerReports, (r) => r.bytes);
  const measuredConsumed = plan.workload.backlog ? sum(consumerReports, (r) => r.records) : sum(consumerReports, (r) => r.measuredRecords);
  const measuredConsumedBytes = plan.workload.backlog ? sum(consumerReports, (r) => r.bytes) : sum(consumerReports, (r) => r.measuredBytes);
  const consume =
    groups.length === 0
      ? null
      : { ...through(measuredConsumed, measuredConsumedBytes, consumeSeconds), records: sum(consumerReports, (r) => r.records), bytes: sum(consumerReports, (r) => r.bytes), perGroup };
  for (const g of groups) if ((perGroup[g]?.records ?? 0) !== produce.records) complete = false;
  const all = [...producerReports, ...consumerReports];
  const errors = { count: sum(all, (r) => r.errors), first: all.find((r) => r.firstError)?.firstError ?? null };
  const busiest = Math.max(0, ...samples.busiestClientPercent);
  const late = sum(producerReports, (r) => r.lateSends ?? 0);
  const reasons: string[] = [];
  if (busiest >= 90) reasons.push(`a client process used ${busiest.toFixed(0)} % of a core`);
  if (late > 0) reasons.push(`${late} sends left more than 10 ms behind schedule`);
  return {
    label: sut.label,
    system: sut.system,
    durability: sut.durability,
    produce,
    consume,
    latencyMs: {
      sendToAck: percentilesMs(mergeHistograms(producerReports.map((r) => r.latency))),
      endToEnd: plan.workload.backlog ? null : percentilesMs(mergeHistograms(consumerReports.map((r) => r.latency))),
    },
    windows: { produce: mergeWindows(producerReports.map((r) => r.windows)), consume: mergeWindows(consumerReports.map((r) => r.windows)) },
    samples,
    clientProcesses,
    clientBound: reasons.length > 0 ? reasons.join('; ') : null,
    complete: complete && errors.count === 0,
    errors,
    notes,
  };
}
