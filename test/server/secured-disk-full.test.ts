/**
 * A full disk with authentication and quotas on: produce answers 507 KAFKA_STORAGE_ERROR (not a quota or auth
 * error, and no server path in any reply), nothing refused becomes visible, and once space is free produce
 * works again without a restart. Faults come through the FileIO seam (the tmpfs variant without auth is
 * disk-full-process.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_STORAGE_RETRY_BACKOFF_MS } from '../../src/log/partition-log.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { newToken } from '../../src/security/tokens.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

it('disk full then freed, with auth and quotas on', async () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const { token, tokenSha256 } = newToken();
  writeFileSync(
    join(dir, 'auth.json'),
    JSON.stringify({ principals: [{ name: 'app', tokenSha256, acls: [{ resource: 'topic', name: 'd', pattern: 'literal', operations: ['create', 'write', 'read'] }], quotas: { produceBytesPerSec: 1_000_000 } }] }),
  );
  const io = new FaultyFileIO();
  const clock = new ManualClock();
  broker = await startTestBroker(dataDir, { io, clock, overrides: { authFile: join(dir, 'auth.json'), quotaRequestsPerSec: 10_000, segmentBytes: 1_024 } });
  const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    broker!.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
  expect((await call('POST', '/topics', { name: 'd', partitions: 1 })).statusCode).toBe(201);
  const acked: string[] = [];
  const produce = async (value: string) => {
    const r = await call('POST', '/topics/d/records', { records: [{ value }] });
    if (r.statusCode === 200) acked.push(value);
    expect(r.body).not.toContain(dataDir);
    return r;
  };
  for (let i = 0; i < 3; i++) expect((await produce(`before-${i}`)).statusCode).toBe(200);

  io.inject({ op: 'writev', errno: 'ENOSPC' });
  io.inject({ op: 'open', errno: 'ENOSPC' });
  for (let i = 0; i < 3; i++) {
    const r = await produce(`full-${i}`);
    expect(r.statusCode).toBe(507);
    expect(r.json().error.code).toBe('KAFKA_STORAGE_ERROR');
  }
  const health = await call('GET', '/health');
  expect(health.body).not.toContain(dataDir);

  io.clear();
  clock.advance(DEFAULT_STORAGE_RETRY_BACKOFF_MS);
  for (let i = 0; i < 3; i++) expect((await produce(`after-${i}`)).statusCode).toBe(200);
  const read = await call('GET', '/topics/d/partitions/0/records?offset=0');
  expect(read.statusCode).toBe(200);
  expect(read.json().records.map((r: { value: string }) => r.value)).toEqual(acked);
  expect(acked).toHaveLength(6);
});
