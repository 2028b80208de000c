/**
 * Latency of single-record JSON produce (acks=all, fsync always: every reply waits for an fdatasync, shared
 * by the requests that arrive together) under a steady open-loop load of `latencyRatePerSec` requests a
 * second, one partition. Baseline: the plain fastify route parsing the same body under the same load.
 * Reported: p50 (target < 1 ms) and p99 (target ≤ 2× the plain route's p99).
 *
 * A third row, without target, puts the broker's p99 next to the floor the disk sets: the same record
 * appended at the same rate, in this process, with writev + fdatasync and group commit
 * (RawGroupCommitAppender), no HTTP. The broker's own fdatasync durations (its sluice_fsync_duration_seconds
 * histogram) and garbage collections over the measured span are kept in the details.
 *
 * Each subject gets an unmeasured warm-up at the same rate first; the plain server goes first, then the raw
 * appender, then the broker.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { RawGroupCommitAppender } from '../lib/raw-io.js';
import { makeResult, ratioTarget, valueTarget, type BenchResult } from '../lib/results.js';
import type { ServiceProcess } from '../lib/child-processes.js';
import type { HttpBench } from './context.js';
import { openLoop, openPool, send, type OpenLoopResult } from './load.js';
import { jsonProduceBody, recordBatch } from './payloads.js';
import { brokerGcTotals, brokerHistogram, createTopic, deleteTopic, gcRates, type GcTotals } from './servers.js';

const P50_TARGET_MS = 1;
const P99_RATIO = 2;
const FSYNC_HISTOGRAM = 'sluice_fsync_duration_seconds';

type FsyncScrape = Awaited<ReturnType<typeof brokerHistogram>>;

async function measureServer(bench: HttpBench, server: ServiceProcess, path: string, body: Buffer, beforeMeasuring?: () => Promise<void>): Promise<OpenLoopResult> {
  const s = bench.settings;
  const pool = openPool(server.url, s.latencyConnections);
  const fire = () => send(pool, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
  try {
    await openLoop(s.latencyRatePerSec, s.latencyWarmupMs, fire);
    await beforeMeasuring?.();
    return await openLoop(s.latencyRatePerSec, s.latencyDurationMs, fire);
  } finally {
    await pool.close();
  }
}

async function measureRaw(bench: HttpBench, record: Buffer): Promise<OpenLoopResult> {
  const s = bench.settings;
  const path = join(bench.ctx.dataDir, 'raw-latency.bin');
  const appender = await RawGroupCommitAppender.create(path);
  try {
    await openLoop(s.latencyRatePerSec, s.latencyWarmupMs, () => appender.append(record));
    return await openLoop(s.latencyRatePerSec, s.latencyDurationMs, () => appender.append(record));
  } finally {
    await appender.close();
    await rm(path, { force: true });
  }
}

const ms = (h: Histogram, percentile: number) => h.getValueAtPercentile(percentile) / 1000;

function summary(run: OpenLoopResult): Record<string, number> {
  const h = run.latency;
  return {
    requests: run.sent,
    achievedRatePerSec: run.sent / run.seconds,
    p50Ms: ms(h, 50),
    p90Ms: ms(h, 90),
    p99Ms: ms(h, 99),
    p999Ms: ms(h, 99.9),
    maxMs: h.maxValue / 1000,
    meanMs: h.mean / 1000,
    sendLagP99Ms: ms(run.sendLag, 99),
    sendLagMaxMs: run.sendLag.maxValue / 1000,
  };
}

/** The broker's fdatasyncs between two scrapes: how many, per request, and the share over a few bounds. */
function fsyncSummary(before: FsyncScrape, after: FsyncScrape, requests: number): Record<string, number> {
  const count = after.count - before.count;
  const out: Record<string, number> = { fsyncs: count, fsyncsPerRequest: count / requests, meanMs: ((after.sum - before.sum) / count) * 1000 };
  for (const bound of [0.0005, 0.001, 0.002, 0.005]) {
    const within = (after.buckets.get(bound) ?? 0) - (before.buckets.get(bound) ?? 0);
    out[`over${bound * 1000}Ms`] = (count - within) / count;
  }
  return out;
}

export async function latencyCases(bench: HttpBench): Promise<BenchResult[]> {
  const s = bench.settings;
  bench.ctx.progress.startCase(`single-record JSON produce at ${s.latencyRatePerSec} requests/s for ${s.latencyDurationMs / 1000} s (open loop)`);
  const topic = 'latency';
  await createTopic(bench.broker, topic, 1);
  const body = jsonProduceBody([bench.values[0]!], 0);
  const path = `/topics/${topic}/records`;
  try {
    const plain = await measureServer(bench, bench.plain, path, body);
    const raw = await measureRaw(bench, recordBatch([bench.values[0]!]));
    let fsyncBefore: FsyncScrape | null = null;
    let gcBefore: GcTotals | null = null;
    const broker = await measureServer(bench, bench.broker, path, body, async () => {
      fsyncBefore = await brokerHistogram(bench.broker, FSYNC_HISTOGRAM);
      gcBefore = await brokerGcTotals(bench.broker);
    });
    const fsyncAfter = await brokerHistogram(bench.broker, FSYNC_HISTOGRAM);
    const gcAfter = await brokerGcTotals(bench.broker);
    const details = {
      broker: summary(broker),
      plain: summary(plain),
      rawGroupCommit: summary(raw),
      brokerFsync: fsyncSummary(fsyncBefore!, fsyncAfter, broker.sent),
      brokerGc: gcRates(gcBefore!, gcAfter, broker.seconds),
    };
    const common = {
      group: `Latency, single-record JSON produce at ${s.latencyRatePerSec.toLocaleString('en-US')} requests/s (open loop)`,
      params: { ratePerSec: s.latencyRatePerSec, durationMs: s.latencyDurationMs, recordBytes: s.recordBytes, connections: s.latencyConnections, partitions: 1, acks: 'all', fsync: 'always' },
      unit: 'ms' as const,
      better: 'lower' as const,
      details,
    };
    const record = `1 record of ${s.recordBytes / 1024} KiB per request, acks=all`;
    const results = [
      makeResult({
        ...common,
        id: 'latency.produce.p50',
        name: `p50, ${record}`,
        value: ms(broker.latency, 50),
        baseline: { name: 'plain fastify route, p50 under the same load', value: ms(plain.latency, 50) },
        target: valueTarget('<', P50_TARGET_MS, 'ms'),
      }),
      makeResult({
        ...common,
        id: 'latency.produce.p99',
        name: `p99, ${record}`,
        value: ms(broker.latency, 99),
        baseline: { name: 'plain fastify route, p99 under the same load', value: ms(plain.latency, 99) },
        target: ratioTarget('<=', P99_RATIO),
      }),
      makeResult({
        ...common,
        id: 'latency.produce.p99.vs-disk',
        name: `p99, ${record} (vs the disk's floor)`,
        value: ms(broker.latency, 99),
        baseline: { name: 'writev + fdatasync of the same record, group commit, same rate, no HTTP: p99', value: ms(raw.latency, 99) },
      }),
    ];
    results.forEach((r) => bench.ctx.report(r));
    return results;
  } finally {
    await deleteTopic(bench.broker, topic);
  }
}
