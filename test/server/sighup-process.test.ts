/**
 * SIGHUP on the real `sluice serve` process rereads the auth file while requests run: requests in flight
 * finish, a removed token is refused from then on, a new one works at once, and a broken file keeps the
 * principals in use (and says so in the log). SIGHUP also swaps the TLS certificate: requests keep running on
 * the connection opened before, new handshakes get the new certificate.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, request } from 'undici';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { newToken } from '../../src/security/tokens.js';
import { BrokerProcess, SLUICE_BIN, freePort } from '../helpers/broker-process.js';
import { makeCa, makeCert } from '../helpers/certs.js';
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

it('reloads the TLS certificate on SIGHUP while requests run on an open connection', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sighup-tls-'));
  const agents: Agent[] = [];
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const ca1 = makeCa(dir, 'ca1');
    const ca2 = makeCa(dir, 'ca2');
    const first = makeCert(dir, ca1, 'first');
    const second = makeCert(dir, ca2, 'second');
    const cert = join(dir, 'live.pem');
    const key = join(dir, 'live.key');
    copyFileSync(first.cert, cert);
    copyFileSync(first.key, key);
    const port = await freePort();
    child = spawn(process.execPath, [SLUICE_BIN, 'serve', '--data-dir', join(dir, 'data'), '--port', String(port), '--tls-cert', cert, '--tls-key', key], { stdio: 'ignore' });
    const url = `https://127.0.0.1:${port}`;
    const agent = (caFile: string) => {
      const a = new Agent({ connect: { ca: readFileSync(caFile) }, connections: 1 });
      agents.push(a);
      return a;
    };
    const old = agent(ca1.cert);
    const get = async (dispatcher: Agent, path: string) => {
      const r = await request(`${url}${path}`, { dispatcher });
      await r.body.text();
      return r.statusCode;
    };
    await waitFor(async () => (await get(old, '/health').catch(() => 0)) === 200, 20_000, 'the https broker');
    let stop = false;
    const statuses: number[] = [];
    const running = (async () => {
      while (!stop) statuses.push(await get(old, '/topics'));
    })();
    await waitFor(() => statuses.length >= 5, 10_000, 'requests before the reload');
    copyFileSync(second.cert, cert);
    copyFileSync(second.key, key);
    child.kill('SIGHUP');
    await waitFor(async () => (await get(agent(ca2.cert), '/health').catch(() => 0)) === 200, 10_000, 'the new certificate');
    const before = statuses.length;
    await waitFor(() => statuses.length >= before + 5, 10_000, 'requests after the reload on the old connection');
    stop = true;
    await running;
    expect(statuses.every((s) => s === 200)).toBe(true);
    await expect(get(agent(ca1.cert), '/health')).rejects.toThrow(); // a new handshake trusting the old CA fails
  } finally {
    child?.kill('SIGKILL');
    for (const a of agents) await a.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
