/**
 * `sluice bench compare A B`: two result.json files side by side, every figure with its change from A to B
 * in percent, system by system (matched by label), then the baselines, so a change in the disk is told apart
 * from a change in sluice.
 */
import { formatNumber } from '../lib/results.js';
import type { HarnessResult } from './result.js';

interface Row {
  name: string;
  a: number | null | undefined;
  b: number | null | undefined;
  /** higher is better (throughput) or lower (latency) */
  better: 'higher' | 'lower';
}

function change(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || a === 0) return 'n/a';
  const pct = ((b - a) / a) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)} %`;
}

const cell = (v: number | null | undefined) => (v === null || v === undefined ? '-' : formatNumber(v));

function rowsOf(a: HarnessResult, b: HarnessResult): Row[] {
  const rows: Row[] = [];
  const labels = [...new Set([...a.systems.map((s) => s.label), ...b.systems.map((s) => s.label)])];
  for (const label of labels) {
    const x = a.systems.find((s) => s.label === label);
    const y = b.systems.find((s) => s.label === label);
    rows.push(
      { name: `${label}: produce MB/s`, a: x?.produce.mbPerSec, b: y?.produce.mbPerSec, better: 'higher' },
      { name: `${label}: produce records/s`, a: x?.produce.recordsPerSec, b: y?.produce.recordsPerSec, better: 'higher' },
      { name: `${label}: consume MB/s`, a: x?.consume?.mbPerSec, b: y?.consume?.mbPerSec, better: 'higher' },
      { name: `${label}: send→ack p50 ms`, a: x?.latencyMs.sendToAck?.p50, b: y?.latencyMs.sendToAck?.p50, better: 'lower' },
      { name: `${label}: send→ack p99 ms`, a: x?.latencyMs.sendToAck?.p99, b: y?.latencyMs.sendToAck?.p99, better: 'lower' },
      { name: `${label}: send→ack max ms`, a: x?.latencyMs.sendToAck?.max, b: y?.latencyMs.sendToAck?.max, better: 'lower' },
      { name: `${label}: end-to-end p99 ms`, a: x?.latencyMs.endToEnd?.p99, b: y?.latencyMs.endToEnd?.p99, better: 'lower' },
      { name: `${label}: produce ÷ baseline`, a: x?.ratios.produce?.ratio, b: y?.ratios.produce?.ratio, better: 'higher' },
    );
  }
  for (const name of ['sequentialWrite', 'writeFdatasync', 'pageCacheRead'] as const) {
    const ba = (a.baselines as Record<string, { mbPerSec: number }>)[name];
    const bb = (b.baselines as Record<string, { mbPerSec: number }>)[name];
    rows.push({ name: `baseline ${name} MB/s`, a: ba?.mbPerSec, b: bb?.mbPerSec, better: 'higher' });
  }
  return rows.filter((r) => r.a !== undefined || r.b !== undefined);
}

export function compareResults(a: HarnessResult, b: HarnessResult, nameA: string, nameB: string): string[] {
  const lines = [`A: ${nameA} (${a.workload.name}, ${a.environment.date ?? '?'}, commit ${a.environment.gitCommit ?? '?'})`, `B: ${nameB} (${b.workload.name}, ${b.environment.date ?? '?'}, commit ${b.environment.gitCommit ?? '?'})`];
  if (a.workload.name !== b.workload.name) lines.push(`note: different workloads (${a.workload.name} vs ${b.workload.name})`);
  const rows = rowsOf(a, b);
  const width = Math.max(...rows.map((r) => r.name.length), 10);
  lines.push('', `${'figure'.padEnd(width)}  ${'A'.padStart(12)}  ${'B'.padStart(12)}  ${'change'.padStart(10)}`);
  for (const r of rows) {
    const c = change(r.a, r.b);
    const worse = c !== 'n/a' && ((r.better === 'higher' && r.b! < r.a! * 0.95) || (r.better === 'lower' && r.b! > r.a! * 1.05));
    lines.push(`${r.name.padEnd(width)}  ${cell(r.a).padStart(12)}  ${cell(r.b).padStart(12)}  ${c.padStart(10)}${worse ? '  worse' : ''}`);
  }
  return lines;
}
