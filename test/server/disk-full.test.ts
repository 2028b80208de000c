/**
 * Issue 12, defect 3: a full disk during segment rolls. While the fault is there, produce answers 200 or
 * 507 KAFKA_STORAGE_ERROR (never anything partial); once space is free, produce works on every partition
 * without a restart, every acknowledged record is readable and nothing refused appears, and a restart
 * afterwards recovers the same records. Faults come through FaultyFileIO, time through a ManualClock (the
 * backoff before an offline partition is reopened).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_STORAGE_RETRY_BACKOFF_MS } from '../../src/log/partition-log.js';
import type { BrokerConfig } from '../../src/server/broker-config.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultyFileIO, type Fault } from '../helpers/faulty-file-io.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const PARTITIONS = 3;
/** About two records per 1,024-byte segment: most produces roll. */
const VALUE = 'v'.repeat(380);

function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  return broker!.app.inject({ method, url, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }) });
}

interface Run {
  dataDir: string;
  io: FaultyFileIO;
  clock: ManualClock;
  /** acknowledged values per partition, in order */
  acked: string[][];
}

async function setup(fsync: BrokerConfig['fsync']): Promise<Run> {
  const dataDir = tempDir();
  const io = new FaultyFileIO();
  const clock = new ManualClock();
  broker = await startTestBroker(dataDir, { io, clock, overrides: { fsync, segmentBytes: 1_024, indexIntervalBytes: 100 } });
  expect((await call('POST', '/topics', { name: 'd', partitions: PARTITIONS })).statusCode).toBe(201);
  return { dataDir, io, clock, acked: Array.from({ length: PARTITIONS }, () => []) };
}

let counter = 0;
/** Produces one record to `partition`; records it as acknowledged on 200. Returns status and error code. */
async function produce(run: Run, partition: number): Promise<{ status: number; code?: string }> {
  const value = `${VALUE}-${++counter}`;
  const r = await call('POST', '/topics/d/records', { records: [{ value, partition }] });
  if (r.statusCode === 200) run.acked[partition]!.push(value);
  if (r.statusCode === 500) throw new Error(`500: ${r.body}`);
  return { status: r.statusCode, code: r.statusCode === 200 ? undefined : r.json().error.code };
}

async function values(partition: number): Promise<string[]> {
  const out: string[] = [];
  for (let offset = 0; ; ) {
    const r = await call('GET', `/topics/d/partitions/${partition}/records?offset=${offset}&maxBytes=1000000`);
    expect(r.statusCode).toBe(200);
    const body = r.json();
    out.push(...body.records.map((rec: { value: string }) => rec.value));
    if (body.nextOffset >= body.highWatermark) return out;
    offset = body.nextOffset;
  }
}

async function settle(): Promise<void> {
  await Promise.all(broker!.services.logs.all().map((log) => log.settle()));
}

/**
 * Produces `rounds` records to every partition with `faults` in place; every answer must be 200 or 507.
 * Returns how many of each there were.
 */
async function produceWithFaults(run: Run, faults: Fault[], rounds: number): Promise<{ ok: number; full: number }> {
  for (const f of faults) run.io.inject(f);
  const seen = { ok: 0, full: 0 };
  for (let round = 0; round < rounds; round++) {
    for (let p = 0; p < PARTITIONS; p++) {
      const answer = await produce(run, p);
      if (answer.status === 200) seen.ok++;
      else expect(answer, `partition ${p} round ${round}`).toEqual({ status: 507, code: 'KAFKA_STORAGE_ERROR' });
      if (answer.status === 507) seen.full++;
      await settle();
    }
  }
  return seen;
}

/** Frees the disk, waits out the backoff, and checks produce, reads, and a restart. */
async function freeSpaceAndCheck(run: Run): Promise<void> {
  run.io.clear();
  run.clock.advance(DEFAULT_STORAGE_RETRY_BACKOFF_MS);
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < PARTITIONS; p++) expect(await produce(run, p)).toEqual({ status: 200, code: undefined });
  }
  await settle();
  expect((await call('GET', '/health')).json()).toMatchObject({ offlinePartitions: [] });
  for (let p = 0; p < PARTITIONS; p++) expect(await values(p)).toEqual(run.acked[p]);
  // A restart finds the same records (the clean close finished every rolled segment).
  await broker!.close();
  broker = await startTestBroker(run.dataDir, { overrides: { segmentBytes: 1_024 } });
  expect(broker.services.logs.report.cleanShutdown).toBe(true);
  for (let p = 0; p < PARTITIONS; p++) expect(await values(p)).toEqual(run.acked[p]);
  for (let p = 0; p < PARTITIONS; p++) expect((await produce(run, p)).status).toBe(200);
}

describe('disk full during segment rolls (fsync always)', () => {
  it('the index files of a rolled segment cannot be written: produce goes on, and the segments are finished later', async () => {
    const run = await setup('always');
    await produceWithFaults(run, [], 2);
    expect(await produceWithFaults(run, [{ op: 'writev', pathIncludes: 'index', errno: 'ENOSPC' }], 4)).toEqual({ ok: 4 * PARTITIONS, full: 0 });
    await freeSpaceAndCheck(run);
  });

  it('every write fails (a full disk): produce is refused with 507 until space is free', async () => {
    const run = await setup('always');
    await produceWithFaults(run, [], 2);
    expect(await produceWithFaults(run, [{ op: 'writev', errno: 'ENOSPC' }], 4)).toEqual({ ok: 0, full: 4 * PARTITIONS });
    await freeSpaceAndCheck(run);
  });

  it('writes and fdatasyncs fail, and so does the repair: the partitions go offline and come back', async () => {
    const run = await setup('always');
    await produceWithFaults(run, [], 2);
    const faults: Fault[] = [{ op: 'writev', pathIncludes: 'index', errno: 'ENOSPC' }, { op: 'datasync', errno: 'ENOSPC' }, { op: 'truncate', pathIncludes: '.log', errno: 'ENOSPC' }];
    expect(await produceWithFaults(run, faults, 3)).toEqual({ ok: 0, full: 3 * PARTITIONS });
    expect(broker!.services.logs.all().filter((l) => l.offlineReason !== null).length).toBeGreaterThan(0);
    // Still full: a produce after the backoff tries to reopen, fails, and is refused; so is the next one at once.
    run.clock.advance(DEFAULT_STORAGE_RETRY_BACKOFF_MS);
    expect(await produce(run, 0)).toEqual({ status: 507, code: 'KAFKA_STORAGE_ERROR' });
    expect(await produce(run, 0)).toEqual({ status: 507, code: 'KAFKA_STORAGE_ERROR' });
    await freeSpaceAndCheck(run);
  });

  it('the new segment cannot be created: that produce is refused, the log stays on its segment', async () => {
    const run = await setup('always');
    await produceWithFaults(run, [], 2);
    expect((await produceWithFaults(run, [{ op: 'open', pathIncludes: 'index', errno: 'ENOSPC' }], 3)).full).toBeGreaterThan(0);
    await freeSpaceAndCheck(run);
  });

  it('the producer snapshot of a roll cannot be written: produce goes on', async () => {
    const run = await setup('always');
    await produceWithFaults(run, [], 2);
    expect(await produceWithFaults(run, [{ op: 'writev', pathIncludes: 'snapshot', errno: 'ENOSPC' }], 4)).toEqual({ ok: 4 * PARTITIONS, full: 0 });
    await freeSpaceAndCheck(run);
  });
});

describe('disk full during segment rolls (fsync interval and never)', () => {
  for (const fsync of ['interval', 'never'] as const) {
    it(`${fsync}: a failed fdatasync of a rolled segment takes the partition offline; it comes back with every acknowledged record`, async () => {
      const run = await setup(fsync);
      await produceWithFaults(run, [], 2);
      run.io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'ENOSPC' });
      for (let round = 0; round < 4; round++) for (let p = 0; p < PARTITIONS; p++) await produce(run, p).then(settle);
      expect(broker!.services.logs.all().filter((l) => l.offlineReason !== null).map((l) => l.name).sort()).toEqual(['d-0', 'd-1', 'd-2']);
      expect(await produce(run, 1)).toEqual({ status: 507, code: 'KAFKA_STORAGE_ERROR' });
      await freeSpaceAndCheck(run);
    });
  }
});
