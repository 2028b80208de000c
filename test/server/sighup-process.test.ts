/**
 * SIGHUP on the real `sluice serve` process rereads the auth file while requests run: requests in flight
 * finish, a removed token is refused from then on, a new one works at once, and a broken file keeps the
 * principals in use (and says so in the log).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { newToken } from '../../src/security/tokens.js';
import { BrokerProcess, freePort } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
let proc: BrokerProcess | null = null;
afterEach(async () => {
  await proc?.stop('SIGKILL');
  proc = null;
});

const principal = (name: string, tokenSha256: string) => ({ name, tokenSha256, acls: [{ resource: 'topic', name: 't', pattern: 'literal', operations: ['create', 'write', 'read'] }] });

it('reloads the auth file on SIGHUP while requests run', async () => {
  const dir = tempDir();
  const authFile = join(dir, 'auth.json');
  const a = newToken();
  const b = newToken();
  writeFileSync(authFile, JSON.stringify({ principals: [principal('old', a.tokenSha256)] }));
  proc = new BrokerProcess(join(dir, 'data'), await freePort(), ['--auth-file', authFile], 'read', { SLUICE_LOG_LEVEL: 'info' });
  await proc.start();
  const url = proc.url;
  const send = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  expect((await send(a.token, 'POST', '/topics', { name: 't', partitions: 1 })).status).toBe(201);

  // A long poll and a stream of produce requests, running while the file is replaced.
  const longPoll = send(a.token, 'GET', '/topics/t/partitions/0/records?offset=0&maxWaitMs=20000');
  const statuses: number[] = [];
  let stop = false;
  const stream = (async () => {
    while (!stop) statuses.push((await send(a.token, 'POST', '/topics/t/records', { records: [{ value: 'a' }] })).status);
  })();
  await waitFor(() => statuses.length >= 5, 10_000, 'produce requests before the reload');

  writeFileSync(authFile, JSON.stringify({ principals: [principal('new', b.tokenSha256)] }));
  proc.child!.kill('SIGHUP');
  await waitFor(async () => (await send(b.token, 'GET', '/topics/t')).status === 200, 10_000, 'the new token to work');
  await waitFor(() => statuses.includes(401), 10_000, 'the old token to be refused');
  stop = true;
  await stream;
  // Every answer was a success before the reload or 401 after it: nothing dropped, nothing in between.
  const firstRefused = statuses.indexOf(401);
  expect(statuses.slice(0, firstRefused).every((s) => s === 200)).toBe(true);
  expect(statuses.slice(firstRefused).every((s) => s === 401)).toBe(true);
  expect((await longPoll).status).toBe(200);

  writeFileSync(authFile, '{"principals": [ not json');
  proc.child!.kill('SIGHUP');
  await waitFor(() => proc!.output.includes('kept the previous principals'), 10_000, 'the reload error in the log');
  expect((await send(b.token, 'GET', '/topics/t')).status).toBe(200);
  expect(proc.child!.exitCode).toBe(null);
}, 60_000);
