/**
 * TLS on the listener with certificates made by openssl in the test: a valid certificate, an expired one, a
 * client trusting the wrong CA, mutual TLS (a client certificate's CN as the principal), and a reload of the
 * certificate while a request runs on an open connection (the SIGHUP path: RunningBroker.reload).
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import type { RunningBroker } from '../../src/server/broker.js';
import type { BrokerConfig } from '../../src/server/broker-config.js';
import { startTestBroker } from '../helpers/broker.js';
import { makeCa, makeCert, pem, type Ca } from '../helpers/certs.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { runCli, type CliIO } from '../../src/cli/program.js';
import { sha256Hex } from '../../src/security/tokens.js';
import { PassThrough } from 'node:stream';

function capture(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l), write: async (t) => (out.push(t), true), stdin: new PassThrough(), stdinIsTTY: false };
}

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  await broker?.close();
  broker = null;
});

let certs: string;
let ca: Ca;
let otherCa: Ca;
let server: { cert: string; key: string };
let expired: { cert: string; key: string };
let otherServer: { cert: string; key: string };
let client: { cert: string; key: string };
let strangerClient: { cert: string; key: string };

beforeAll(() => {
  certs = mkdtempSync(join(tmpdir(), 'sluice-certs-'));
  ca = makeCa(certs, 'ca');
  otherCa = makeCa(certs, 'other-ca');
  server = makeCert(certs, ca, 'server');
  expired = makeCert(certs, ca, 'expired', { days: -1 });
  otherServer = makeCert(certs, otherCa, 'other-server');
  client = makeCert(certs, ca, 'client', { cn: 'billing', server: false });
  strangerClient = makeCert(certs, otherCa, 'stranger', { cn: 'billing', server: false });
}, 60_000);
afterAll(() => rmSync(certs, { recursive: true, force: true }));

async function start(overrides: Partial<BrokerConfig>): Promise<string> {
  broker = await startTestBroker(tempDir(), { listen: true, overrides: { host: '127.0.0.1', ...overrides } });
  return broker.url!;
}

function admin(url: string, options: Partial<ConstructorParameters<typeof Admin>[0]> = {}): Admin {
  const a = new Admin({ broker: url, retryTimeoutMs: 0, ...options });
  clients.push(a);
  return a;
}

describe('TLS', () => {
  it('a valid certificate: https only, the client trusting the CA works, one that does not is refused', async () => {
    const url = await start({ tlsCert: server.cert, tlsKey: server.key });
    expect(url).toMatch(/^https:\/\//);
    await admin(url, { ca: pem(ca.cert) }).createTopic({ name: 't', partitions: 1 });
    expect((await admin(url, { ca: pem(ca.cert) }).listTopics()).map((t) => t.name)).toEqual(['t']);
    await expect(admin(url).listTopics()).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    await expect(admin(url, { ca: pem(otherCa.cert) }).listTopics()).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    // No plaintext port: an http request to it gets no HTTP answer.
    await expect(admin(url.replace('https:', 'http:')).listTopics()).rejects.toMatchObject({ code: expect.stringMatching(/BROKER_NOT_AVAILABLE|INVALID_REQUEST/) });
  });

  it('the CLI speaks https with --ca and sends --token; sluice auth new-token makes the pair', async () => {
    const io = capture();
    expect(await runCli(['auth', 'new-token', '--json'], io)).toBe(0);
    const { token, tokenSha256 } = JSON.parse(io.out[0]!);
    expect(sha256Hex(token)).toBe(tokenSha256);
    const dir = tempDir();
    writeFileSync(join(dir, 'auth.json'), JSON.stringify({ principals: [{ name: 'ops', tokenSha256, acls: [{ resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['admin'] }] }] }));
    const url = await start({ tlsCert: server.cert, tlsKey: server.key, authFile: join(dir, 'auth.json') });
    const created = capture();
    expect(await runCli(['topics', 'create', 'cli-t', '--partitions', '1', '--broker', url, '--ca', ca.cert, '--token', token, '--timeout', '0'], created)).toBe(0);
    const listed = capture();
    expect(await runCli(['topics', 'list', '--broker', url, '--ca', ca.cert, '--token', token, '--timeout', '0'], listed)).toBe(0);
    expect(listed.out.join('\n')).toContain('cli-t');
    const refused = capture();
    expect(await runCli(['topics', 'list', '--broker', url, '--ca', ca.cert, '--timeout', '0'], refused)).toBe(1);
    expect(refused.err.join('\n')).toContain('UNAUTHENTICATED');
    const noCa = capture();
    expect(await runCli(['topics', 'list', '--broker', url, '--token', token, '--timeout', '0'], noCa)).toBe(1);
  });

  it('an expired certificate is refused by the client', async () => {
    const url = await start({ tlsCert: expired.cert, tlsKey: expired.key });
    const err = await admin(url, { ca: pem(ca.cert) }).listTopics().catch((e) => e);
    expect(err).toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    expect(String(err.message)).toMatch(/expired/i);
  });

  it('mutual TLS: no client certificate or one of another CA is refused; the CN names the principal', async () => {
    const dir = tempDir();
    const authFile = join(dir, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ principals: [{ name: 'billing', acls: [{ resource: 'topic', name: 'billing-', pattern: 'prefix', operations: ['create', 'write', 'read'] }] }] }));
    const url = await start({ tlsCert: server.cert, tlsKey: server.key, tlsCa: ca.cert, authFile });
    await expect(admin(url, { ca: pem(ca.cert) }).listTopics()).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    await expect(admin(url, { ca: pem(ca.cert), cert: pem(strangerClient.cert), key: pem(strangerClient.key) }).listTopics()).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    const billing = admin(url, { ca: pem(ca.cert), cert: pem(client.cert), key: pem(client.key) });
    await billing.createTopic({ name: 'billing-eu', partitions: 1 });
    await expect(billing.createTopic({ name: 'orders', partitions: 1 })).rejects.toMatchObject({ code: 'NOT_AUTHORIZED' });
    const producer = new Producer({ broker: url, ca: pem(ca.cert), cert: pem(client.cert), key: pem(client.key) });
    clients.push(producer);
    expect((await producer.send({ topic: 'billing-eu', value: 'v' })).offset).toBe(0);
  });

  it('reloads the certificate without dropping a connection: a long poll in flight finishes, new handshakes get the new certificate', async () => {
    const dir = tempDir();
    const cert = join(dir, 'server.pem');
    const key = join(dir, 'server.key');
    copyFileSync(server.cert, cert);
    copyFileSync(server.key, key);
    const url = await start({ tlsCert: cert, tlsKey: key });
    const old = admin(url, { ca: pem(ca.cert) });
    await old.createTopic({ name: 't', partitions: 1 });
    const producer = new Producer({ broker: url, ca: pem(ca.cert) });
    clients.push(producer);
    await producer.send({ topic: 't', value: 'before reload' }); // opens its connection
    // A long poll on an open connection, answered only when a record arrives after the reload.
    const dispatcher = new Agent({ connect: { ca: pem(ca.cert) }, connections: 1 });
    clients.push(dispatcher);
    await (await request(`${url}/health`, { dispatcher })).body.text(); // the connection is open before the reload
    const polling = request(`${url}/topics/t/partitions/0/records?offset=1&maxWaitMs=20000`, { dispatcher }).then((r) => r.body.text());
    copyFileSync(otherServer.cert, cert);
    copyFileSync(otherServer.key, key);
    expect(broker!.reload()).toMatchObject({ tls: 'reloaded' });
    await producer.send({ topic: 't', value: 'after reload' }); // its connection predates the reload
    expect(await polling).toContain('after reload');
    await expect(admin(url, { ca: pem(ca.cert) }).listTopics()).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE' });
    expect((await admin(url, { ca: pem(otherCa.cert) }).listTopics()).map((t) => t.name)).toEqual(['t']);
    // A broken file keeps the certificate in use.
    writeFileSync(cert, 'not a certificate');
    expect(broker!.reload().tls).toMatch(/^kept the previous certificate/);
    expect((await admin(url, { ca: pem(otherCa.cert) }).listTopics()).map((t) => t.name)).toEqual(['t']);
  });
});
