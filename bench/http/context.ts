/**
 * What every HTTP case works with: the suite context, the settings, the two running servers and the record
 * values; plus the pieces the cases share (warm-up then interleaved rounds, fresh topic names, CPU and GC
 * accounting of the servers, filling a topic through the binary produce route).
 */
import { interleavedRounds, type RoundsResult } from '../lib/measure.js';
import type { ServiceProcess } from '../lib/child-processes.js';
import type { SuiteContext } from '../lib/suite.js';
import { openPool, send } from './load.js';
import { RECORD_BATCH_MEDIA_TYPE } from './payloads.js';
import { brokerGcTotals, createTopic, describeTopic, gcRates, type GcTotals, type PartitionState } from './servers.js';
import type { HttpSuiteSettings } from './settings.js';

export interface HttpBench {
  ctx: SuiteContext;
  settings: HttpSuiteSettings;
  broker: ServiceProcess;
  /** data directory of the broker (its partition directories are `<topic>-<partition>`) */
  brokerDataDir: string;
  plain: ServiceProcess;
  /** the values of one request or batch: `recordsPerRequest` strings of `recordBytes` characters */
  values: string[];
  /** one RecordBatch v2 of `values` */
  batch: Buffer;
}

let topicSerial = 0;

/** A topic name not used before in this run (each produce round writes into a fresh topic). */
export function freshTopicName(prefix: string): string {
  return `${prefix}-${++topicSerial}`;
}

/** A round function: runs for `ms` and returns its number; `measured` is false for the warm-up round. */
export type Round = (ms: number, measured: boolean) => Promise<number>;

/**
 * One unmeasured round of each (JIT, connections, page cache), then `rounds` measured rounds alternating
 * baseline and subject; medians reported.
 */
export async function warmedRounds(bench: HttpBench, baseline: Round, subject: Round): Promise<RoundsResult> {
  const { warmupMs, roundMs, rounds } = bench.settings;
  await baseline(warmupMs, false);
  await subject(warmupMs, false);
  const result = await interleavedRounds(
    rounds,
    () => baseline(roundMs, true),
    () => subject(roundMs, true),
  );
  bench.broker.checkAlive();
  bench.plain.checkAlive();
  return result;
}

/**
 * CPU time of a server process and of the load generator (this process) over measured rounds, per request
 * and as cores kept busy: shows whether a server was CPU-bound, and how much of the machine the load
 * generator took.
 */
export class CpuTally {
  private serverMs = 0;
  private clientMs = 0;
  private seconds = 0;
  private requests = 0;
  private gc: GcTotals | null = null;

  /**
   * @param broker when given, the broker's garbage collections over the measured rounds are added too
   *   (scraped from its /metrics before and after each round, outside the timed part)
   */
  constructor(private readonly broker: ServiceProcess | null = null) {}

  /** Runs `round` (which returns its result and the requests it sent) and adds its CPU times when measured. */
  async track<T extends { requests: number }>(server: ServiceProcess | null, measured: boolean, round: () => Promise<T>): Promise<T> {
    const gc0 = measured && this.broker ? await brokerGcTotals(this.broker) : null;
    const server0 = server?.cpuTimeMs() ?? 0;
    const client0 = process.cpuUsage();
    const started = performance.now();
    const result = await round();
    if (measured) {
      const client = process.cpuUsage(client0);
      this.serverMs += (server?.cpuTimeMs() ?? 0) - server0;
      this.clientMs += (client.user + client.system) / 1000;
      this.seconds += (performance.now() - started) / 1000;
      this.requests += result.requests;
      if (gc0 && this.broker) this.addGc(gc0, await brokerGcTotals(this.broker));
    }
    return result;
  }

  private addGc(before: GcTotals, after: GcTotals): void {
    this.gc ??= { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, incremental: { count: 0, ms: 0 } };
    for (const kind of ['minor', 'major', 'incremental'] as const) {
      this.gc[kind].count += after[kind].count - before[kind].count;
      this.gc[kind].ms += after[kind].ms - before[kind].ms;
    }
  }

  summary(withServer = true): Record<string, number> {
    const out: Record<string, number> = {
      loadGeneratorCpuMsPerRequest: this.clientMs / this.requests,
      loadGeneratorCores: this.clientMs / 1000 / this.seconds,
    };
    if (withServer) {
      out.serverCpuMsPerRequest = this.serverMs / this.requests;
      out.serverCores = this.serverMs / 1000 / this.seconds;
    }
    if (this.gc) {
      const zero: GcTotals = { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, incremental: { count: 0, ms: 0 } };
      for (const [key, value] of Object.entries(gcRates(zero, this.gc, this.seconds))) out[`gc.${key}`] = value;
    }
    return out;
  }
}

/**
 * Creates `topic` and appends `bench.batch` through POST .../batches, round robin over its partitions with 8
 * requests in flight, until it holds `bytes` in all; returns the partitions' state afterwards.
 */
export async function fillTopic(bench: HttpBench, topic: string, partitions: number, bytes: number): Promise<PartitionState[]> {
  await createTopic(bench.broker, topic, partitions);
  const { batch } = bench;
  const requests = Math.ceil(bytes / batch.length / partitions) * partitions;
  const step = bench.ctx.progress.step(`writing ${(requests * batch.length / 1e6).toFixed(0)} MB into ${topic}`, requests, 'batches');
  const pool = openPool(bench.broker.url, 8);
  let next = 0;
  try {
    const worker = async () => {
      while (next < requests) {
        const partition = next++ % partitions;
        await send(pool, {
          method: 'POST',
          path: `/topics/${topic}/partitions/${partition}/batches`,
          headers: { 'content-type': RECORD_BATCH_MEDIA_TYPE },
          body: batch,
        });
        step.update(next);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    await pool.close();
    step.finish();
  }
  return describeTopic(bench.broker, topic);
}
