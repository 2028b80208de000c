/**
 * Topic config changes through app.inject(): `PATCH` with `null` makes a key unlimited (and that survives a
 * restart), `DELETE /topics/:topic/config/:key` returns a key to the broker's default, and the errors of both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const HOUR = 3_600_000;
const DEFAULT_RETENTION_MS = 1_209_600_000;

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) {
  const response = await broker!.app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: response.statusCode, json: response.json() };
}

async function expectError(reply: Promise<{ status: number; json: any }>, status: number, code: string): Promise<Record<string, unknown>> {
  const { status: got, json } = await reply;
  expect({ status: got, code: json.error?.code }).toEqual({ status, code });
  expect(typeof json.error.message).toBe('string');
  return json.error;
}

/** A topic of 1 KiB segments holding `segments` full segments of records stamped three hours ago. */
async function oldTopic(name: string, segments: number, config: Record<string, unknown>) {
  expect((await call('POST', '/topics', { name, config: { segmentBytes: 1_024, ...config } })).status).toBe(201);
  for (let i = 0; i < segments; i++) {
    expect((await call('POST', `/topics/${name}/records`, { records: [{ value: 'x'.repeat(800), timestamp: Date.now() - 3 * HOUR }] })).status).toBe(200);
  }
}

const configOf = async (name: string) => (await call('GET', `/topics/${name}`)).json.config;

describe('topic config: null is unlimited, DELETE resets', () => {
  it('PATCH retentionMs null keeps a topic forever, also after a restart; DELETE returns it to the broker default', async () => {
    const dataDir = tempDir();
    // The broker's own default for topics is set by its config (here 2 hours), and a reset goes back to it.
    const overrides = { retentionMs: 2 * HOUR };
    broker = await startTestBroker(dataDir, { overrides });
    await oldTopic('forever', 3, { retentionMs: HOUR });

    const patched = await call('PATCH', '/topics/forever/config', { retentionMs: null, retentionBytes: null });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ retentionMs: null, retentionBytes: null, segmentBytes: 1_024 });
    expect((await call('POST', '/admin/retention/run')).json).toEqual({ deletedSegments: 0, freedBytes: 0 });

    await broker.close();
    broker = await startTestBroker(dataDir, { overrides });
    const stored = JSON.parse(readFileSync(join(dataDir, 'meta', 'topics', 'forever.json'), 'utf8'));
    expect(stored.config).toEqual({ segmentBytes: 1_024, retentionMs: null, retentionBytes: null });
    expect(await configOf('forever')).toMatchObject({ retentionMs: null });
    expect((await call('POST', '/admin/retention/run')).json.deletedSegments).toBe(0);

    const reset = await call('DELETE', '/topics/forever/config/retentionMs');
    expect(reset.status).toBe(200);
    expect(reset.json).toMatchObject({ retentionMs: 2 * HOUR, retentionBytes: null, segmentBytes: 1_024 });
    expect(await configOf('forever')).toEqual(reset.json);
    expect((await call('POST', '/admin/retention/run')).json.deletedSegments).toBe(3);
    expect(JSON.parse(readFileSync(join(dataDir, 'meta', 'topics', 'forever.json'), 'utf8')).config).toEqual({ segmentBytes: 1_024, retentionBytes: null });
  });

  it('DELETE of a key without an override, and of a key the topic set at creation', async () => {
    broker = await startTestBroker(tempDir());
    expect((await call('POST', '/topics', { name: 't', config: { segmentBytes: 4_096, compression: 'lz4' } })).status).toBe(201);
    const untouched = await call('DELETE', '/topics/t/config/retentionMs');
    expect(untouched.status).toBe(200);
    expect(untouched.json).toMatchObject({ retentionMs: DEFAULT_RETENTION_MS, segmentBytes: 4_096, compression: 'lz4' });
    const reset = await call('DELETE', '/topics/t/config/segmentBytes');
    expect(reset.json).toMatchObject({ segmentBytes: 134_217_728, compression: 'lz4' });
    expect(await configOf('t')).toEqual(reset.json);
  });

  it('null for a key that cannot be unlimited is 400 INVALID_CONFIG naming the key, and changes nothing', async () => {
    broker = await startTestBroker(tempDir());
    expect((await call('POST', '/topics', { name: 't', config: { retentionMs: HOUR } })).status).toBe(201);
    const before = await configOf('t');
    for (const key of ['segmentBytes', 'segmentMs', 'maxMessageBytes', 'minInsyncReplicas', 'compression', 'cleanupPolicy']) {
      const error = await expectError(call('PATCH', '/topics/t/config', { retentionMs: 5, [key]: null }), 400, 'INVALID_CONFIG');
      expect(error).toMatchObject({ key, message: expect.stringContaining(`${key} cannot be null`) });
    }
    await expectError(call('POST', '/topics', { name: 'u', config: { segmentBytes: null } }), 400, 'INVALID_CONFIG');
    expect(await configOf('t')).toEqual(before);
  });

  it('DELETE of an unknown key is 400 INVALID_CONFIG; of an unknown topic 404 UNKNOWN_TOPIC', async () => {
    broker = await startTestBroker(tempDir());
    expect((await call('POST', '/topics', { name: 't' })).status).toBe(201);
    for (const key of ['retentionms', 'nope', 'toString', '__proto__', '%20']) {
      const error = await expectError(call('DELETE', `/topics/t/config/${key}`), 400, 'INVALID_CONFIG');
      expect(error.message).toContain('unknown topic config key');
    }
    await expectError(call('DELETE', '/topics/nope/config/retentionMs'), 404, 'UNKNOWN_TOPIC');
    await expectError(call('DELETE', '/topics/bad%20name/config/retentionMs'), 400, 'INVALID_TOPIC_NAME');
    const openapi = (await broker.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(openapi.paths['/topics/{topic}/config/{key}'].delete.summary).toMatch(/default/);
  });
});
