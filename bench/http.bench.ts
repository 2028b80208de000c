/**
 * The HTTP suite (src/server end to end): the real broker, started as an operator starts it
 * (`node bin/sluice.js serve … --log-level warn --fsync always`, compiled JS, its own process), loaded over
 * loopback from this process with undici Pools (keep-alive, pipelining 1, one connection per request in
 * flight). Baselines run in the same run on the same machine: a plain fastify 5 server in its own process
 * (bench/http/plain-server.ts) doing only the HTTP and JSON part of each request, raw fs.write + fdatasync of
 * the same batches, and the idle broker itself. The cases live in bench/http/; this file orders them, owns
 * the two server processes and states the method.
 *
 * Run it through bench/run.ts (`npm run bench -- --suite http`), never on import: this module only exports
 * the suite.
 */
import { join } from 'node:path';
import type { ServiceProcess } from './lib/child-processes.js';
import type { BenchResult } from './lib/results.js';
import type { Suite, SuiteContext, SuiteOutput } from './lib/suite.js';
import type { HttpBench } from './http/context.js';
import { binaryConsumeCase, jsonConsumeCase } from './http/consume-cases.js';
import { latencyCases } from './http/latency-case.js';
import { longPollCases } from './http/long-poll-case.js';
import { recordBatch, recordValues } from './http/payloads.js';
import { binaryProduceCases, jsonProduceCase } from './http/produce-cases.js';
import { httpSuiteSettings, type HttpSuiteSettings } from './http/settings.js';
import { startBroker, startPlainServer } from './http/servers.js';

const CASES = 6;

function notesFor(s: HttpSuiteSettings): string[] {
  return [
    'Ratio is value ÷ baseline in the unit shown: for MB/s higher is better, for ms lower is better.',
    'Broker: `node bin/sluice.js serve --data-dir DIR --port PORT --log-level warn --fsync always`, default config otherwise (maxMessageBytes 1 MiB + 12, segmentBytes 128 MiB), a separate process; the load generator is the benchmark process, on the same machine, over loopback, with undici 7 Pools (keep-alive, pipelining 1, one connection per request in flight). Server and load generator share the CPU cores.',
    'Plain baseline: a fastify 5 server in its own process (bench/http/plain-server.ts), no logger, the same body limit: its produce route parses the JSON body and answers {"records": n}; its fetch route builds and serializes the same JSON reply from memory; its file route does fs.read of the requested bytes and sends them. The broker additionally validates against its JSON schema, builds and appends a record batch, waits for fdatasync and answers one offset per record (about 55 bytes of JSON each, ~55 KB per 1,000-record request).',
    `Throughput cases: ${s.rounds} round(s) of ${s.roundMs / 1000} s (or ${s.roundMaxBytes / 2 ** 20} MiB, whichever comes first) each after an unmeasured ${s.warmupMs / 1000} s round of each, subject and baseline alternating, median reported (per-round values in the JSON); closed loop, each request sent when the previous one on its connection is answered. Every produce round writes into a fresh topic of ${s.partitions} partitions, deleted afterwards.`,
    `Record values are ${s.recordBytes}-character ASCII strings (${s.recordBytes} bytes each, nothing to escape in JSON); JSON produce and consume MB/s count record values only, binary MB/s count record-batch bytes (${s.recordsPerRequest} records of ${s.recordBytes} B make one batch of about ${((s.recordsPerRequest * (s.recordBytes + 10)) / 1e6).toFixed(2)} MB).`,
    'Consume cases read logs written through POST .../batches just before, so they come from the page cache; each reply is checked to end at the offset it should (nextOffset, Sluice-Next-Offset).',
    `Latency (measured first, on the fresh broker): open loop, ${s.latencyRatePerSec} requests/s scheduled from the start time (sends never wait for replies) over a pool of ${s.latencyConnections} connections, ${s.latencyWarmupMs / 1000} s unmeasured then ${s.latencyDurationMs / 1000} s measured per subject; latency runs from handing the request to undici to the reply's last byte, in an HDR histogram (µs). The disk's floor is the same record appended at the same rate in the benchmark process with writev + fdatasync and group commit, no HTTP. Details hold p90, p99.9, max, how late sends left against their schedule, and the broker's own fdatasync durations over the span (from its /metrics).`,
    `Long polling: CPU time of the broker process over ${s.longPollIdleMs / 1000} s with no traffic, first with no fetch waiting, then with ${s.longPollWaiters} waiting (each on its own connection), from /proc/<pid>/stat (utime + stime of all threads, in clock ticks, so 10 ms steps) and from the threads' schedstat (ns). Each state is measured over two consecutive spans and the quieter one is reported: V8's memory reducer runs a few full GCs (~70 ms of CPU) some seconds after a burst of requests, and would otherwise fall into one state or the other by chance. The details hold every span and the time to wake all waiters with one record.`,
    'Details of the throughput cases hold the CPU time per request of each server process (/proc/<pid>/stat) and of the load generator, and the cores each kept busy: with the servers and the load generator on the same cores, they show which side was CPU-bound.',
  ];
}

/** Results grouped for the table (the run order interleaves produce and consume to reuse their logs). */
function byGroup(results: BenchResult[]): BenchResult[] {
  const groups = [...new Set(results.map((r) => r.group))];
  return [...results].sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group));
}

export const httpSuite: Suite = {
  name: 'http',
  title: 'HTTP API (src/server, real broker process)',
  fsyncPolicy: 'always (broker started with --fsync always; every produce is acks=all)',
  plannedCases: () => CASES,
  diskBytes(quick) {
    const s = httpSuiteSettings(quick);
    // one produce round (its topic is deleted after it) plus the larger of the two read logs, with slack
    return (s.roundMaxBytes + Math.max(s.jsonReadLogBytes, s.binaryReadLogBytes)) * 1.2;
  },
  async run(ctx: SuiteContext): Promise<SuiteOutput> {
    const settings = httpSuiteSettings(ctx.quick);
    const brokerDataDir = join(ctx.dataDir, 'broker');
    const values = recordValues(settings.recordsPerRequest, settings.recordBytes);
    let broker: ServiceProcess | null = null;
    let plain: ServiceProcess | null = null;
    const results: BenchResult[] = [];
    try {
      [broker, plain] = await Promise.all([startBroker(brokerDataDir), startPlainServer(settings.recordBytes, settings.recordsPerRequest)]);
      const bench: HttpBench = { ctx, settings, broker, brokerDataDir, plain, values, batch: recordBatch(values) };
      // latency first, on a fresh broker and a quiet machine, before gigabytes are written and deleted
      results.push(...(await latencyCases(bench)));
      results.push(await jsonProduceCase(bench));
      results.push(await jsonConsumeCase(bench));
      results.push(...(await binaryProduceCases(bench)));
      results.push(await binaryConsumeCase(bench));
      results.push(...(await longPollCases(bench)));
    } finally {
      await Promise.all([broker?.stop(), plain?.stop()]);
    }
    return {
      settings: {
        recordBytes: settings.recordBytes,
        recordsPerRequest: settings.recordsPerRequest,
        partitions: settings.partitions,
        jsonInFlight: settings.jsonInFlight,
        binaryBatchesPerRequest: settings.binaryBatchesPerRequest,
        binaryInFlight: settings.binaryInFlight,
        binaryFetchMaxBytes: settings.binaryFetchMaxBytes,
        binaryConsumeInFlight: settings.binaryConsumeInFlight,
        roundMs: settings.roundMs,
        warmupMs: settings.warmupMs,
        rounds: settings.rounds,
        jsonReadLogBytes: settings.jsonReadLogBytes,
        binaryReadLogBytes: settings.binaryReadLogBytes,
        latencyRatePerSec: settings.latencyRatePerSec,
        latencyDurationMs: settings.latencyDurationMs,
        latencyConnections: settings.latencyConnections,
        longPollWaiters: settings.longPollWaiters,
        longPollMaxWaitMs: settings.longPollMaxWaitMs,
        longPollIdleMs: settings.longPollIdleMs,
      },
      notes: notesFor(settings),
      results: byGroup(results),
    };
  },
};
