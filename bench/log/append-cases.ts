/**
 * Append throughput of PartitionLog.append for 1 KiB records in batches of 1, 10, 100 and 1,000, under each
 * fsync policy, next to the raw baseline (fs.write of the same batch bytes to a file in the same directory,
 * with an fdatasync after each batch for `always`, see RawAppender); then 64 appenders in flight at once on
 * one partition under `always`, where group commit lets them share an fdatasync.
 *
 * Every measurement starts from an empty log (or file) and its data is removed right after it, so disk use
 * stays below one budget's worth of bytes. Batches are appended untrusted (fully validated, as a produce
 * request would be).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsyncPolicy } from '../../src/log/log-config.js';
import { concurrentThroughput, interleavedRounds, throughputLoop, type Budget, type Throughput } from '../lib/measure.js';
import { RawAppender } from '../lib/raw-io.js';
import { makeResult, ratioTarget, type BenchResult } from '../lib/results.js';
import type { SuiteContext } from '../lib/suite.js';
import { RECORD_BYTES, batchOf, createLog, discardLog } from './fixtures.js';
import type { LogSuiteSettings } from './settings.js';

const NEVER_TARGET = ratioTarget('>=', 0.6);
const GROUP_COMMIT_TARGET = ratioTarget('>=', 0.5);

function baselineName(policy: FsyncPolicy, flushIntervalMs: number): string {
  if (policy === 'always') return 'fs.write + fdatasync per batch';
  if (policy === 'interval') return `fs.write, fdatasync every ${flushIntervalMs} ms`;
  return 'fs.write';
}

/** One round of the raw baseline: a fresh file, `budget` worth of batches, then removed. */
async function rawRound(dir: string, policy: FsyncPolicy, flushIntervalMs: number, batch: Buffer, budget: Budget): Promise<Throughput> {
  const path = join(dir, 'raw-append.bin');
  const appender = await RawAppender.create(path, policy, flushIntervalMs);
  try {
    return await throughputLoop(budget, () => appender.append(batch));
  } finally {
    await appender.close();
    await rm(path, { force: true });
  }
}

/** One round of the engine: a fresh data directory and partition, `workers` appenders, then removed. */
async function logRound(dir: string, policy: FsyncPolicy, settings: LogSuiteSettings, batches: Buffer[], budget: Budget): Promise<Throughput> {
  const opened = await createLog(join(dir, 'append-log'), policy, { segmentBytes: settings.appendSegmentBytes }, settings.flushIntervalMs);
  try {
    return await concurrentThroughput(budget, batches.length, async (worker) => {
      const batch = batches[worker]!;
      await opened.log.append(batch);
      return batch.length;
    });
  } finally {
    await discardLog(opened);
  }
}

export function appendCaseCount(settings: LogSuiteSettings): number {
  return settings.fsyncPolicies.length * settings.batchSizes.length + settings.batchSizes.length;
}

export async function appendCases(ctx: SuiteContext, settings: LogSuiteSettings): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const { appendBudget: budget, flushIntervalMs } = settings;
  for (const policy of settings.fsyncPolicies) {
    for (const recordsPerBatch of settings.batchSizes) {
      ctx.progress.startCase(`append, fsync ${policy}, ${recordsPerBatch} × 1 KiB per batch`);
      const batch = batchOf(recordsPerBatch);
      const measured = await interleavedRounds(
        settings.appendRounds,
        async () => (await rawRound(ctx.dataDir, policy, flushIntervalMs, batch, budget)).mbPerSec,
        async () => (await logRound(ctx.dataDir, policy, settings, [batch], budget)).mbPerSec,
      );
      const result = makeResult({
        id: `append.${policy}.batch-${recordsPerBatch}`,
        group: 'Append, one appender',
        name: `fsync ${policy}, ${recordsPerBatch} × 1 KiB per batch`,
        params: { fsyncPolicy: policy, recordsPerBatch, recordBytes: RECORD_BYTES, batchBytes: batch.length, appenders: 1 },
        value: measured.value,
        unit: 'MB/s',
        better: 'higher',
        baseline: { name: baselineName(policy, flushIntervalMs), value: measured.baseline },
        target: policy === 'never' ? NEVER_TARGET : null,
        rounds: measured.rounds,
      });
      ctx.report(result);
      results.push(result);
    }
  }

  const appenders = settings.concurrentAppenders;
  for (const recordsPerBatch of settings.batchSizes) {
    ctx.progress.startCase(`append, fsync always, ${appenders} appenders, ${recordsPerBatch} × 1 KiB per batch`);
    // append() rewrites the header of the batch it is given, so each appender needs its own copy
    const batches = Array.from({ length: appenders }, () => batchOf(recordsPerBatch));
    const batch = batches[0]!;
    const measured = await interleavedRounds(
      settings.appendRounds,
      async () => (await rawRound(ctx.dataDir, 'always', flushIntervalMs, batch, budget)).mbPerSec,
      async () => (await logRound(ctx.dataDir, 'always', settings, batches, budget)).mbPerSec,
    );
    const result = makeResult({
      id: `append.always.concurrent-${appenders}.batch-${recordsPerBatch}`,
      group: `Append, ${appenders} concurrent appenders (group commit)`,
      name: `fsync always, ${appenders} appenders, ${recordsPerBatch} × 1 KiB per batch`,
      params: { fsyncPolicy: 'always', recordsPerBatch, recordBytes: RECORD_BYTES, batchBytes: batch.length, appenders },
      value: measured.value,
      unit: 'MB/s',
      better: 'higher',
      baseline: { name: 'fs.write + fdatasync per batch, one writer', value: measured.baseline },
      target: GROUP_COMMIT_TARGET,
      rounds: measured.rounds,
    });
    ctx.report(result);
    results.push(result);
  }
  return results;
}
