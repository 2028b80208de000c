/**
 * One harness run: a workload against sluice (a broker the harness starts, or the brokers given with
 * --broker) through the paths the workload names, then against each peer asked for, then the same-run
 * baselines on the data directory's disk; writes result.json, summary.md and the charts into the output
 * directory and returns the result.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectEnvironment } from '../lib/environment.js';
import { Progress } from '../lib/progress.js';
import { measureBaselines, produceBaselineName, type Baselines } from './baselines.js';
import { installCommand, installPeers, peerInstalled, startPeer, type PeerName } from './peer-servers.js';
import { summaryMarkdown, writeCharts, type HarnessResult, type Ratio } from './result.js';
import { missingFeature, sluiceSystem, startLocalBroker, type LocalBroker } from './sluice-system.js';
import { runOnSystem, type SystemResult, type SystemUnderTest } from './system-run.js';
import type { Workload } from './workload.js';

export interface HarnessOptions {
  workload: Workload;
  brokerUrls: string[] | null;
  /** overrides the workload's duration (seconds, after warm-up) */
  durationSeconds: number | null;
  /** overrides the workload's warm-up (seconds) */
  warmupSeconds: number | null;
  outDir: string;
  quick: boolean;
  peers: PeerName[];
  installPeers: boolean;
  /** scratch space (broker data, peers' data, baselines); default the OS temp dir */
  baseDir: string;
  /** print lines (summary table) */
  log: (line: string) => void;
}

/** The run's workload after --duration and --quick: quick runs are 5 s with 1 s of warm-up at most. */
function effectiveWorkload(o: HarnessOptions): { workload: Workload; durationSeconds: number | null } {
  const w = { ...o.workload };
  let duration = o.durationSeconds ?? w.durationSeconds ?? null;
  if (o.durationSeconds !== null) {
    delete w.records;
    if (w.backlog) w.backlog = { ...w.backlog, bytes: Math.min(w.backlog.bytes, 256e6) };
  }
  if (o.warmupSeconds !== null) w.warmupSeconds = o.warmupSeconds;
  if (o.quick) {
    w.warmupSeconds = Math.min(w.warmupSeconds, 1);
    if (duration !== null) duration = Math.min(duration, 5);
    if (w.records !== undefined) w.records = Math.min(w.records, 20_000);
    if (w.backlog) w.backlog = { ...w.backlog, bytes: Math.min(w.backlog.bytes, 32e6) };
  }
  if (w.backlog) duration = null;
  if (duration !== null) w.durationSeconds = duration;
  return { workload: w, durationSeconds: duration };
}

function ratio(value: number, baselines: Baselines, name: keyof Baselines): Ratio {
  const b = baselines[name].mbPerSec;
  return { value, baseline: name, baselineMbPerSec: b, ratio: b > 0 ? value / b : Number.NaN };
}

export async function runHarness(o: HarnessOptions): Promise<HarnessResult> {
  const { workload: w, durationSeconds } = effectiveWorkload(o);
  await mkdir(o.outDir, { recursive: true });
  await mkdir(o.baseDir, { recursive: true });
  const scratch = await mkdtemp(join(o.baseDir, 'sluice-harness-'));
  // on Ctrl-C: the exit handlers of the process modules kill every server and client, then the scratch goes
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true, maxRetries: 5 });
  const onSignal = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.once('exit', removeScratch);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const env = await collectEnvironment(scratch, o.brokerUrls ? 'as configured on the given broker' : w.fsync);
  const result: HarnessResult = {
    workload: w,
    environment: { ...env, cpu: env.cpuModel, cores: env.cores, node: env.node, fsync: env.fsyncPolicy, crc: env.crcImplementation },
    status: 'completed',
    unavailable: null,
    quick: o.quick,
    brokerUrls: o.brokerUrls,
    produce: null,
    consume: null,
    latencyMs: null,
    baselines: {},
    ratios: {},
    systems: [],
    peersMissing: [],
    notes: [],
    charts: [],
  };
  const missing = await missingFeature(w, o.brokerUrls?.[0] ?? null);
  if (missing) {
    result.status = 'unavailable';
    result.unavailable = `${missing} is not available in this build`;
    await rm(scratch, { recursive: true, force: true });
    await writeReport(o.outDir, result);
    return result;
  }
  const runId = Date.now().toString(36);
  const progress = new Progress(2 + o.peers.length + (w.path === 'both' ? 1 : 0));
  const results: SystemResult[] = [];
  const runOne = async (sut: SystemUnderTest) => {
    progress.startCase(sut.label);
    const r = await runOnSystem(sut, { workload: w, durationSeconds, runId, progress });
    progress.log(`  ${r.label.padEnd(28)} produce ${r.produce.mbPerSec.toFixed(1)} MB/s (${Math.round(r.produce.recordsPerSec)} rec/s)` + (r.consume ? `, consume ${r.consume.mbPerSec.toFixed(1)} MB/s` : '') + (r.complete ? '' : '  INCOMPLETE'));
    results.push(r);
  };
  let local: LocalBroker | null = null;
  try {
    if (!o.brokerUrls) local = await startLocalBroker(w, join(scratch, 'broker'));
    const urls = o.brokerUrls ?? [local!.service.url];
    const paths: ('client' | 'json')[] = w.path === 'both' ? ['client', 'json'] : [w.path];
    for (const path of paths) await runOne(sluiceSystem(w, path, urls, local));
    if (local) {
      local.service.checkAlive();
      await local.service.stop();
      local = null;
    }
    const wanted = o.peers.filter((p) => !peerInstalled(p));
    if (wanted.length > 0 && o.installPeers) {
      progress.log(`  installing ${wanted.join(', ')} (${installCommand(wanted)})`);
      await installPeers(wanted).catch((err: unknown) => result.notes.push(`installing peers failed: ${(err as Error).message.split('\n')[0]}`));
    }
    for (const peer of o.peers) {
      if (!peerInstalled(peer)) {
        result.peersMissing.push({ peer, reason: `not installed (${installCommand([peer])}, or run with --install-peers)` });
        continue;
      }
      // a peer that fails to start or run is reported, and does not cost the other systems their results
      let running: Awaited<ReturnType<typeof startPeer>> | null = null;
      try {
        running = await startPeer(peer, join(scratch, peer), w);
        await runOne(running.sut);
      } catch (err) {
        result.peersMissing.push({ peer, reason: `failed: ${(err as Error).message.split('\n')[0]}` });
        progress.log(`  ${peer} failed: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        await running?.stop();
      }
    }
    progress.startCase('baselines');
    const bytes = Math.max(...results.map((r) => r.produce.bytes));
    result.baselines = await measureBaselines(scratch, bytes, o.quick ? 64e6 : 1e9);
  } finally {
    progress.stop();
    if (local) await local.service.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  const baselines = result.baselines as Baselines;
  for (const r of results) {
    const ratios: Record<string, Ratio> = { produce: ratio(r.produce.mbPerSec, baselines, produceBaselineName(w.fsync)) };
    if (r.consume) ratios.consume = ratio(r.consume.mbPerSec, baselines, 'pageCacheRead');
    result.systems.push({ ...r, ratios });
  }
  const primary = result.systems.find((s) => s.system.startsWith('sluice'))!;
  result.produce = primary.produce;
  result.consume = primary.consume ? { records: primary.consume.records, bytes: primary.consume.bytes, recordsPerSec: primary.consume.recordsPerSec, mbPerSec: primary.consume.mbPerSec } : null;
  const a = primary.latencyMs.sendToAck;
  result.latencyMs = a ? { p50: a.p50, p95: a.p95, p99: a.p99, p999: a.p999, max: a.max, endToEnd: primary.latencyMs.endToEnd } : null;
  result.ratios = primary.ratios;
  if (result.systems.some((s) => !s.complete)) result.status = 'failed';
  result.charts = await writeCharts(o.outDir, result);
  await writeReport(o.outDir, result);
  return result;
}

async function writeReport(dir: string, result: HarnessResult): Promise<void> {
  await writeFile(join(dir, 'result.json'), `${JSON.stringify(result, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  await writeFile(join(dir, 'summary.md'), summaryMarkdown(result));
}

export const defaultBaseDir = () => process.env.SLUICE_BENCH_DATA_DIR ?? tmpdir();
