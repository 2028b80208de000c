/**
 * Sizes, budgets and rounds of the storage-engine suite, for a full run and for a `--quick` smoke run. The
 * full run is sized to finish in about five minutes on a 2-core machine with at most ~1.3 GB on disk.
 */
import type { FsyncPolicy } from '../../src/log/log-config.js';
import type { Budget } from '../lib/measure.js';

export interface LogSuiteSettings {
  /** tinybench time and warm-up per task */
  microTimeMs: number;
  microWarmupMs: number;
  /** records per batch in the codec and CRC cases */
  codecBatchRecords: number;
  fsyncPolicies: FsyncPolicy[];
  batchSizes: number[];
  /** per append measurement, subject and baseline alike */
  appendBudget: Budget;
  appendRounds: number;
  /** segment size of the append cases: large enough that no case rolls */
  appendSegmentBytes: number;
  flushIntervalMs: number;
  concurrentAppenders: number;
  /** log sizes of the fetch cases; the last one also serves the read and open cases */
  fetchLogBytes: number[];
  fetchMaxBytes: number;
  /** records per batch in the logs that fetch, read and open work on */
  logBatchRecords: number;
  logSegmentBytes: number;
  readMaxBytes: number;
  readRounds: number;
  openCleanRounds: number;
  openUncleanRounds: number;
}

const MiB = 1024 * 1024;

const full: LogSuiteSettings = {
  microTimeMs: 1000,
  microWarmupMs: 200,
  codecBatchRecords: 100,
  fsyncPolicies: ['never', 'interval', 'always'],
  batchSizes: [1, 10, 100, 1000],
  appendBudget: { durationMs: 1000, maxBytes: 512 * MiB },
  appendRounds: 7,
  appendSegmentBytes: 1024 * MiB,
  flushIntervalMs: 1000,
  concurrentAppenders: 64,
  fetchLogBytes: [10e6, 100e6, 1e9],
  fetchMaxBytes: 64 * 1024,
  logBatchRecords: 10,
  logSegmentBytes: 128 * MiB,
  readMaxBytes: MiB,
  readRounds: 3,
  openCleanRounds: 5,
  openUncleanRounds: 3,
};

const quick: LogSuiteSettings = {
  ...full,
  microTimeMs: 150,
  microWarmupMs: 50,
  appendBudget: { durationMs: 250, maxBytes: 32 * MiB },
  appendRounds: 1,
  fetchLogBytes: [1e6, 10e6, 100e6],
  // small segments so that a 100 MB log still has several, as the 1 GB one does
  logSegmentBytes: 16 * MiB,
  readRounds: 1,
  openCleanRounds: 2,
  openUncleanRounds: 1,
};

export function logSuiteSettings(isQuick: boolean): LogSuiteSettings {
  return isQuick ? quick : full;
}
