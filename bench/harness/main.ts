/**
 * The command line of the harness (bench/run.ts hands over to it when it sees --workload, --list or compare):
 *
 *   sluice bench --workload NAME|FILE [--broker URL[,URL...]] [--duration SECONDS] [--warmup SECONDS] [--out DIR] [--quick]
 *                [--peers redis,nats,rabbitmq] [--install-peers] [--data-dir DIR]
 *   sluice bench --list
 *   sluice bench compare A B          (A and B: result.json files or the directories holding them)
 *
 * Exit codes (contract): 0 the run completed; 1 the broker failed or the workload could not be met (a
 * record not consumed, an error, a feature not available in this build); 2 bad usage or a bad workload file
 * (the message names the field).
 */
import { readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../lib/paths.js';
import { compareResults } from './compare.js';
import { defaultBaseDir, runHarness } from './harness.js';
import { PEERS, type PeerName } from './peer-servers.js';
import type { HarnessResult } from './result.js';
import { loadWorkload, shippedWorkloads, WorkloadError } from './workload.js';

export const HARNESS_USAGE = `usage: sluice bench --workload NAME|FILE [--broker URL[,URL...]] [--duration SECONDS] [--warmup SECONDS] [--out DIR]
                    [--quick] [--peers redis,nats,rabbitmq] [--install-peers] [--data-dir DIR]
       sluice bench --list
       sluice bench compare A B
       sluice bench [--suite NAME] [--quick]      (the development suites)`;

class UsageError extends Error {}

const timestamp = () => new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');

function loadResult(path: string): HarnessResult {
  const file = statSync(path, { throwIfNoEntry: false })?.isDirectory() ? join(path, 'result.json') : path;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HarnessResult;
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

async function harnessMain(argv: string[]): Promise<number> {
  if (argv[0] === 'compare') {
    if (argv.length !== 3) throw new UsageError('compare takes two results: sluice bench compare A B');
    for (const line of compareResults(loadResult(argv[1]!), loadResult(argv[2]!), argv[1]!, argv[2]!)) console.log(line);
    return 0;
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string' },
      broker: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      peers: { type: 'string' },
      'install-peers': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HARNESS_USAGE);
    return 0;
  }
  if (values.list) {
    for (const name of shippedWorkloads()) {
      const { workload } = loadWorkload(name);
      console.log(`${name.padEnd(28)} ${workload.description}`);
    }
    return 0;
  }
  if (!values.workload) throw new UsageError('--workload is required');
  const duration = values.duration === undefined ? null : Number(values.duration);
  if (duration !== null && !(duration > 0 && duration <= 86_400)) throw new UsageError(`--duration must be a number of seconds in (0, 86400], got ${values.duration}`);
  const warmup = values.warmup === undefined ? null : Number(values.warmup);
  if (warmup !== null && !(warmup >= 0 && warmup <= 3_600)) throw new UsageError(`--warmup must be a number of seconds in [0, 3600], got ${values.warmup}`);
  const peers = (values.peers ?? '').split(',').filter(Boolean);
  const unknown = peers.filter((p) => !PEERS.includes(p as PeerName));
  if (unknown.length > 0) throw new UsageError(`unknown peer ${unknown.join(', ')}; known: ${PEERS.join(', ')}`);
  const brokerUrls = values.broker ? values.broker.split(',').map((u) => u.trim().replace(/\/+$/, '')) : null;
  const { workload } = loadWorkload(values.workload);
  const outDir = values.out ?? join(projectRoot, 'bench', 'results', `${workload.name}-${timestamp()}`);
  const result = await runHarness({
    workload,
    brokerUrls,
    durationSeconds: duration,
    warmupSeconds: warmup,
    outDir,
    quick: values.quick,
    peers: peers as PeerName[],
    installPeers: values['install-peers'],
    baseDir: values['data-dir'] ?? defaultBaseDir(),
    log: (line) => console.log(line),
  });
  console.log('');
  console.log(readFileSync(join(outDir, 'summary.md'), 'utf8').split('![')[0]!.trimEnd());
  console.log(`\nwrote ${relative(process.cwd(), outDir) || '.'}/result.json, summary.md${result.charts.length ? `, ${result.charts.join(', ')}` : ''}`);
  if (result.status === 'unavailable') {
    console.error(`${workload.name}: ${result.unavailable}`);
    return 1;
  }
  return result.status === 'completed' ? 0 : 1;
}

/** Runs the harness command line; resolves with the exit code. */
export async function runHarnessCli(argv: string[]): Promise<number> {
  try {
    return await harnessMain(argv);
  } catch (err) {
    if (err instanceof WorkloadError) {
      console.error(`bad workload: ${err.message}`);
      return 2;
    }
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(err as Error).message}\n${HARNESS_USAGE}`);
      return 2;
    }
    console.error(err);
    return 1;
  }
}

/** True when the arguments are for the harness rather than the development suites. */
export const isHarnessCommand = (argv: string[]) => argv[0] === 'compare' || argv.some((a) => a === '--workload' || a.startsWith('--workload=') || a === '--list');
