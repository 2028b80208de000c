/**
 * Runs the compiled harness (`sluice bench ...` through bin/sluice.js, built by `npm test`'s pretest) as a
 * child process and reads what it wrote.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { HarnessResult } from '../../bench/harness/result.js';
import { SLUICE_BIN } from '../helpers/broker-process.js';

export interface HarnessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runBench(args: string[], timeoutMs = 110_000): Promise<HarnessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: HarnessRun = { code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (run.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`sluice bench ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${run.stdout}\n${run.stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}

export function readResult(dir: string): HarnessResult {
  return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as HarnessResult;
}

/** The checks every completed system result must pass: everything consumed, numbers non-zero and consistent. */
export function expectConsistent(result: HarnessResult, dir: string): void {
  const w = result.workload;
  expect(result.status).toBe('completed');
  expect(result.systems.length).toBeGreaterThan(0);
  for (const s of result.systems) {
    const label = s.label;
    expect(s.errors.count, `${label}: ${s.errors.first}`).toBe(0);
    expect(s.complete, label).toBe(true);
    expect(s.produce.records, label).toBeGreaterThan(0);
    if (typeof w.recordSize === 'number') expect(s.produce.bytes, label).toBe(s.produce.records * w.recordSize);
    expect(s.produce.recordsPerSec, label).toBeGreaterThan(0);
    expect(s.produce.mbPerSec, label).toBeGreaterThan(0);
    expect(s.windows.produce.records.reduce((a, b) => a + b, 0), label).toBe(s.produce.records);
    expect(s.windows.produce.bytes.reduce((a, b) => a + b, 0), label).toBe(s.produce.bytes);
    const groups = w.consumerGroups;
    expect(s.consume, label).not.toBeNull();
    expect(Object.keys(s.consume!.perGroup)).toHaveLength(groups);
    for (const g of Object.values(s.consume!.perGroup)) {
      expect(g.records, label).toBe(s.produce.records);
      expect(g.bytes, label).toBe(s.produce.bytes);
    }
    expect(s.consume!.records, label).toBe(s.produce.records * groups);
    expect(s.consume!.mbPerSec, label).toBeGreaterThan(0);
    const ack = s.latencyMs.sendToAck!;
    expect(ack.count, label).toBeGreaterThan(0);
    expect(ack.p50).toBeGreaterThan(0);
    expect(ack.p50).toBeLessThanOrEqual(ack.p99);
    expect(ack.p99).toBeLessThanOrEqual(ack.max);
    if (!w.backlog) expect(s.latencyMs.endToEnd!.count, label).toBeGreaterThan(0);
    expect(s.samples.atSeconds.length, label).toBeGreaterThan(0);
    // the harness measures the servers it runs (not a broker given with --broker)
    if (!result.brokerUrls) expect(Math.max(...s.samples.servers.cpuPercent), label).toBeGreaterThan(0);
    expect(s.durability.length).toBeGreaterThan(0);
    const produceRatio = s.ratios.produce!;
    expect(produceRatio.ratio).toBeCloseTo(s.produce.mbPerSec / produceRatio.baselineMbPerSec, 6);
  }
  for (const b of Object.values(result.baselines)) expect(b.mbPerSec).toBeGreaterThan(0);
  expect(result.environment.cores).toBeGreaterThan(0);
  expect(result.produce!.records).toBe(result.systems[0]!.produce.records);
  expect(result.latencyMs!.p99).toBeGreaterThan(0);
  for (const chart of ['throughput.svg', 'latency.svg', 'cpu.svg']) {
    expect(existsSync(join(dir, chart))).toBe(true);
    expect(readFileSync(join(dir, chart), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<(polyline|circle)[\s\S]*<\/svg>\n$/);
  }
  expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain(`# ${w.name}`);
}
