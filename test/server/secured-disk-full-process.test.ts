/**
 * A real full disk (a 4 MiB tmpfs) under the real `sluice serve` with authentication and quotas on: while
 * full, authenticated produce answers 200 or 507 KAFKA_STORAGE_ERROR (never a quota or auth error, never a
 * server path); once space is freed it works again without a restart and every acknowledged record is
 * there. Falls back to nothing: without root it fails loudly (the FileIO-seam variant is
 * secured-disk-full.test.ts).
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { newToken } from '../../src/security/tokens.js';
import { BrokerProcess, freePort } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { fillUp, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('disk full then freed, with auth and quotas on, on a real tmpfs', async () => {
  const mountPoint = mountTmpfs('4m');
  expect(mountPoint, 'this test mounts a small tmpfs and needs root on Linux').not.toBe(null);
  cleanups.push(() => unmountTmpfs(mountPoint!));
  const dir = tempDir();
  const { token, tokenSha256 } = newToken();
  const authFile = join(dir, 'auth.json');
  writeFileSync(authFile, JSON.stringify({ principals: [{ name: 'app', tokenSha256, acls: [{ resource: 'topic', name: 'full', pattern: 'literal', operations: ['create', 'write', 'read'] }], quotas: { produceBytesPerSec: 50_000_000 } }] }));
  const broker = new BrokerProcess(join(mountPoint!, 'data'), await freePort(), ['--auth-file', authFile, '--quota-requests-per-sec', '100000', '--offsets-topic-partitions', '1', '--storage-retry-backoff-ms', '100']);
  cleanups.push(() => broker.stop('SIGKILL'));
  await broker.start();
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${broker.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    expect(text).not.toContain(mountPoint!);
    return { status: r.status, json: JSON.parse(text) };
  };
  expect((await post('/topics', { name: 'full', partitions: 1, config: { segmentBytes: 16_384 } })).status).toBe(201);
  const acked: string[] = [];
  let n = 0;
  const produce = async () => {
    const v = `${n++}:${'v'.repeat(1_000)}`;
    const r = await post('/topics/full/records', { records: [{ value: v }] });
    if (r.status === 200) acked.push(v);
    return r.status === 200 ? '200' : `${r.status} ${r.json.error.code}`;
  };
  for (let i = 0; i < 5; i++) expect(await produce()).toBe('200');

  const filler = join(mountPoint!, 'filler');
  fillUp(filler);
  const whileFull: string[] = [];
  for (let i = 0; i < 40 && !whileFull.includes('507 KAFKA_STORAGE_ERROR'); i++) whileFull.push(await produce());
  expect(whileFull.filter((s) => s !== '200' && s !== '507 KAFKA_STORAGE_ERROR')).toEqual([]);
  expect(whileFull).toContain('507 KAFKA_STORAGE_ERROR');

  unlinkSync(filler);
  await waitFor(async () => (await produce()) === '200', 10_000, 'produce to work again');
  for (let i = 0; i < 3; i++) expect(await produce()).toBe('200');
  const read = await fetch(`${broker.url}/topics/full/partitions/0/records?offset=0&maxBytes=10000000`, { headers: { authorization: `Bearer ${token}` } });
  expect(((await read.json()) as { records: { value: string }[] }).records.map((r) => r.value)).toEqual(acked);
}, 60_000);
