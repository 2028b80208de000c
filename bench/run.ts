/**
 * Entry point of the benchmarks: `npm run bench` (builds first, then runs dist/bench/run.js; always compiled
 * JS, never tsx, so the numbers are those of production code).
 *
 *   npm run bench [-- --quick] [-- --data-dir DIR] [-- --suite log]
 *
 *   --quick          smoke run: smaller logs (1 GB becomes 100 MB), shorter and fewer rounds
 *   --data-dir DIR   where scratch data goes (env SLUICE_BENCH_DATA_DIR; default the OS temp dir). A fresh
 *                    `sluice-bench-*` directory is made inside it and removed afterwards, also on Ctrl-C.
 *   --suite NAME     run only this suite (repeatable); default all: log (storage engine), http (the broker's
 *                    HTTP API, against a real broker process), client (sluice/client's producer and
 *                    consumer against a real broker process, binary vs JSON path), retention (produce
 *                    latency while a retention pass deletes 100 segments), queues (share groups vs
 *                    consumer groups: records/s and broker CPU per record), kafka (kafkajs
 *                    through the Kafka listener vs sluice/client)
 *
 * With `--workload NAME|FILE`, `--list` or `compare A B` it is the benchmark harness users run instead
 * (bench/harness/main.ts: declarative workloads, real clients, peers, charts).
 *
 * Prints the environment first, shows progress, prints each result next to its baseline, writes
 * `bench/results/<suite>.json` and regenerates docs/benchmarks.md from all results files. Adding a suite
 * (replication next) means adding it to SUITES. Server processes a suite starts (bench/lib/child-processes.ts)
 * are killed on Ctrl-C before the scratch directory is removed.
 */
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { clientSuite } from './client.bench.js';
import { httpSuite } from './http.bench.js';
import { logSuite } from './log.bench.js';
import { retentionSuite } from './retention.bench.js';
import { queuesSuite } from './queues.bench.js';
import { kafkaSuite } from './kafka.bench.js';
import { killAllChildren } from './lib/child-processes.js';
import { collectEnvironment, describeEnvironment } from './lib/environment.js';
import { projectRoot, resultsDir } from './lib/paths.js';
import { Progress } from './lib/progress.js';
import { writeSuiteReport, type BenchResult, type SuiteReport } from './lib/results.js';
import { resultLine, type Suite } from './lib/suite.js';
import { writeBenchmarksDoc } from './report.js';
import { HARNESS_USAGE, isHarnessCommand, runHarnessCli } from './harness/main.js';

const SUITES: Suite[] = [logSuite, httpSuite, clientSuite, retentionSuite, queuesSuite, kafkaSuite];
const USAGE = 'usage: npm run bench [-- --quick] [-- --data-dir DIR] [-- --suite NAME]';

/** A bad command line: reported as a message and the usage, without a stack trace. */
class UsageError extends Error {}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      suite: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const names = values.suite ?? SUITES.map((s) => s.name);
  const unknown = names.filter((n) => !SUITES.some((s) => s.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown suite ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
  return {
    quick: values.quick,
    help: values.help,
    baseDir: values['data-dir'] ?? process.env.SLUICE_BENCH_DATA_DIR ?? tmpdir(),
    suites: SUITES.filter((s) => names.includes(s.name)),
  };
}

async function checkFreeSpace(dir: string, needed: number): Promise<void> {
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (free < needed) {
    throw new Error(`${dir} has ${(free / 1e9).toFixed(1)} GB free, the benchmarks need ${(needed / 1e9).toFixed(1)} GB; pass --data-dir`);
  }
}

async function runSuite(suite: Suite, runDir: string, quick: boolean): Promise<SuiteReport> {
  const dataDir = join(runDir, suite.name);
  await mkdir(dataDir);
  const environment = await collectEnvironment(dataDir, suite.fsyncPolicy);
  console.log(`\n== ${suite.title}${quick ? ' (quick)' : ''}`);
  for (const line of describeEnvironment(environment)) console.log(`   ${line}`);
  console.log('');
  const progress = new Progress(suite.plannedCases(quick));
  const report = (result: BenchResult) => progress.log(resultLine(result));
  try {
    const output = await suite.run({ dataDir, quick, progress, report });
    return { suite: suite.name, title: suite.title, generatedAt: new Date().toISOString(), quick, environment, ...output };
  } finally {
    progress.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options.help) {
    console.log(`${HARNESS_USAGE}\n\ndevelopment suites: ${USAGE}`);
    return;
  }
  await mkdir(options.baseDir, { recursive: true });
  await checkFreeSpace(options.baseDir, Math.max(...options.suites.map((s) => s.diskBytes(options.quick))));
  const runDir = await mkdtemp(join(options.baseDir, 'sluice-bench-'));
  const cleanUp = () => rmSync(runDir, { recursive: true, force: true, maxRetries: 5 });
  const onSignal = (signal: NodeJS.Signals) => {
    killAllChildren();
    cleanUp();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = performance.now();
  try {
    await mkdir(resultsDir, { recursive: true });
    for (const suite of options.suites) {
      const report = await runSuite(suite, runDir, options.quick);
      const path = join(resultsDir, `${suite.name}.json`);
      await writeSuiteReport(path, report);
      const missed = report.results.filter((r) => r.pass === false);
      const targets = report.results.filter((r) => r.pass !== null).length;
      console.log(`\n   targets met: ${targets - missed.length} of ${targets}${missed.length ? ` (missed: ${missed.map((r) => r.id).join(', ')})` : ''}`);
      console.log(`   wrote ${relative(projectRoot, path)}`);
    }
    console.log(`   wrote ${await writeBenchmarksDoc()}`);
    console.log(`   total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanUp();
  }
}

const argv = process.argv.slice(2);
if (isHarnessCommand(argv)) {
  // exit at once: a client library's idle keep-alive socket must not hold the finished harness open
  void runHarnessCli(argv).then((code) => process.exit(code));
} else {
  main().catch(reportFailure);
}

function reportFailure(err: unknown): void {
  if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) console.error(`${(err as Error).message}\n${USAGE}`);
  else console.error(err);
  process.exitCode = 1;
}
