/**
 * The peers' drivers against their real servers, started by the harness from their Debian packages: Redis
 * Streams, NATS JetStream and RabbitMQ streams. One harness run with every installed peer; each peer's result
 * must have every record consumed and consistent numbers, with its durability setting. A peer whose package
 * is not installed is skipped here with the reason printed (the only skip in the harness tests), and the run
 * reports it as missing rather than measuring anything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerInstalled, PEERS } from '../../bench/harness/peer-servers.js';
import type { HarnessResult } from '../../bench/harness/result.js';
import { expectConsistent, readResult, runBench } from './run-harness.js';

const installed = PEERS.filter(peerInstalled);
const missing = PEERS.filter((p) => !peerInstalled(p));
for (const p of missing) console.log(`skipping the ${p} driver test: its Debian package is not installed (apt-get install ${p === 'redis' ? 'redis-server' : `${p}-server`})`);

let dir: string;
let result: HarnessResult | null = null;

const LABELS = { redis: 'Redis Streams', nats: 'NATS JetStream', rabbitmq: 'RabbitMQ streams' } as const;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-bench-peers-'));
  const workload = join(dir, 'peers.json');
  writeFileSync(
    workload,
    JSON.stringify({
      name: 'peers-smoke',
      description: 'two producers, two groups of two consumers, keyed records',
      topics: 1,
      partitionsPerTopic: 2,
      recordSize: 256,
      keys: { distribution: 'uniform', count: 100 },
      producers: 2,
      consumerGroups: 2,
      consumersPerGroup: 2,
      rate: 2000,
      durationSeconds: 2,
    }),
  );
  const out = join(dir, 'out');
  // every peer asked for, so a missing one shows up in the report as missing
  const run = await runBench(['--workload', workload, '--peers', PEERS.join(','), '--out', out, '--data-dir', dir], 170_000);
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  result = readResult(out);
  expectConsistent(result, out);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('peer drivers', () => {
  it.each(installed)('%s: every record consumed by both groups, durability printed', (peer) => {
    const s = result!.systems.find((x) => x.system === peer);
    expect(s, `${peer} did not run`).toBeDefined();
    expect(s!.label).toBe(LABELS[peer]);
    expect(s!.durability).toMatch(/fsync/);
    expect(Object.values(s!.consume!.perGroup).map((g) => g.records)).toEqual([s!.produce.records, s!.produce.records]);
  });

  it.skipIf(missing.length === 0)('reports the missing peers as missing, never measured', () => {
    expect(result!.peersMissing.map((p) => p.peer)).toEqual(missing);
    for (const p of missing) expect(result!.systems.some((s) => s.system === p)).toBe(false);
  });
});
