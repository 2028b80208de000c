/**
 * Consume throughput through GET /topics/:t/partitions/:p/records, from logs written just before (so every
 * read hits the page cache):
 *
 * - JSON: `maxRecords=recordsPerRequest` from batch boundaries, partitions round robin, `jsonInFlight` in
 *   flight; MB/s of record values. Baseline: the plain fastify route building and serializing the same
 *   reply (same values, same shape) from memory.
 * - Binary: `Accept: application/vnd.sluice.record-batch`, `maxBytes=binaryFetchMaxBytes`, the log read front to
 *   back (wrapping at the end), `binaryConsumeInFlight` in flight; MB/s of body bytes. Baseline: the plain
 *   fastify route doing fs.read of the same bytes of the same segment files and sending them.
 *
 * Each reply is checked: its status, and that it ends where it should (the JSON reply's nextOffset, read
 * from its tail; the Sluice-Next-Offset header). The client counts the bytes without parsing the JSON.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { concurrentThroughput } from '../lib/measure.js';
import { makeResult, ratioTarget, valueTarget, type BenchResult } from '../lib/results.js';
import type { ServiceProcess } from '../lib/child-processes.js';
import { CpuTally, fillTopic, warmedRounds, type HttpBench } from './context.js';
import { openPool, send, type Reply } from './load.js';
import { RECORD_BATCH_MEDIA_TYPE, nextOffsetOfJsonTail } from './payloads.js';
import { deleteTopic, openFilesOnPlainServer } from './servers.js';

const JSON_CONSUME_TARGET = ratioTarget('>=', 0.8);
const BINARY_CONSUME_MB_PER_SEC = 800;
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * A closed-loop round of GETs for `ms`: `inFlight` workers, `get(n)` sends the n-th request and returns its
 * bytes; the CPU times of the server and the load generator go to `cpu` when `measured`.
 */
async function getRound(
  server: ServiceProcess,
  cpu: CpuTally,
  measured: boolean,
  inFlight: number,
  ms: number,
  get: (pool: ReturnType<typeof openPool>, n: number) => Promise<number>,
): Promise<number> {
  const pool = openPool(server.url, inFlight);
  let n = 0;
  try {
    const round = await cpu.track(server, measured, async () => {
      const result = await concurrentThroughput({ durationMs: ms, maxBytes: NO_LIMIT }, inFlight, () => get(pool, n++));
      return { ...result, requests: n };
    });
    return round.mbPerSec;
  } finally {
    await pool.close();
  }
}

function expectNextOffset(reply: Reply, what: string, actual: number | null, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: expected the reply to end at offset ${expected}, it says ${actual} (${reply.bytes} bytes)`);
}

export async function jsonConsumeCase(bench: HttpBench): Promise<BenchResult> {
  const s = bench.settings;
  const per = s.recordsPerRequest;
  bench.ctx.progress.startCase(`JSON consume, maxRecords ${per}, ${s.jsonInFlight} in flight`);
  const topic = 'json-read';
  const partitions = await fillTopic(bench, topic, s.partitions, s.jsonReadLogBytes);
  const payload = per * s.recordBytes;
  // request n reads partition n mod P at the next batch boundary of that partition, wrapping at its end
  const cursor = () => {
    const next = partitions.map(() => 0);
    return (n: number) => {
      const p = n % partitions.length;
      const offset = next[p]!;
      next[p] = offset + per >= partitions[p]!.highWatermark ? 0 : offset + per;
      return { p, offset };
    };
  };
  const [plainCpu, brokerCpu] = [new CpuTally(), new CpuTally(bench.broker)];
  const round = (server: ServiceProcess, cpu: CpuTally) => (ms: number, measured: boolean) => {
    const at = cursor();
    return getRound(server, cpu, measured, s.jsonInFlight, ms, async (pool, n) => {
      const { p, offset } = at(n);
      const path = `/topics/${topic}/partitions/${p}/records?offset=${offset}&maxRecords=${per}`;
      const reply = await send(pool, { method: 'GET', path });
      expectNextOffset(reply, `GET ${path} (${server.name})`, nextOffsetOfJsonTail(reply.tail), offset + per);
      return payload;
    });
  };
  try {
    const measured = await warmedRounds(bench, round(bench.plain, plainCpu), round(bench.broker, brokerCpu));
    const result = makeResult({
      id: 'consume.json',
      group: 'Consume (page cache)',
      name: `JSON, maxRecords ${per} (${s.recordBytes / 1024} KiB values), ${s.jsonInFlight} in flight, ${partitions.length} partitions`,
      params: { maxRecords: per, recordBytes: s.recordBytes, inFlight: s.jsonInFlight, partitions: partitions.length, logBytes: partitions.reduce((t, x) => t + x.sizeBytes, 0) },
      value: measured.value,
      unit: 'MB/s',
      better: 'higher',
      baseline: { name: 'plain fastify route serializing the same records', value: measured.baseline },
      target: JSON_CONSUME_TARGET,
      rounds: measured.rounds,
      details: { requestsPerSec: (measured.value * 1e6) / payload, broker: brokerCpu.summary(), plain: plainCpu.summary() },
    });
    bench.ctx.report(result);
    return result;
  } finally {
    await deleteTopic(bench.broker, topic);
  }
}

/** The partition's segment files, oldest first, with their sizes. */
async function segmentFilesOf(partitionDir: string): Promise<{ path: string; size: number }[]> {
  const names = (await readdir(partitionDir)).filter((n) => n.endsWith('.log')).sort();
  return Promise.all(names.map(async (n) => ({ path: join(partitionDir, n), size: (await stat(join(partitionDir, n))).size })));
}

export async function binaryConsumeCase(bench: HttpBench): Promise<BenchResult> {
  const s = bench.settings;
  bench.ctx.progress.startCase(`binary consume, maxBytes ${s.binaryFetchMaxBytes / 1024} KiB, ${s.binaryConsumeInFlight} in flight`);
  const topic = 'binary-read';
  const [partition] = await fillTopic(bench, topic, 1, s.binaryReadLogBytes);
  const highWatermark = partition!.highWatermark;
  // a fetch returns whole batches: as many as fit in maxBytes, at least one
  const batchesPerFetch = Math.max(1, Math.floor(s.binaryFetchMaxBytes / bench.batch.length));
  const step = batchesPerFetch * s.recordsPerRequest;
  const chunk = batchesPerFetch * bench.batch.length;
  const files = await segmentFilesOf(join(bench.brokerDataDir, `${topic}-0`));
  await openFilesOnPlainServer(bench.plain, files.map((f) => f.path));
  // the same bytes as the broker sends: every segment file in chunks of whole batches
  const chunks = files.flatMap((f, index) => Array.from({ length: Math.ceil(f.size / chunk) }, (_, i) => ({ index, position: i * chunk, length: Math.min(chunk, f.size - i * chunk) })));

  const [plainCpu, brokerCpu] = [new CpuTally(), new CpuTally(bench.broker)];
  const brokerRound = (ms: number, measured: boolean) => {
    let next = 0;
    return getRound(bench.broker, brokerCpu, measured, s.binaryConsumeInFlight, ms, async (pool) => {
      const offset = next;
      next = offset + step >= highWatermark ? 0 : offset + step;
      const path = `/topics/${topic}/partitions/0/records?offset=${offset}&maxBytes=${s.binaryFetchMaxBytes}`;
      const reply = await send(pool, { method: 'GET', path, headers: { accept: RECORD_BATCH_MEDIA_TYPE } }, 0);
      expectNextOffset(reply, `GET ${path}`, Number(reply.headers['sluice-next-offset']), Math.min(offset + step, highWatermark));
      return reply.bytes;
    });
  };
  const plainRound = (ms: number, measured: boolean) =>
    getRound(bench.plain, plainCpu, measured, s.binaryConsumeInFlight, ms, async (pool, n) => {
      const c = chunks[n % chunks.length]!;
      const reply = await send(pool, { method: 'GET', path: `/files/${c.index}?position=${c.position}&length=${c.length}` }, 0);
      if (reply.bytes !== c.length) throw new Error(`plain server sent ${reply.bytes} bytes of a ${c.length}-byte chunk`);
      return reply.bytes;
    });
  try {
    const measured = await warmedRounds(bench, plainRound, brokerRound);
    const logBytes = files.reduce((t, f) => t + f.size, 0);
    const result = makeResult({
      id: 'consume.binary',
      group: 'Consume (page cache)',
      name: `record batches, maxBytes ${s.binaryFetchMaxBytes / 1024} KiB, ${s.binaryConsumeInFlight} in flight, ${(logBytes / 1e6).toFixed(0)} MB log`,
      params: { maxBytes: s.binaryFetchMaxBytes, batchBytes: bench.batch.length, batchesPerFetch, inFlight: s.binaryConsumeInFlight, logBytes, segments: files.length },
      value: measured.value,
      unit: 'MB/s',
      better: 'higher',
      baseline: { name: 'plain fastify route: fs.read of the same bytes + send', value: measured.baseline },
      target: valueTarget('>=', BINARY_CONSUME_MB_PER_SEC, 'MB/s'),
      rounds: measured.rounds,
      details: { broker: brokerCpu.summary(), plain: plainCpu.summary() },
    });
    bench.ctx.report(result);
    return result;
  } finally {
    await openFilesOnPlainServer(bench.plain, []);
    await deleteTopic(bench.broker, topic);
  }
}
