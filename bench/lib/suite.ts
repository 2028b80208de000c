/**
 * What bench/run.ts needs from a suite. A suite (log today; http, replication later) plans its cases so the
 * progress bar knows the total, runs them in a scratch directory it may fill and must empty again, and returns
 * its results; run.ts adds the environment, writes `bench/results/<name>.json` and regenerates the docs.
 */
import type { Progress } from './progress.js';
import { formatRatio, formatValue, passLabel, type BenchResult } from './results.js';

export interface SuiteContext {
  /** scratch directory of this suite; removed by run.ts afterwards */
  dataDir: string;
  quick: boolean;
  progress: Progress;
  /** prints a finished result next to its baseline */
  report(result: BenchResult): void;
}

export interface SuiteOutput {
  settings: Record<string, string | number | boolean>;
  notes: string[];
  results: BenchResult[];
}

export interface Suite {
  name: string;
  title: string;
  /** fsync policies the suite measures (shown in the environment block) */
  fsyncPolicy: string;
  /** number of `progress.startCase` calls the suite will make */
  plannedCases(quick: boolean): number;
  /** bytes of scratch space the suite needs at most */
  diskBytes(quick: boolean): number;
  run(ctx: SuiteContext): Promise<SuiteOutput>;
}

/** One result as a console line: case, value, baseline, ratio, target. */
export function resultLine(r: BenchResult): string {
  const target = r.target ? `  target ${r.target.description}: ${passLabel(r.pass)}` : '';
  return (
    `  ${r.name.padEnd(52)} ${formatValue(r.value, r.unit).padStart(14)}` +
    `   vs ${r.baseline.name} ${formatValue(r.baseline.value, r.unit)}   ${formatRatio(r.ratio)}${target}`
  );
}
