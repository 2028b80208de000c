/**
 * The harness end to end: a 2-second run of every shipped single-node workload against a broker it starts
 * from the build, checking that every produced record was consumed by every group and that the numbers are
 * non-zero and consistent (records × size = bytes, windows add up, ratio = value ÷ baseline); the workloads
 * that need features this build lacks report "not available in this build" and exit 1; `compare` prints two
 * results side by side.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingFeature } from '../../bench/harness/sluice-system.js';
import { loadWorkload, shippedWorkloads } from '../../bench/harness/workload.js';
import { expectConsistent, readResult, runBench } from './run-harness.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-harness-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const all = shippedWorkloads();
const available: string[] = [];
const unavailable: string[] = [];
for (const name of all) ((await missingFeature(loadWorkload(name).workload, null)) === null ? available : unavailable).push(name);

describe('sluice bench --workload (a broker it starts)', () => {
  it.each(available)('%s: 2 s, every record consumed, consistent numbers', async (name) => {
    const out = join(root, name);
    const run = await runBench(['--workload', name, '--duration', '2', '--warmup', '0', '--quick', '--out', out, '--data-dir', root]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const result = readResult(out);
    expectConsistent(result, out);
    expect(result.workload.durationSeconds ?? null).toBe(result.workload.backlog ? null : 2);
    expect(run.stdout).toContain('| system |');
    if (result.workload.path === 'both') expect(result.systems.map((s) => s.system)).toEqual(['sluice-client', 'sluice-json']);
    if (result.workload.backlog) expect(result.systems[0]!.notes.join(' ')).toMatch(/page cache dropped for [1-9]\d* segment files/);
  });

  it.each(unavailable)('%s: reported as not available in this build, exit 1', async (name) => {
    const out = join(root, name);
    const run = await runBench(['--workload', name, '--duration', '1', '--out', out, '--data-dir', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('not available in this build');
    const result = readResult(out);
    expect(result.status).toBe('unavailable');
    expect(result.produce).toBeNull();
  });

  it('compare prints two results side by side with the change in percent', async () => {
    const [a, b] = available.filter((n) => !loadWorkload(n).workload.backlog);
    const run = await runBench(['compare', join(root, a!), join(root, b!, 'result.json')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/sluice \(client, binary\): produce MB\/s\s+[\d,.]+\s+[\d,.]+\s+[+-][\d.]+ %/);
    expect(run.stdout).toContain('baseline writeFdatasync MB/s');
    const missing = await runBench(['compare', join(root, 'nothing-here')]);
    expect(missing.code).toBe(2);
  });
});
