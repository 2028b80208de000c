/**
 * The retention suite: does a retention pass that deletes 100 segments hold up produce? The real broker
 * (`sluice serve --fsync always --file-delete-delay-ms 0`, its own process, so the files are unlinked right
 * after their rename rather than a minute later) takes single-record JSON produce requests (acks=all) at a
 * fixed open-loop rate on one topic while `POST /admin/retention/run` deletes 100 expired segments of another.
 * The pass takes the segments out of the log and answers at once; their files are renamed, synced and
 * unlinked in the background, so the deletion is timed from the request until the benchmark sees the
 * partition directory hold only the active segment (polled every 2 ms).
 *
 * Each repetition fills a fresh topic with 100 one-batch segments whose records are two days old (retentionMs
 * is one day), lets the load run unmeasured for a while (writing the segments leaves the disk busy), then
 * measures three windows of the same load on the same broker: the middle one with the pass started a quarter
 * of the way in, the two around it without a pass (the baseline). Reported over all repetitions:
 *
 * - p99 of the requests sent while the segments were being deleted, against the baseline windows' p99
 *   (target ≤ 2×);
 * - p99 of the whole windows with a pass, against those without;
 * - how long the deletion took, against the same renames and unlinks of files of the same sizes done directly
 *   with fs in the benchmark process, back to back.
 *
 * Run it through bench/run.ts (`npm run bench -- --suite retention`).
 */
import { mkdir, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeBatch } from '../src/log/record-batch.js';
import type { ServiceProcess } from './lib/child-processes.js';
import { latencyHistogram, openLoop, openPool, send } from './http/load.js';
import { jsonProduceBody, recordValues } from './http/payloads.js';
import { call, createTopic, deleteTopic, describeTopic, startBroker } from './http/servers.js';
import { makeResult, ratioTarget } from './lib/results.js';
import type { Suite, SuiteContext, SuiteOutput } from './lib/suite.js';

interface RetentionSettings {
  segments: number;
  /** one batch per segment: two batches would pass segmentBytes, so each append rolls */
  batchBytes: number;
  segmentBytes: number;
  repetitions: number;
  ratePerSec: number;
  windowMs: number;
  warmupMs: number;
  connections: number;
  recordBytes: number;
}

const KiB = 1024;
const DAY_MS = 86_400_000;
const P99_RATIO = 2;

function settingsFor(quick: boolean): RetentionSettings {
  return {
    segments: 100,
    batchBytes: quick ? 96 * KiB : 640 * KiB,
    segmentBytes: quick ? 128 * KiB : 1024 * KiB,
    repetitions: quick ? 2 : 10,
    ratePerSec: 1_000,
    windowMs: quick ? 1_000 : 2_000,
    warmupMs: quick ? 500 : 2_000,
    connections: 32,
    recordBytes: 1024,
  };
}

/** Latency samples of one window: when each request was sent and how long it took (ms, performance.now()). */
interface Window {
  sentAt: number[];
  latencyMs: number[];
}

async function measureWindow(broker: ServiceProcess, s: RetentionSettings, body: Buffer, during?: (startedAt: number) => Promise<void>): Promise<Window> {
  const pool = openPool(broker.url, s.connections);
  const window: Window = { sentAt: [], latencyMs: [] };
  const fire = async () => {
    const sentAt = performance.now();
    await send(pool, { method: 'POST', path: '/topics/live/records', headers: { 'content-type': 'application/json' }, body });
    window.sentAt.push(sentAt);
    window.latencyMs.push(performance.now() - sentAt);
  };
  try {
    await Promise.all([openLoop(s.ratePerSec, s.windowMs, fire), during?.(performance.now())]);
    return window;
  } finally {
    await pool.close();
  }
}

function percentile(latencies: number[], p: number): number {
  const h = latencyHistogram();
  for (const ms of latencies) h.recordValue(Math.max(1, Math.round(ms * 1000)));
  return h.getValueAtPercentile(p) / 1000;
}

const p99 = (latencies: number[]) => percentile(latencies, 99);

function spread(latencies: number[]): Record<string, number> {
  return { samples: latencies.length, p50Ms: percentile(latencies, 50), p90Ms: percentile(latencies, 90), p99Ms: p99(latencies), maxMs: Math.max(0, ...latencies) };
}

/** Fills `topic` with `segments` one-batch segments of records two days old. */
async function fillExpired(broker: ServiceProcess, topic: string, s: RetentionSettings): Promise<void> {
  await createTopic(broker, topic, 1, { segmentBytes: s.segmentBytes, retentionMs: DAY_MS });
  const old = Date.now() - 2 * DAY_MS;
  const values = recordValues(Math.floor(s.batchBytes / s.recordBytes), s.recordBytes);
  const batch = encodeBatch({ records: values.map((value) => ({ key: null, value, timestamp: old })) });
  const pool = openPool(broker.url, 1);
  try {
    for (let i = 0; i < s.segments; i++) {
      await send(pool, { method: 'POST', path: `/topics/${topic}/partitions/0/batches`, headers: { 'content-type': 'application/vnd.sluice.record-batch' }, body: batch });
    }
  } finally {
    await pool.close();
  }
  const [partition] = await describeTopic(broker, topic);
  if (partition!.segments < s.segments) throw new Error(`${topic} has ${partition!.segments} segments, expected ${s.segments}`);
}

/** The same file work without a broker: rename each segment's three files to .deleted, then unlink them. */
async function rawDeleteMs(dir: string, s: RetentionSettings): Promise<number> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const data = Buffer.alloc(s.batchBytes, 1);
  for (let i = 0; i < s.segments; i++) {
    const base = join(dir, String(i).padStart(20, '0'));
    await writeFile(`${base}.log`, data);
    await writeFile(`${base}.index`, Buffer.alloc(8));
    await writeFile(`${base}.timeindex`, Buffer.alloc(12));
    files.push(`${base}.log`, `${base}.index`, `${base}.timeindex`);
  }
  const started = performance.now();
  for (const file of files) await rename(file, `${file}.deleted`);
  for (const file of files) await unlink(`${file}.deleted`);
  const ms = performance.now() - started;
  await rm(dir, { recursive: true, force: true });
  return ms;
}

/** Waits until a partition directory holds one segment (the active one) and no `.deleted` file. */
async function filesGone(dir: string): Promise<void> {
  for (;;) {
    const files = await readdir(dir);
    if (files.filter((f) => f.endsWith('.log')).length <= 1 && !files.some((f) => f.endsWith('.deleted'))) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const retentionSuite: Suite = {
  name: 'retention',
  title: 'Retention pass under produce load (real broker process)',
  fsyncPolicy: 'always (broker started with --fsync always; every produce is acks=all)',
  plannedCases: (quick) => settingsFor(quick).repetitions,
  diskBytes: (quick) => settingsFor(quick).segments * settingsFor(quick).batchBytes * 3,
  async run(ctx: SuiteContext): Promise<SuiteOutput> {
    const s = settingsFor(ctx.quick);
    const brokerDir = join(ctx.dataDir, 'broker');
    const broker = await startBroker(brokerDir, ['--file-delete-delay-ms', '0']);
    const body = jsonProduceBody(recordValues(1, s.recordBytes), 0);
    const quiet: number[] = [];
    const duringPass: number[] = [];
    const withPass: number[] = [];
    const passMs: number[] = [];
    const rawMs: number[] = [];
    const deleted: number[] = [];
    const windowP99s: { before: number; withPass: number; after: number }[] = [];
    try {
      await createTopic(broker, 'live', 1);
      await measureWindow(broker, { ...s, windowMs: s.warmupMs }, body); // warm-up, not measured
      for (let rep = 0; rep < s.repetitions; rep++) {
        ctx.progress.startCase(`repetition ${rep + 1} of ${s.repetitions}: ${s.segments} expired segments, produce at ${s.ratePerSec}/s`);
        const topic = `expired-${rep}`;
        await fillExpired(broker, topic, s);
        // Writing the segments leaves the disk and the broker's GC busy for a while: let that pass unmeasured.
        await measureWindow(broker, { ...s, windowMs: s.warmupMs }, body);
        const before = (await measureWindow(broker, s, body)).latencyMs;
        let pass = { start: 0, end: 0 };
        const window = await measureWindow(broker, s, body, async (startedAt) => {
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + s.windowMs / 4 - performance.now())));
          const start = performance.now();
          const result = (await call(broker, 'POST', '/admin/retention/run')) as { deletedSegments: number };
          await filesGone(join(brokerDir, `${topic}-0`)); // the pass returns at once; the files go in the background
          pass = { start, end: performance.now() };
          deleted.push(result.deletedSegments);
        });
        const after = (await measureWindow(broker, s, body)).latencyMs; // a quiet window on each side of it
        quiet.push(...before, ...after);
        withPass.push(...window.latencyMs);
        windowP99s.push({ before: p99(before), withPass: p99(window.latencyMs), after: p99(after) });
        window.sentAt.forEach((at, i) => {
          if (at >= pass.start && at <= pass.end) duringPass.push(window.latencyMs[i]!);
        });
        passMs.push(pass.end - pass.start);
        rawMs.push(await rawDeleteMs(join(ctx.dataDir, `raw-${rep}`), s));
        await deleteTopic(broker, topic);
      }
    } finally {
      await broker.stop();
    }
    if (deleted.some((n) => n < s.segments)) throw new Error(`a pass deleted fewer than ${s.segments} segments: ${deleted.join(', ')}`);
    const group = `Produce during a retention pass deleting ${s.segments} segments (single-record JSON produce at ${s.ratePerSec.toLocaleString('en-US')}/s, open loop)`;
    const params = { segments: s.segments, segmentBytes: s.segmentBytes, ratePerSec: s.ratePerSec, windowMs: s.windowMs, repetitions: s.repetitions };
    const details = { duringPass: spread(duringPass), quiet: spread(quiet), windowsWithPass: spread(withPass), windowP99s, passMs, rawDeleteMs: rawMs, deletedSegments: deleted };
    const results = [
      makeResult({
        id: 'retention.produce.p99.during-pass',
        group,
        name: 'p99 of requests sent while the segments were being deleted',
        params,
        value: p99(duringPass),
        unit: 'ms',
        better: 'lower',
        baseline: { name: 'p99 of the same load with no pass', value: p99(quiet) },
        target: ratioTarget('<=', P99_RATIO),
        details,
      }),
      makeResult({
        id: 'retention.produce.p99.window',
        group,
        name: `p99 of ${s.windowMs / 1000} s windows containing a pass`,
        params,
        value: p99(withPass),
        unit: 'ms',
        better: 'lower',
        baseline: { name: 'p99 of the same windows with no pass', value: p99(quiet) },
      }),
      makeResult({
        id: 'retention.pass.duration',
        group,
        name: `deleting ${s.segments} segments: from POST /admin/retention/run until their files are gone (median)`,
        params,
        value: median(passMs),
        unit: 'ms',
        better: 'lower',
        baseline: { name: 'fs.rename + fs.unlink of the same files, no broker (median)', value: median(rawMs) },
      }),
    ];
    results.forEach((r) => ctx.report(r));
    return {
      settings: { ...params, batchBytes: s.batchBytes, warmupMs: s.warmupMs, connections: s.connections, recordBytes: s.recordBytes },
      notes: [
        'Ratio is value ÷ baseline; lower is better for every row.',
        `Broker: \`node bin/sluice.js serve --fsync always --file-delete-delay-ms 0\`, its own process, so the files are unlinked as soon as they are renamed. Each repetition fills a fresh topic with ${s.segments} segments of one ${s.batchBytes / KiB} KiB batch (segmentBytes ${s.segmentBytes / KiB} KiB) whose records are two days old, retentionMs one day, so the pass deletes all of them (rolling the expired active segment).`,
        `Load: single-record (${s.recordBytes} B) JSON produce, acks=all, to another one-partition topic, ${s.ratePerSec} requests/s on a fixed open-loop schedule over ${s.connections} connections; latency from handing the request to undici to the last byte of the reply. Each repetition measures a ${s.windowMs / 1000} s window with POST /admin/retention/run sent a quarter of the way in, between two windows without a pass (the baseline); samples of all ${s.repetitions} repetitions are pooled.`,
        '"While the segments were being deleted" runs from sending POST /admin/retention/run until the partition directory holds only the active segment and no .deleted file (the pass answers at once; the broker renames the files in the background, 1 ms apart per segment, syncs the directory once and unlinks them). The raw baseline renames each segment\'s .log, .index and .timeindex to .deleted and unlinks them, with fs/promises one at a time, back to back, in the benchmark process.',
      ],
      results,
    };
  },
};
