/** The broker's retention job: on demand, on its interval (manual clock), per-topic config, metrics, 416. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const HOUR = 3_600_000;

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) {
  const response = await broker!.app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
  const json = response.headers['content-type']?.toString().startsWith('application/json') ? response.json() : null;
  return { status: response.statusCode, json, text: response.body };
}

/** A topic with 1 KiB segments and `segments` full segments of records stamped `timestamp`. */
async function topicWithSegments(name: string, segments: number, timestamp: number, config: Record<string, unknown> = {}) {
  expect((await call('POST', '/topics', { name, config: { segmentBytes: 1_024, ...config } })).status).toBe(201);
  for (let i = 0; i < segments; i++) {
    const reply = await call('POST', `/topics/${name}/records`, { records: [{ value: 'x'.repeat(800), timestamp }] });
    expect(reply.status).toBe(200);
  }
}

const partitionOf = async (name: string) => (await call('GET', `/topics/${name}`)).json.partitions[0];

describe('retention job', () => {
  it('POST /admin/retention/run deletes expired segments; a fetch below the new log start is 416', async () => {
    const clock = new ManualClock(Date.now());
    broker = await startTestBroker(tempDir(), { clock });
    await topicWithSegments('old', 5, clock.now() - 3 * HOUR, { retentionMs: HOUR });
    await topicWithSegments('young', 5, clock.now(), { retentionMs: HOUR });
    const run = await call('POST', '/admin/retention/run');
    expect(run.status).toBe(200);
    expect(run.json.deletedSegments).toBe(5); // the idle topic's active segment too (rolled first)
    expect(run.json.freedBytes).toBeGreaterThan(5 * 800);
    expect(await partitionOf('old')).toMatchObject({ logStartOffset: 5, highWatermark: 5, logEndOffset: 5, segments: 1 });
    expect(await partitionOf('young')).toMatchObject({ logStartOffset: 0, segments: 5 });
    const fetch = await call('GET', '/topics/old/partitions/0/records?offset=0');
    expect(fetch.status).toBe(416);
    expect(fetch.json.error).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', logStartOffset: 5, highWatermark: 5 });
    const metrics = (await call('GET', '/metrics')).text;
    expect(metrics).toMatch(/sluice_retention_deleted_segments_total\{topic="old"\} 5/);
    expect(metrics).toMatch(/sluice_retention_deleted_bytes_total\{topic="old"\} \d+/);
    expect(metrics).toMatch(/sluice_log_start_offset\{topic="old",partition="0"\} 5/);
    expect(metrics).toMatch(/sluice_retention_last_pass_timestamp_seconds \d+/);
  });

  it('runs every retentionCheckIntervalMs on the clock; a PATCH of retentionMs applies at the next pass', async () => {
    const clock = new ManualClock(Date.now());
    broker = await startTestBroker(tempDir(), { clock, overrides: { retentionCheckIntervalMs: 60_000 } });
    await topicWithSegments('t', 4, clock.now() - 2 * HOUR, { retentionMs: null });
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 50));
    expect((await partitionOf('t')).logStartOffset).toBe(0); // retentionMs null: kept forever
    expect((await call('PATCH', '/topics/t/config', { retentionMs: HOUR })).status).toBe(200);
    expect((await partitionOf('t')).logStartOffset).toBe(0); // not before the next pass
    clock.advance(60_000);
    await waitFor(async () => (await partitionOf('t')).logStartOffset === 4, 5_000, 'the next pass');
  });

  it('size retention per topic, and the internal offsets topic is left alone', async () => {
    broker = await startTestBroker(tempDir());
    await topicWithSegments('sized', 6, Date.now(), { retentionBytes: 2_500 });
    await call('POST', '/groups/g/offsets', { offsets: [{ topic: 'sized', partition: 0, offset: 1 }] });
    const before = (await call('GET', '/topics/__consumer_offsets')).json.partitions.map((p: { logStartOffset: number }) => p.logStartOffset);
    const run = await call('POST', '/admin/retention/run');
    expect(run.json.deletedSegments).toBeGreaterThan(0);
    const after = await partitionOf('sized');
    expect(after.sizeBytes).toBeGreaterThanOrEqual(2_500);
    expect(after.segments).toBeLessThan(6);
    expect((await call('GET', '/topics/__consumer_offsets')).json.partitions.map((p: { logStartOffset: number }) => p.logStartOffset)).toEqual(before);
  });
});
