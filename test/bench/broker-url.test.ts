/**
 * `sluice bench --broker URL` against a broker that is already running: the harness drives it, creates its
 * `bench-` topics there, leaves the broker and the other topics alone and deletes its own topics at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { expectConsistent, readResult, runBench } from './run-harness.js';

let broker: BrokerProcess;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-bench-url-'));
  broker = new BrokerProcess(join(dir, 'data'), await freePort());
  await broker.start();
});

afterAll(async () => {
  await broker.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice bench --broker URL', () => {
  it('runs against the running broker and deletes its bench- topics afterwards', async () => {
    expect((await postJson(`${broker.url}/topics`, { name: 'orders', partitions: 1 })).status).toBe(201);
    const out = join(dir, 'out');
    const run = await runBench(['--workload', 'fan-out', '--broker', `${broker.url}/`, '--duration', '2', '--warmup', '0', '--out', out, '--data-dir', dir]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const result = readResult(out);
    expectConsistent(result, out);
    expect(result.brokerUrls).toEqual([broker.url]);
    expect(result.systems[0]!.durability).toContain(broker.url);
    expect(result.systems[0]!.samples.eventLoopP99Ms.some(Number.isFinite)).toBe(true);
    const topics = ((await (await fetch(`${broker.url}/topics`)).json()) as { topics: { name: string }[] }).topics.map((t) => t.name);
    expect(topics).toContain('orders');
    expect(topics.filter((t) => t.startsWith('bench-'))).toEqual([]);
    expect(broker.child!.exitCode).toBeNull();
  });
});
