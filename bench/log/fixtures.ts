/**
 * Test data and logs for the storage-engine suite: 1 KiB records with incompressible values (from a seeded
 * generator, so every run stores the same bytes), batches of them, and partition logs filled to a size.
 */
import { rm } from 'node:fs/promises';
import { LogManager } from '../../src/log/log-manager.js';
import type { FsyncPolicy, LogConfig } from '../../src/log/log-config.js';
import type { PartitionLog } from '../../src/log/partition-log.js';
import { encodeBatch, type RecordInput } from '../../src/log/record-batch.js';
import type { TopicPartition } from '../../src/log/segment-files.js';
import type { StepProgress } from '../lib/progress.js';
import { seededRandom } from '../lib/random.js';

export const RECORD_BYTES = 1024;
export const BENCH_PARTITION: TopicPartition = { topic: 'bench', partition: 0 };
const TIMESTAMP = 1_700_000_000_000;

export function records(count: number, seed = 1): RecordInput[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const value = Buffer.allocUnsafe(RECORD_BYTES);
    for (let i = 0; i < RECORD_BYTES; i += 4) value.writeUInt32LE((random() * 0x1_0000_0000) >>> 0, i);
    return { key: null, value, timestamp: TIMESTAMP };
  });
}

/** One encoded batch of `count` 1 KiB records (offsets are assigned at append, so it can be appended again). */
export function batchOf(count: number, seed = 1): Buffer {
  return encodeBatch({ records: records(count, seed) });
}

export interface OpenedLog {
  manager: LogManager;
  log: PartitionLog;
}

/** A new data directory with one empty partition. */
export async function createLog(dataDir: string, fsyncPolicy: FsyncPolicy, config: Partial<LogConfig>, flushIntervalMs?: number): Promise<OpenedLog> {
  const manager = await LogManager.open({ dataDir, fsyncPolicy, ...(flushIntervalMs !== undefined ? { flushIntervalMs } : {}) });
  const log = await manager.create(BENCH_PARTITION, config);
  return { manager, log };
}

/** Drops a log without flushing (its files are about to be removed) and removes its directory. */
export async function discardLog(opened: OpenedLog): Promise<void> {
  opened.manager.abandon();
  await rm(opened.manager.dataDir, { recursive: true, force: true });
}

/**
 * Appends `batch` until the log holds at least `bytes`, then flushes it and sets the high watermark to the log
 * end offset. Up to 8 appends are in flight (distinct copies of the batch, since append rewrites the header).
 */
export async function fillLog(log: PartitionLog, batch: Buffer, bytes: number, progress: StepProgress): Promise<void> {
  const copies = Array.from({ length: 8 }, () => Buffer.from(batch));
  const worker = async (copy: Buffer) => {
    while (log.sizeInBytes < bytes) {
      await log.append(copy, { trusted: true });
      progress.update(log.sizeInBytes / 1e6);
    }
  };
  await Promise.all(copies.map(worker));
  await log.flush();
  progress.finish();
}

/** The `.log` files of the log with their sizes, oldest segment first. */
export function segmentFiles(log: PartitionLog): { path: string; size: number }[] {
  return log.segments.map((s) => ({ path: s.logPath, size: s.size }));
}
