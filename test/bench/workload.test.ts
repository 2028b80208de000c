/**
 * Workload files: the schema accepts every shipped workload and rejects bad ones with a message naming the
 * field; the command line exits 2 for a bad file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkload, parseWorkload, shippedWorkloads, WorkloadError } from '../../bench/harness/workload.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { runBench } from './run-harness.js';

const good = {
  name: 'test-workload',
  topics: 1,
  partitionsPerTopic: 2,
  recordSize: 1024,
  producers: 1,
  rate: 'max',
  durationSeconds: 2,
};

function fieldOf(value: unknown): string | null {
  try {
    parseWorkload(value, 'w.json');
  } catch (err) {
    expect(err).toBeInstanceOf(WorkloadError);
    expect((err as Error).message).toMatch(/^w\.json: /);
    return (err as WorkloadError).field;
  }
  return null;
}

describe('workload schema', () => {
  const tempDir = useTempDirs();

  it('ships the workloads the harness promises, each valid', () => {
    const names = shippedWorkloads();
    for (const n of ['max-throughput-1k', 'max-throughput-100b', 'fixed-rate-latency', 'fan-out', 'partitions-1000', 'catch-up-read', 'retention-during-produce', 'rf3-cluster', 'share-group-workers', 'kafka-listener-kafkajs']) {
      expect(names).toContain(n);
    }
    for (const n of names) expect(loadWorkload(n).workload.name).toBe(n);
  });

  it('fills defaults', () => {
    const w = parseWorkload(good, 'w.json');
    expect(w).toMatchObject({ acks: 'all', fsync: 'always', path: 'client', consumerGroups: 1, consumersPerGroup: 1, warmupSeconds: 0, keys: { distribution: 'none' } });
  });

  it.each([
    [{ ...good, name: undefined }, 'name'],
    [{ ...good, partitionsPerTopic: 0 }, 'partitionsPerTopic'],
    [{ ...good, recordSize: 10 }, 'recordSize'],
    [{ ...good, recordSize: { distribution: 'uniform', min: 100, max: 10 } }, 'recordSize.max'],
    [{ ...good, recordSize: { distribution: 'uniform', min: 500, max: 100 } }, 'recordSize.min'],
    [{ ...good, recordSize: { distribution: 'lognormal', min: 100, max: 200 } }, 'recordSize.distribution'],
    [{ ...good, keys: { distribution: 'zipf' } }, 'keys.count'],
    [{ ...good, keys: { distribution: 'uniform', count: 10, exponent: 2 } }, 'keys.exponent'],
    [{ ...good, rate: 'fast' }, 'rate'],
    [{ ...good, rate: -1 }, 'rate'],
    [{ ...good, acks: 'some' }, 'acks'],
    [{ ...good, fsync: 'sometimes' }, 'fsync'],
    [{ ...good, path: 'grpc' }, 'path'],
    [{ ...good, partitons: 3 }, 'partitons'],
    [{ ...good, durationSeconds: undefined }, 'durationSeconds'],
    [{ ...good, records: 100 }, 'records'],
    [{ ...good, replicationFactor: 3 }, 'replicationFactor'],
    [{ ...good, backlog: { bytes: 10 } }, 'backlog.bytes'],
    [{ ...good, clientProcesses: { producer: 2 } }, 'clientProcesses.producer'],
    [{ ...good, topicConfig: { retentionBytes: 1.5 } }, 'topicConfig.retentionBytes'],
  ])('names the field of a bad workload (%#: %s)', (value, field) => {
    expect(fieldOf(JSON.parse(JSON.stringify(value)))).toBe(field);
  });

  it('exits 2 with the field named for a bad file, and for a missing one', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...good, recordSize: { distribution: 'uniform', min: 64, max: 16 } }));
    const bad = await runBench(['--workload', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.json: recordSize.max');
    writeFileSync(file, '{"name": ');
    const broken = await runBench(['--workload', file]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('not valid JSON');
    const missing = await runBench(['--workload', 'no-such-workload']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('max-throughput-1k');
    const usage = await runBench(['--workload', 'fan-out', '--peers', 'kafka']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown peer kafka');
  });
});
