/**
 * Sizes, loads and durations of the HTTP suite, for a full run (about three minutes on a 2-core machine) and
 * for a `--quick` smoke run (under 30 s). The load shapes (records per request, requests in flight, rate)
 * are those the targets are stated for; only durations, rounds and log sizes shrink in quick mode.
 */
export interface HttpSuiteSettings {
  /** bytes of each record value (a string of that many ASCII characters in JSON) */
  recordBytes: number;
  /** records per JSON produce request and per stored batch */
  recordsPerRequest: number;
  /** partitions of the produce and JSON-consume topics */
  partitions: number;
  /** JSON produce and JSON consume: requests in flight (one connection each, pipelining 1) */
  jsonInFlight: number;
  /** binary produce: record batches per request body and requests in flight */
  binaryBatchesPerRequest: number;
  binaryInFlight: number;
  /** binary consume: maxBytes of each fetch and requests in flight */
  binaryFetchMaxBytes: number;
  binaryConsumeInFlight: number;
  /** one throughput round, subject or baseline */
  roundMs: number;
  /** upper bound on the bytes one produce round writes (it runs in a fresh topic, deleted afterwards) */
  roundMaxBytes: number;
  /** an unmeasured round of each before the measured ones (JIT, connection set-up, page cache) */
  warmupMs: number;
  rounds: number;
  /** the log the JSON consume case reads (spread over `partitions`) and the binary consume case reads (one partition) */
  jsonReadLogBytes: number;
  binaryReadLogBytes: number;
  /** open-loop single-record produce */
  latencyRatePerSec: number;
  latencyWarmupMs: number;
  latencyDurationMs: number;
  latencyConnections: number;
  /** long-poll cost: waiters, their maxWaitMs (must outlast two idle spans and the set-up), one idle span */
  longPollWaiters: number;
  longPollMaxWaitMs: number;
  longPollIdleMs: number;
}

const MiB = 1024 * 1024;

const full: HttpSuiteSettings = {
  recordBytes: 1024,
  recordsPerRequest: 1000,
  partitions: 4,
  jsonInFlight: 4,
  binaryBatchesPerRequest: 1,
  binaryInFlight: 8,
  binaryFetchMaxBytes: MiB,
  binaryConsumeInFlight: 2,
  roundMs: 3000,
  roundMaxBytes: 2048 * MiB,
  warmupMs: 1000,
  rounds: 3,
  jsonReadLogBytes: 256 * MiB,
  binaryReadLogBytes: 320 * MiB,
  latencyRatePerSec: 1000,
  latencyWarmupMs: 1000,
  latencyDurationMs: 10_000,
  latencyConnections: 16,
  longPollWaiters: 500,
  longPollMaxWaitMs: 20_000,
  longPollIdleMs: 5000,
};

const quick: HttpSuiteSettings = {
  ...full,
  roundMs: 1000,
  roundMaxBytes: 512 * MiB,
  warmupMs: 300,
  rounds: 1,
  jsonReadLogBytes: 32 * MiB,
  binaryReadLogBytes: 64 * MiB,
  latencyWarmupMs: 500,
  latencyDurationMs: 2000,
  longPollIdleMs: 1000,
};

export function httpSuiteSettings(isQuick: boolean): HttpSuiteSettings {
  return isQuick ? quick : full;
}
