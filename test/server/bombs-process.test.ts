/**
 * Decompression bombs against the real broker process, with `/health` called back to back the whole time:
 * LZ4 bombs are refused with 413 and big compressed batches that are allowed are validated, in both cases
 * without blocking the event loop (every /health answer within 100 ms).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { MiB, probeHealthDuring, tinyRecordsBatch, zeroRecordBatch } from '../helpers/bombs.js';

// One broker for the file (useTempDirs would remove its directory after the first test).
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
let broker: BrokerProcess;

beforeAll(async () => {
  broker = new BrokerProcess(dataDir, await freePort());
  await broker.start();
}, 30_000);
afterAll(async () => {
  await broker.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const HEALTH_BOUND_MS = 100;
/**
 * The bound is wall-clock, and on a starved machine (2 shared cores) a single scheduling stall can pass it
 * while the broker does nothing; a broker that blocks its event loop fails every attempt, so an attempt is
 * retried (on a fresh topic) before the test fails.
 */
const TIMING = { retry: 2 };
let topics = 0;

async function createTopic(prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const name = `${prefix}-${++topics}`;
  expect((await postJson(`${broker.url}/topics`, { name, config })).status).toBe(201);
  return name;
}

async function produceBatches(topic: string, body: Buffer): Promise<{ status: number; json: any; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${broker.url}/topics/${topic}/partitions/0/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.sluice.record-batch' },
    body,
  });
  return { status: response.status, json: await response.json(), ms: performance.now() - started };
}

async function highWatermark(topic: string): Promise<number> {
  return ((await (await fetch(`${broker.url}/topics/${topic}`)).json()) as any).partitions[0].highWatermark;
}

describe('decompression bombs against a broker process', () => {
  it('refuses a 16 MB request of 20 LZ4 bombs (823 KB inflating to 200 MiB each) with 413 while /health stays fast', TIMING, async () => {
    const topic = await createTopic('bombs');
    const bomb = zeroRecordBatch(200 * MiB);
    const body = Buffer.concat(Array.from({ length: 20 }, () => bomb));
    const { result, health } = await probeHealthDuring(broker.url, () => produceBatches(topic, body));
    expect(result.status).toBe(413);
    expect(result.json.error.code).toBe('RECORD_TOO_LARGE');
    expect(health.maxMs).toBeLessThan(HEALTH_BOUND_MS);
    expect(await highWatermark(topic)).toBe(0);
    console.log(`bombs: ${body.length} bytes refused in ${result.ms.toFixed(1)} ms; /health max ${health.maxMs.toFixed(1)} ms over ${health.latenciesMs.length} calls`);
  });

  it('validates a request of big compressed batches it accepts (132 MiB inflated) while /health stays fast', TIMING, async () => {
    const topic = await createTopic('big', { maxMessageBytes: 8 * MiB });
    const zeros = zeroRecordBatch(60 * MiB);
    const tiny = tinyRecordsBatch(1_000_000);
    const body = Buffer.concat([zeros, tiny, zeros]);
    const { result, health } = await probeHealthDuring(broker.url, () => produceBatches(topic, body));
    expect(result.status).toBe(200);
    expect(result.json.batches).toHaveLength(3);
    expect(health.maxMs).toBeLessThan(HEALTH_BOUND_MS);
    expect(await highWatermark(topic)).toBe(1_000_002);
    console.log(`big batches: ${body.length} bytes accepted in ${result.ms.toFixed(1)} ms; /health max ${health.maxMs.toFixed(1)} ms over ${health.latenciesMs.length} calls`);
  });
});
