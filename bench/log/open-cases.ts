/**
 * Start-up time (LogManager.open) of the largest log, after three kinds of stop:
 *
 * - unclean, no recovery-point checkpoint: `abandon()` (a crash) and the checkpoint file removed, as after a
 *   crash before the first checkpoint: every segment is validated batch by batch (CRC-32C included) and its
 *   indexes rebuilt. Baseline: reading every segment file in 1 MiB chunks and computing CRC-32C over it.
 * - clean: `close()`, then open; nothing is scanned but the tail of the active segment. Baseline: listing the
 *   directories, stat of every file and reading the active segment's index files.
 * - unclean with a current checkpoint: a clean open, `abandon()`, then open; only the segment holding the
 *   recovery point (the active one) is recovered. Baseline: read + CRC-32C of that segment.
 *
 * `report.cleanShutdown` of every open is checked, so a case can never measure the other kind of start.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '../../src/log/crc32c.js';
import { LogManager } from '../../src/log/log-manager.js';
import { RECOVERY_POINT_FILE } from '../../src/log/segment-files.js';
import { interleavedRounds } from '../lib/measure.js';
import { raw } from '../lib/raw-io.js';
import { makeResult, valueTarget, type BenchResult } from '../lib/results.js';
import type { SuiteContext } from '../lib/suite.js';
import { BENCH_PARTITION, segmentFiles, type OpenedLog } from './fixtures.js';
import { sizeLabel } from './read-cases.js';
import type { LogSuiteSettings } from './settings.js';

const CLEAN_OPEN_TARGET = valueTarget('<', 100, 'ms');
const CHUNK = 1024 * 1024;

export const OPEN_CASES = 3;

async function readAndChecksum(files: { path: string; size: number }[]): Promise<void> {
  for (const file of files) {
    const fd = await raw.open(file.path, 'r');
    try {
      for (let at = 0; at < file.size; at += CHUNK) crc32c(await raw.read(fd, Math.min(CHUNK, file.size - at), at));
    } finally {
      await raw.close(fd);
    }
  }
}

/** What a clean open minimally touches: both directory listings, a stat per file, the active indexes. */
async function listAndReadIndexes(dataDir: string, partitionDir: string, activeLogPath: string): Promise<void> {
  for (const name of await readdir(dataDir)) await stat(join(dataDir, name));
  for (const name of await readdir(partitionDir)) await stat(join(partitionDir, name));
  const stem = activeLogPath.slice(0, -'.log'.length);
  await readFile(`${stem}.index`);
  await readFile(`${stem}.timeindex`);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/** Runs the open cases on `initial` (open, flushed) and removes its directory at the end. */
export async function openCases(ctx: SuiteContext, settings: LogSuiteSettings, initial: OpenedLog): Promise<BenchResult[]> {
  const dataDir = initial.manager.dataDir;
  const partitionDir = initial.log.dir;
  const logBytes = initial.log.sizeInBytes;
  const label = sizeLabel(settings.fetchLogBytes.at(-1)!);
  let manager: LogManager = initial.manager;
  const reports: { case: string; cleanShutdown: boolean; recoveredSegments: number; reportedMs: number }[] = [];
  const open = async (expectClean: boolean, what: string): Promise<number> => {
    const { ms, value } = await timed(() => LogManager.open({ dataDir }));
    manager = value;
    const { cleanShutdown, recoveredSegments, durationMs } = manager.report;
    if (cleanShutdown !== expectClean) throw new Error(`${what}: expected cleanShutdown ${expectClean}, the start-up report says ${cleanShutdown}`);
    reports.push({ case: what, cleanShutdown, recoveredSegments, reportedMs: durationMs });
    return ms;
  };
  const logOf = (m: LogManager) => m.get(BENCH_PARTITION)!;
  const results: BenchResult[] = [];
  const push = (result: BenchResult) => {
    ctx.report(result);
    results.push(result);
  };
  const params = { logBytes, segments: initial.log.segments.length };

  try {
    ctx.progress.startCase(`open a ${label} log after an unclean stop, no checkpoint`);
    const allFiles = segmentFiles(initial.log);
    let measured = await interleavedRounds(
      settings.openUncleanRounds,
      async () => (await timed(() => readAndChecksum(allFiles))).ms,
      async () => {
        manager.abandon();
        await rm(join(dataDir, RECOVERY_POINT_FILE), { force: true });
        return open(false, 'unclean, no checkpoint');
      },
    );
    push(
      makeResult({
        id: 'open.unclean.full-recovery',
        group: 'Open',
        name: `LogManager.open, ${label} log, unclean stop, no checkpoint (recovers all)`,
        params,
        value: measured.value,
        unit: 'ms',
        better: 'lower',
        baseline: { name: 'read + CRC-32C of every segment file', value: measured.baseline },
        rounds: measured.rounds,
        details: { recoveredSegments: manager.report.recoveredSegments, cleanShutdown: manager.report.cleanShutdown },
      }),
    );

    ctx.progress.startCase(`open a ${label} log after a clean stop`);
    const activePath = logOf(manager).activeSegment.logPath;
    await manager.close();
    let closed = true;
    measured = await interleavedRounds(
      settings.openCleanRounds,
      async () => (await timed(() => listAndReadIndexes(dataDir, partitionDir, activePath))).ms,
      async () => {
        if (!closed) await manager.close();
        const ms = await open(true, 'clean');
        closed = false;
        return ms;
      },
    );
    push(
      makeResult({
        id: 'open.clean',
        group: 'Open',
        name: `LogManager.open, ${label} log, clean stop`,
        params,
        value: measured.value,
        unit: 'ms',
        better: 'lower',
        baseline: { name: "readdir + stat of every file + read of the active segment's indexes", value: measured.baseline },
        target: CLEAN_OPEN_TARGET,
        rounds: measured.rounds,
        details: { cleanShutdown: manager.report.cleanShutdown, reportedDurationMs: manager.report.durationMs },
      }),
    );

    ctx.progress.startCase(`open a ${label} log after an unclean stop, checkpoint current`);
    const lastFile = segmentFiles(logOf(manager)).slice(-1);
    measured = await interleavedRounds(
      settings.openUncleanRounds,
      async () => (await timed(() => readAndChecksum(lastFile))).ms,
      async () => {
        if (closed) {
          await open(true, 'clean (before abandon)');
        }
        manager.abandon();
        const ms = await open(false, 'unclean, checkpoint current');
        await manager.close();
        closed = true;
        return ms;
      },
    );
    push(
      makeResult({
        id: 'open.unclean.checkpoint-current',
        group: 'Open',
        name: `LogManager.open, ${label} log, unclean stop, checkpoint current`,
        params: { ...params, recoveredBytes: lastFile[0]!.size },
        value: measured.value,
        unit: 'ms',
        better: 'lower',
        baseline: { name: 'read + CRC-32C of the active segment', value: measured.baseline },
        rounds: measured.rounds,
        details: { recoveredSegments: reports.at(-1)!.recoveredSegments },
      }),
    );
  } finally {
    manager.abandon();
    await rm(dataDir, { recursive: true, force: true });
  }
  return results;
}
