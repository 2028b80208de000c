/**
 * The shape of benchmark results, shared by every suite, bench/run.ts and bench/report.ts.
 *
 * Each suite run becomes one file `bench/results/<suite>.json` (a SuiteReport): the environment it ran in, the
 * settings and method notes, and one BenchResult per case. Every result carries the baseline measured in the
 * same run and `ratio = value / baseline.value`, always in that direction, whatever the unit: for MB/s a
 * ratio of 0.8 means 80 % of the baseline's throughput; for a latency a ratio of 1.3 means 30 % slower.
 * `better` says which direction is good. A target, when there is one, applies to either the ratio or the
 * value, and `pass` is null for cases without a target.
 */
import { rename, writeFile } from 'node:fs/promises';
import type { Environment } from './environment.js';

export type Unit = 'MB/s' | 'records/s' | 'ns/op' | 'µs/op' | 'ms' | '×';

export interface Target {
  /** what the threshold applies to */
  metric: 'ratio' | 'value';
  op: '>=' | '<=' | '<';
  threshold: number;
  /** short human form, e.g. "≥ 0.6× baseline" or "< 100 ms" */
  description: string;
}

export interface BenchResult {
  /** stable key, e.g. `append.never.batch-100` */
  id: string;
  /** section of the table, e.g. "Append" */
  group: string;
  /** human description of the case */
  name: string;
  params: Record<string, string | number>;
  value: number;
  unit: Unit;
  better: 'higher' | 'lower';
  baseline: { name: string; value: number };
  /** value / baseline.value (NaN when the baseline is 0, written to JSON as null) */
  ratio: number;
  target: Target | null;
  pass: boolean | null;
  /** per-round values of the subject and the baseline (the reported value is their median) */
  rounds?: { value: number[]; baseline: number[] };
  /** anything else worth keeping (start-up report fields, tail latencies, bytes moved) */
  details?: Record<string, unknown>;
}

export interface SuiteReport {
  suite: string;
  title: string;
  generatedAt: string;
  /** true for a `--quick` smoke run: smaller sizes, fewer rounds, numbers only indicative */
  quick: boolean;
  environment: Environment;
  /** fixed parameters of the suite (record size, sizes, durations) */
  settings: Record<string, string | number | boolean>;
  /** how the suite measures, one sentence each; rendered under its table */
  notes: string[];
  results: BenchResult[];
}

export const ratioTarget = (op: Target['op'], threshold: number): Target => ({
  metric: 'ratio',
  op,
  threshold,
  description: `${op === '>=' ? '≥' : op === '<=' ? '≤' : '<'} ${threshold}× baseline`,
});

export const valueTarget = (op: Target['op'], threshold: number, unit: Unit): Target => ({
  metric: 'value',
  op,
  threshold,
  description: `${op === '>=' ? '≥' : op === '<=' ? '≤' : '<'} ${unit === '×' ? `${threshold}×` : `${formatNumber(threshold)} ${unit}`}`,
});

export function meetsTarget(target: Target, value: number, ratio: number): boolean {
  const x = target.metric === 'ratio' ? ratio : value;
  if (target.op === '>=') return x >= target.threshold;
  if (target.op === '<=') return x <= target.threshold;
  return x < target.threshold;
}

export interface ResultInput extends Omit<BenchResult, 'ratio' | 'pass' | 'target'> {
  target?: Target | null;
}

/** Completes a result with its ratio and pass/miss. */
export function makeResult(input: ResultInput): BenchResult {
  const ratio = input.baseline.value === 0 ? Number.NaN : input.value / input.baseline.value;
  const target = input.target ?? null;
  return { ...input, ratio, target, pass: target ? meetsTarget(target, input.value, ratio) : null };
}

/** Three significant digits for small numbers, whole numbers with separators from 1,000 on. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function formatValue(value: number, unit: Unit): string {
  return unit === '×' ? `${formatNumber(value)}×` : `${formatNumber(value)} ${unit}`;
}

/** A ratio for tables; a baseline of 0 has none (NaN in memory, null once written to JSON): shown as "n/a". */
export function formatRatio(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return 'n/a';
  if (ratio >= 10) return `${ratio.toFixed(1)}×`;
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

export function passLabel(pass: boolean | null): string {
  return pass === null ? '' : pass ? 'pass' : 'MISS';
}

/** Writes the report next to its final name and renames it, so a crash never leaves half a JSON file. */
export async function writeSuiteReport(path: string, report: SuiteReport): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(report, null, 2)}\n`);
  await rename(tmp, path);
}
