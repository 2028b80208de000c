/**
 * Produce throughput through the broker's HTTP API, acks=all with fsync always:
 *
 * - JSON: POST /topics/:t/records, `recordsPerRequest` records of `recordBytes`-character string values per
 *   request, every record of a request on one explicit partition, partitions round robin, `jsonInFlight`
 *   requests in flight. MB/s of record values. Baseline: the plain fastify route that only parses the same
 *   bodies and answers a small JSON.
 * - Binary: POST /topics/:t/partitions/:p/batches with RecordBatch v2 bodies (encodeBatch), partitions round
 *   robin, `binaryInFlight` requests in flight. MB/s of body (batch) bytes. Baseline: fs.write + fdatasync
 *   of the same batch, one after the other, to one file in the same file system (RawAppender, as in the
 *   log suite).
 *
 * Each broker round writes into a fresh topic (so it starts from empty partitions, as the log suite's append
 * rounds do) that is deleted after it, which bounds the disk in use to one round's bytes.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { concurrentThroughput, throughputLoop } from '../lib/measure.js';
import { RawAppender } from '../lib/raw-io.js';
import { makeResult, ratioTarget, valueTarget, type BenchResult } from '../lib/results.js';
import type { ServiceProcess } from '../lib/child-processes.js';
import { CpuTally, freshTopicName, warmedRounds, type HttpBench } from './context.js';
import { openPool, send } from './load.js';
import { RECORD_BATCH_MEDIA_TYPE, jsonProduceBody } from './payloads.js';
import { createTopic, deleteTopic } from './servers.js';

const JSON_PRODUCE_TARGET = ratioTarget('>=', 0.8);
const BINARY_PRODUCE_MB_PER_SEC = 250;
const BINARY_PRODUCE_RATIO = 0.4;

interface RoundResult {
  mbPerSec: number;
  requests: number;
}

/**
 * One closed-loop round: `inFlight` workers POST `request(n)` for `ms`; MB/s counts `bytesPerRequest` per
 * answered request.
 */
async function postRound(
  server: ServiceProcess,
  inFlight: number,
  ms: number,
  maxBytes: number,
  request: (n: number) => { path: string; body: Buffer; contentType: string },
  bytesPerRequest: number,
): Promise<RoundResult> {
  const pool = openPool(server.url, inFlight);
  let n = 0;
  let answered = 0;
  try {
    const measured = await concurrentThroughput({ durationMs: ms, maxBytes }, inFlight, async () => {
      const { path, body, contentType } = request(n++);
      await send(pool, { method: 'POST', path, headers: { 'content-type': contentType }, body });
      answered++;
      return bytesPerRequest;
    });
    return { mbPerSec: measured.mbPerSec, requests: answered };
  } finally {
    await pool.close();
  }
}

/** A broker round in a fresh topic, deleted afterwards. */
async function inFreshTopic<T>(bench: HttpBench, prefix: string, round: (topic: string) => Promise<T>): Promise<T> {
  const topic = freshTopicName(prefix);
  await createTopic(bench.broker, topic, bench.settings.partitions);
  try {
    return await round(topic);
  } finally {
    await deleteTopic(bench.broker, topic);
  }
}

export async function jsonProduceCase(bench: HttpBench): Promise<BenchResult> {
  const s = bench.settings;
  bench.ctx.progress.startCase(`JSON produce, ${s.recordsPerRequest} × ${s.recordBytes} B records per request, ${s.jsonInFlight} in flight`);
  const bodies = Array.from({ length: s.partitions }, (_, p) => jsonProduceBody(bench.values, p));
  const payload = s.recordsPerRequest * s.recordBytes;
  const request = (topic: string) => (n: number) => ({ path: `/topics/${topic}/records`, body: bodies[n % s.partitions]!, contentType: 'application/json' });
  const [plainCpu, brokerCpu] = [new CpuTally(), new CpuTally(bench.broker)];
  const measured = await warmedRounds(
    bench,
    async (ms, on) => (await plainCpu.track(bench.plain, on, () => postRound(bench.plain, s.jsonInFlight, ms, s.roundMaxBytes, request('plain'), payload))).mbPerSec,
    (ms, on) =>
      inFreshTopic(bench, 'json-produce', async (topic) =>
        (await brokerCpu.track(bench.broker, on, () => postRound(bench.broker, s.jsonInFlight, ms, s.roundMaxBytes, request(topic), payload))).mbPerSec,
      ),
  );
  const result = makeResult({
    id: 'produce.json',
    group: 'Produce (acks=all, fsync always)',
    name: `JSON, ${s.recordsPerRequest} × ${s.recordBytes / 1024} KiB string values per request, ${s.jsonInFlight} in flight, ${s.partitions} partitions`,
    params: { recordsPerRequest: s.recordsPerRequest, recordBytes: s.recordBytes, inFlight: s.jsonInFlight, partitions: s.partitions, bodyBytes: bodies[0]!.length, acks: 'all', fsync: 'always' },
    value: measured.value,
    unit: 'MB/s',
    better: 'higher',
    baseline: { name: 'plain fastify route parsing the same JSON bodies', value: measured.baseline },
    target: JSON_PRODUCE_TARGET,
    rounds: measured.rounds,
    details: {
      requestsPerSec: (measured.value * 1e6) / payload,
      bodyMbPerSec: (measured.value * bodies[0]!.length) / payload,
      broker: brokerCpu.summary(),
      plain: plainCpu.summary(),
    },
  });
  bench.ctx.report(result);
  return result;
}

/** One raw round: fs.write + fdatasync of `batch` over and over to a fresh file, removed afterwards. */
async function rawAlwaysRound(dir: string, batch: Buffer, ms: number, maxBytes: number): Promise<RoundResult> {
  const path = join(dir, 'raw-append.bin');
  const appender = await RawAppender.create(path, 'always', 0);
  try {
    const measured = await throughputLoop({ durationMs: ms, maxBytes }, () => appender.append(batch));
    return { mbPerSec: measured.mbPerSec, requests: measured.bytes / batch.length };
  } finally {
    await appender.close();
    await rm(path, { force: true });
  }
}

export async function binaryProduceCases(bench: HttpBench): Promise<BenchResult[]> {
  const s = bench.settings;
  bench.ctx.progress.startCase(`binary produce, ${s.binaryBatchesPerRequest} batch(es) of ${s.recordsPerRequest} × ${s.recordBytes} B per request, ${s.binaryInFlight} in flight`);
  const body = Buffer.concat(Array.from({ length: s.binaryBatchesPerRequest }, () => bench.batch));
  const request = (topic: string) => (n: number) => ({
    path: `/topics/${topic}/partitions/${n % s.partitions}/batches?acks=all`,
    body,
    contentType: RECORD_BATCH_MEDIA_TYPE,
  });
  const [rawCpu, brokerCpu] = [new CpuTally(), new CpuTally(bench.broker)];
  const measured = await warmedRounds(
    bench,
    async (ms, on) => (await rawCpu.track(null, on, () => rawAlwaysRound(bench.ctx.dataDir, bench.batch, ms, s.roundMaxBytes))).mbPerSec,
    (ms, on) =>
      inFreshTopic(bench, 'binary-produce', async (topic) =>
        (await brokerCpu.track(bench.broker, on, () => postRound(bench.broker, s.binaryInFlight, ms, s.roundMaxBytes, request(topic), body.length))).mbPerSec,
      ),
  );
  const common = {
    group: 'Produce (acks=all, fsync always)',
    params: {
      batchesPerRequest: s.binaryBatchesPerRequest,
      recordsPerBatch: s.recordsPerRequest,
      recordBytes: s.recordBytes,
      batchBytes: bench.batch.length,
      inFlight: s.binaryInFlight,
      partitions: s.partitions,
      acks: 'all',
      fsync: 'always',
    },
    value: measured.value,
    unit: 'MB/s' as const,
    better: 'higher' as const,
    baseline: { name: 'fs.write + fdatasync per batch of the same bytes', value: measured.baseline },
    rounds: measured.rounds,
    details: { requestsPerSec: (measured.value * 1e6) / body.length, broker: brokerCpu.summary(), raw: rawCpu.summary(false) },
  };
  const shape = `${s.binaryBatchesPerRequest} × ${(bench.batch.length / 1e6).toFixed(2)} MB batch per request, ${s.binaryInFlight} in flight, ${s.partitions} partitions`;
  const results = [
    makeResult({ ...common, id: 'produce.binary', name: `record batches, ${shape}`, target: valueTarget('>=', BINARY_PRODUCE_MB_PER_SEC, 'MB/s') }),
    makeResult({ ...common, id: 'produce.binary.vs-raw', name: `record batches, ${shape} (vs raw)`, target: ratioTarget('>=', BINARY_PRODUCE_RATIO) }),
  ];
  results.forEach((r) => bench.ctx.report(r));
  return results;
}
