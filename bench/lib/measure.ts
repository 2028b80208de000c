/**
 * Measuring primitives shared by the suites.
 *
 * - `throughputLoop`: runs one async step (which returns the bytes it moved) back to back until a time or
 *   byte budget is spent; `concurrentThroughput` does the same with N workers in flight at once.
 * - `interleavedRounds`: measures a subject and its baseline in alternating order, round after round, and
 *   reports the median of each, so drift (page-cache writeback, CPU boost, a noisy neighbour) hits both.
 * - `microBench`: a tinybench run over named tasks, returning mean latency per call.
 */
import { Bench } from 'tinybench';

export interface Budget {
  /** stop after this long */
  durationMs: number;
  /** or after this many bytes, whichever comes first */
  maxBytes: number;
}

export interface Throughput {
  bytes: number;
  seconds: number;
  /** bytes / seconds / 1e6 */
  mbPerSec: number;
}

function throughputOf(bytes: number, startedMs: number): Throughput {
  const seconds = (performance.now() - startedMs) / 1000;
  return { bytes, seconds, mbPerSec: bytes / seconds / 1e6 };
}

export async function throughputLoop(budget: Budget, step: () => Promise<number>): Promise<Throughput> {
  const started = performance.now();
  let bytes = 0;
  while (bytes < budget.maxBytes && performance.now() - started < budget.durationMs) {
    bytes += await step();
  }
  return throughputOf(bytes, started);
}

/** `workers` loops run at once, each calling `step(worker)`; the clock stops when the last one finishes. */
export async function concurrentThroughput(budget: Budget, workers: number, step: (worker: number) => Promise<number>): Promise<Throughput> {
  const started = performance.now();
  let bytes = 0;
  const worker = async (i: number) => {
    while (bytes < budget.maxBytes && performance.now() - started < budget.durationMs) {
      // not `bytes += await step(i)`: that reads `bytes` before the await and loses the other workers' bytes
      const moved = await step(i);
      bytes += moved;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return throughputOf(bytes, started);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >>> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface RoundsResult {
  value: number;
  baseline: number;
  rounds: { value: number[]; baseline: number[] };
}

/**
 * Runs `baseline` and `subject` `rounds` times each, alternating which goes first, and returns the medians.
 * Each function measures one round and returns its number.
 */
export async function interleavedRounds(rounds: number, baseline: () => Promise<number>, subject: () => Promise<number>): Promise<RoundsResult> {
  const values: number[] = [];
  const baselines: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      baselines.push(await baseline());
      values.push(await subject());
    } else {
      values.push(await subject());
      baselines.push(await baseline());
    }
  }
  return { value: median(values), baseline: median(baselines), rounds: { value: values, baseline: baselines } };
}

export interface MicroTask {
  name: string;
  fn: () => unknown;
}

export interface MicroResult {
  /** mean milliseconds per call */
  meanMs: number;
  p99Ms: number;
  samples: number;
}

/** Runs the tasks one after another in one tinybench Bench; throws if any task failed. */
export async function microBench(tasks: MicroTask[], options: { timeMs: number; warmupMs: number }): Promise<Map<string, MicroResult>> {
  const bench = new Bench({ time: options.timeMs, warmupTime: options.warmupMs, throws: true });
  for (const task of tasks) bench.add(task.name, task.fn);
  await bench.run();
  const out = new Map<string, MicroResult>();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`benchmark task ${task.name} ended ${result.state}`);
    out.set(task.name, { meanMs: result.latency.mean, p99Ms: result.latency.p99, samples: result.latency.samplesCount });
  }
  return out;
}
