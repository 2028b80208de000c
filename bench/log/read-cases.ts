/**
 * Read cases over logs of 1 KiB records in batches of `logBatchRecords`:
 *
 * - Fetch: PartitionLog.read of a random offset (maxBytes `fetchMaxBytes`) at each log size, next to a raw
 *   pread of the same byte count at a random position of the same segment files. Finding the batch is a
 *   binary search over segments, then over the segment's offset index, then a scan of at most one index
 *   interval, so the cost must stay flat as the log grows: a last result compares the largest log with the
 *   smallest.
 * - Sequential read: the whole largest log read front to back with maxBytes `readMaxBytes`, counting the bytes
 *   returned, next to reading its segment files front to back in chunks of the same size. The log was just
 *   written, so both read from the page cache.
 *
 * Every log but the largest is removed after its case; the largest is handed to the open cases.
 */
import { join } from 'node:path';
import { interleavedRounds, microBench, type MicroResult } from '../lib/measure.js';
import { raw } from '../lib/raw-io.js';
import { makeResult, valueTarget, type BenchResult } from '../lib/results.js';
import type { SuiteContext } from '../lib/suite.js';
import { seededRandom } from '../lib/random.js';
import { RECORD_BYTES, batchOf, createLog, discardLog, fillLog, segmentFiles, type OpenedLog } from './fixtures.js';
import type { LogSuiteSettings } from './settings.js';

const FLATNESS_TARGET = valueTarget('<=', 1.5, '×');
const READ_TARGET_MB_PER_SEC = 1000;

export function sizeLabel(bytes: number): string {
  return bytes >= 1e9 ? `${bytes / 1e9} GB` : `${bytes / 1e6} MB`;
}

export async function buildLog(ctx: SuiteContext, settings: LogSuiteSettings, bytes: number, name: string): Promise<OpenedLog> {
  const opened = await createLog(join(ctx.dataDir, name), 'never', { segmentBytes: settings.logSegmentBytes });
  const step = ctx.progress.step(`writing a ${sizeLabel(bytes)} log`, bytes / 1e6, 'MB');
  await fillLog(opened.log, batchOf(settings.logBatchRecords), bytes, step);
  return opened;
}

interface FetchTimes {
  log: MicroResult;
  raw: MicroResult;
}

async function measureFetch(opened: OpenedLog, settings: LogSuiteSettings): Promise<FetchTimes> {
  const { log } = opened;
  const files = segmentFiles(log);
  const fds = await Promise.all(files.map((f) => raw.open(f.path, 'r')));
  const random = seededRandom(42);
  const offsets = Array.from({ length: 4096 }, () => Math.floor(random() * log.logEndOffset));
  // raw positions: a segment chosen in proportion to its size, then a position in it
  const total = files.reduce((t, f) => t + f.size, 0);
  const places = Array.from({ length: 4096 }, () => {
    let at = Math.floor(random() * total);
    let i = 0;
    while (at >= files[i]!.size) at -= files[i++]!.size;
    return { fd: fds[i]!, position: Math.max(0, Math.min(at, files[i]!.size - settings.fetchMaxBytes)) };
  });
  let next = 0;
  try {
    const times = await microBench(
      [
        {
          name: 'raw',
          fn: async () => {
            const place = places[next++ & 4095]!;
            await raw.read(place.fd, settings.fetchMaxBytes, place.position);
          },
        },
        {
          name: 'log',
          fn: async () => {
            const read = await log.read(offsets[next++ & 4095]!, { maxBytes: settings.fetchMaxBytes, maxOffset: log.logEndOffset });
            if (read.bytes.length === 0) throw new Error('fetch returned nothing');
          },
        },
      ],
      { timeMs: settings.microTimeMs, warmupMs: settings.microWarmupMs },
    );
    return { log: times.get('log')!, raw: times.get('raw')! };
  } finally {
    await Promise.all(fds.map((fd) => raw.close(fd)));
  }
}

/** Runs the fetch cases and returns the largest log, still open, for the read and open cases. */
export async function fetchCases(ctx: SuiteContext, settings: LogSuiteSettings, results: BenchResult[]): Promise<OpenedLog> {
  const sizes = settings.fetchLogBytes;
  const perSize: FetchTimes[] = [];
  let largest: OpenedLog | null = null;
  for (const [i, bytes] of sizes.entries()) {
    ctx.progress.startCase(`fetch from a ${sizeLabel(bytes)} log`);
    const opened = await buildLog(ctx, settings, bytes, `fetch-${i}`);
    const times = await measureFetch(opened, settings);
    perSize.push(times);
    const result = makeResult({
      id: `fetch.${sizeLabel(bytes).replace(' ', '')}`,
      group: 'Fetch',
      name: `read(random offset, maxBytes ${settings.fetchMaxBytes / 1024} KiB), ${sizeLabel(bytes)} log`,
      params: { logBytes: bytes, segments: opened.log.segments.length, maxBytes: settings.fetchMaxBytes, recordsPerBatch: settings.logBatchRecords },
      value: times.log.meanMs * 1000,
      unit: 'µs/op',
      better: 'lower',
      baseline: { name: `pread of ${settings.fetchMaxBytes / 1024} KiB at a random position`, value: times.raw.meanMs * 1000 },
      details: { p99Us: times.log.p99Ms * 1000, baselineP99Us: times.raw.p99Ms * 1000, samples: times.log.samples },
    });
    ctx.report(result);
    results.push(result);
    if (i === sizes.length - 1) largest = opened;
    else await discardLog(opened);
  }
  const first = perSize[0]!;
  const last = perSize[perSize.length - 1]!;
  const flatness = makeResult({
    id: 'fetch.growth',
    group: 'Fetch',
    name: `fetch cost growth, ${sizeLabel(sizes[0]!)} → ${sizeLabel(sizes[sizes.length - 1]!)} log (must stay flat)`,
    params: { from: sizes[0]!, to: sizes[sizes.length - 1]! },
    value: last.log.meanMs / first.log.meanMs,
    unit: '×',
    better: 'lower',
    baseline: { name: 'growth of the pread baseline', value: last.raw.meanMs / first.raw.meanMs },
    target: FLATNESS_TARGET,
  });
  ctx.report(flatness);
  results.push(flatness);
  return largest!;
}

/** Sequential read of the whole log; returns MB/s of record-batch bytes returned. */
async function readLogFully(opened: OpenedLog, maxBytes: number): Promise<number> {
  const { log } = opened;
  const started = performance.now();
  let bytes = 0;
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, { maxBytes, maxOffset: log.logEndOffset });
    if (read.nextOffset <= offset) throw new Error(`sequential read made no progress at offset ${offset}`);
    bytes += read.bytes.length;
    offset = read.nextOffset;
  }
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

async function readFilesFully(files: { path: string; size: number }[], chunk: number): Promise<number> {
  const started = performance.now();
  let bytes = 0;
  for (const file of files) {
    const fd = await raw.open(file.path, 'r');
    try {
      for (let at = 0; at < file.size; at += chunk) bytes += (await raw.read(fd, Math.min(chunk, file.size - at), at)).length;
    } finally {
      await raw.close(fd);
    }
  }
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

export async function sequentialReadCase(ctx: SuiteContext, settings: LogSuiteSettings, opened: OpenedLog): Promise<BenchResult> {
  const bytes = opened.log.sizeInBytes;
  ctx.progress.startCase(`sequential read of a ${sizeLabel(settings.fetchLogBytes.at(-1)!)} log`);
  const files = segmentFiles(opened.log);
  const measured = await interleavedRounds(
    settings.readRounds,
    () => readFilesFully(files, settings.readMaxBytes),
    () => readLogFully(opened, settings.readMaxBytes),
  );
  const result = makeResult({
    id: 'read.sequential',
    group: 'Sequential read (page cache)',
    name: `read 1 KiB records front to back, maxBytes ${settings.readMaxBytes / 1024 / 1024} MiB, ${sizeLabel(settings.fetchLogBytes.at(-1)!)} log`,
    params: { logBytes: bytes, maxBytes: settings.readMaxBytes, recordBytes: RECORD_BYTES, recordsPerBatch: settings.logBatchRecords },
    value: measured.value,
    unit: 'MB/s',
    better: 'higher',
    baseline: { name: `fs.read of the segment files in ${settings.readMaxBytes / 1024 / 1024} MiB chunks`, value: measured.baseline },
    target: valueTarget('>=', READ_TARGET_MB_PER_SEC, 'MB/s'),
    rounds: measured.rounds,
  });
  ctx.report(result);
  return result;
}
