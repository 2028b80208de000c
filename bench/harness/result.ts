/**
 * The report of one harness run: `result.json` (the contract's shape, extended), `summary.md` and the SVG
 * charts, all in the run's output directory.
 *
 * result.json: `workload` (as run), `environment` {cpu, cores, node, fsync, crc, ...}, `produce`, `consume`
 * and `latencyMs` of the primary sluice system (the client path when it ran, else the JSON route;
 * `latencyMs` p50..max is send-to-ack, `latencyMs.endToEnd` produce to consume), `baselines` {name:
 * {mbPerSec, ...}}, `ratios` (each sluice figure ÷ its baseline), and `systems`: every system that ran
 * (sluice paths and peers) with its durability setting, windows, CPU/RSS samples and latency percentiles;
 * `unavailable` says why a workload did not run (a feature missing in this build), `peersMissing` which
 * peers were asked for but are not installed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Environment } from '../lib/environment.js';
import { formatNumber } from '../lib/results.js';
import type { Baselines } from './baselines.js';
import { lineChart, type Series } from './svg.js';
import type { SystemResult } from './system-run.js';
import type { Percentiles } from './stats.js';
import type { Workload } from './workload.js';

export interface Ratio {
  value: number;
  baseline: string;
  baselineMbPerSec: number;
  ratio: number;
}

export interface HarnessResult {
  workload: Workload;
  environment: { cpu: string; cores: number; node: string; fsync: string; crc: string } & Partial<Environment>;
  status: 'completed' | 'unavailable' | 'failed';
  unavailable: string | null;
  quick: boolean;
  brokerUrls: string[] | null;
  produce: SystemResult['produce'] | null;
  consume: Omit<NonNullable<SystemResult['consume']>, 'perGroup'> | null;
  latencyMs: (Pick<Percentiles, 'p50' | 'p95' | 'p99' | 'p999' | 'max'> & { endToEnd: Percentiles | null }) | null;
  baselines: Baselines | Record<string, never>;
  ratios: Record<string, Ratio>;
  systems: (SystemResult & { ratios: Record<string, Ratio> })[];
  peersMissing: { peer: string; reason: string }[];
  notes: string[];
  charts: string[];
}

const n = formatNumber;
const ms = (v: number | undefined) => (v === undefined ? '' : v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));

export function summaryMarkdown(r: HarnessResult): string {
  const env = r.environment;
  const lines = [`# ${r.workload.name}${r.quick ? ' (quick)' : ''}`, '', r.workload.description, ''];
  lines.push(`- Machine: ${env.cpu}, ${env.cores} cores${env.memoryBytes ? `, ${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB` : ''}; Node ${env.node}; CRC-32C ${env.crc}; data dir on ${env.fileSystem ?? '?'}`);
  lines.push(`- Date: ${env.date ?? ''} (commit ${env.gitCommit ?? '?'}); load average at start ${env.loadAverage?.toFixed(2) ?? '?'}`);
  if (r.brokerUrls) lines.push(`- Broker: ${r.brokerUrls.join(', ')} (given with --broker)`);
  lines.push('');
  if (r.status === 'unavailable') {
    lines.push(`**Not available in this build:** ${r.unavailable}. Nothing was measured.`, '');
    return `${lines.join('\n')}\n`;
  }
  lines.push('| system | durability | produce rec/s | produce MB/s | vs baseline | consume MB/s | vs baseline | send→ack p50 / p99 / max ms | end-to-end p50 / p99 / max ms | complete |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const s of r.systems) {
    const a = s.latencyMs.sendToAck;
    const e = s.latencyMs.endToEnd;
    const ratio = (k: string) => (s.ratios[k] ? `${s.ratios[k].ratio.toFixed(2)}× ${s.ratios[k].baseline}` : '');
    lines.push(
      `| ${s.label} | ${s.durability} | ${n(s.produce.recordsPerSec)} | ${n(s.produce.mbPerSec)} | ${ratio('produce')} | ${s.consume ? n(s.consume.mbPerSec) : ''} | ${ratio('consume')} | ${a ? `${ms(a.p50)} / ${ms(a.p99)} / ${ms(a.max)}` : ''} | ${e ? `${ms(e.p50)} / ${ms(e.p99)} / ${ms(e.max)}` : ''} | ${s.complete ? 'yes' : '**NO**'} |`,
    );
  }
  lines.push('', '| baseline (same run, same disk) | MB/s |', '|---|--:|');
  for (const [name, b] of Object.entries(r.baselines)) lines.push(`| ${name}: ${b.description} | ${n(b.mbPerSec)} |`);
  lines.push('', '| system | server CPU % (mean / max) | server RSS MB (max) | client CPU % (mean) | client processes | event-loop p99 ms (max) |', '|---|--:|--:|--:|--:|--:|');
  for (const s of r.systems) {
    const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : 0);
    const max = (a: number[]) => Math.max(0, ...a.filter(Number.isFinite));
    const loop = s.samples.eventLoopP99Ms.filter(Number.isFinite);
    lines.push(
      `| ${s.label} | ${n(mean(s.samples.servers.cpuPercent))} / ${n(max(s.samples.servers.cpuPercent))} | ${n(max(s.samples.servers.rssMb))} | ${n(mean(s.samples.clients.cpuPercent))} | ${s.clientProcesses.producers} + ${s.clientProcesses.consumers} | ${loop.length ? ms(max(loop)) : 'n/a'} |`,
    );
  }
  lines.push('');
  for (const p of r.peersMissing) lines.push(`- Peer ${p.peer} not measured: ${p.reason}`);
  for (const s of r.systems) {
    if (s.clientBound) lines.push(`- ${s.label}: the client may have been the bottleneck (${s.clientBound})`);
    if (s.errors.count > 0) lines.push(`- ${s.label}: ${s.errors.count} errors, first: ${s.errors.first}`);
    for (const note of s.notes) lines.push(`- ${s.label}: ${note}`);
  }
  for (const note of r.notes) lines.push(`- ${note}`);
  lines.push('', ...r.charts.map((c) => `![${c}](${c})`), '');
  return `${lines.join('\n')}\n`;
}

/** Draws throughput.svg, latency.svg and cpu.svg; returns their file names. */
export async function writeCharts(dir: string, r: HarnessResult): Promise<string[]> {
  const systems = r.systems;
  const throughput: Series[] = systems.flatMap((s, i) => [
    { name: `${s.label} produce`, colour: i, points: s.windows.produce.bytes.map((b, t) => [t + 0.5, b / 1e6] as [number, number]) },
    ...(s.consume ? [{ name: `${s.label} consume`, colour: i, dashed: true, points: s.windows.consume.bytes.map((b, t) => [t + 0.5, b / 1e6] as [number, number]) }] : []),
  ]);
  const labels = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max'];
  const pts = (p: Percentiles | null): [number, number][] => (p ? [p.p50, p.p90, p.p95, p.p99, p.p999, p.max].map((v, i) => [i, v] as [number, number]) : []);
  const latency: Series[] = systems.flatMap((s, i) => [
    { name: `${s.label} send→ack`, colour: i, points: pts(s.latencyMs.sendToAck) },
    ...(s.latencyMs.endToEnd ? [{ name: `${s.label} end-to-end`, colour: i, dashed: true, points: pts(s.latencyMs.endToEnd) }] : []),
  ]);
  const cpu: Series[] = systems.flatMap((s, i) => [
    { name: `${s.label} server`, colour: i, points: s.samples.atSeconds.map((t, k) => [t, s.samples.servers.cpuPercent[k]!] as [number, number]) },
    { name: `${s.label} clients`, colour: i, dashed: true, points: s.samples.atSeconds.map((t, k) => [t, s.samples.clients.cpuPercent[k]!] as [number, number]) },
  ]);
  const charts: [string, string][] = [
    ['throughput.svg', lineChart({ title: `${r.workload.name}: throughput per 1-second window`, xLabel: 'seconds since start', yLabel: 'MB/s', series: throughput })],
    ['latency.svg', lineChart({ title: `${r.workload.name}: latency percentiles`, xLabel: 'percentile', yLabel: 'ms (log scale)', series: latency, logY: true, xCategories: labels })],
    ['cpu.svg', lineChart({ title: `${r.workload.name}: CPU (100 % = one core)`, xLabel: 'seconds since start', yLabel: 'CPU %', series: cpu })],
  ];
  for (const [name, svg] of charts) await writeFile(join(dir, name), svg);
  return charts.map(([name]) => name);
}
