/**
 * Requests the HTTP layer refuses before a route runs, over real sockets (raw `net` where Node's client would
 * not send them): oversized headers get a 431 rather than a reset, slow-loris headers and trickled bodies a
 * 408 within the configured timeouts (while a long poll longer than requestTimeoutMs is not cut), JSON in
 * another charset a 415; and JSON bodies with `__proto__` keys are read as plain data.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerConfig } from '../../src/server/broker-config.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

async function start(overrides: Partial<BrokerConfig> = {}): Promise<RunningBroker> {
  broker = await startTestBroker(tempDir(), { listen: true, overrides });
  return broker;
}

interface RawExchange {
  /** everything the server sent */
  response: string;
  /** a socket error (ECONNRESET, EPIPE) seen by the client, if any */
  error: string | null;
  ms: number;
}

/**
 * Opens a socket, writes `chunks` (a delay in ms between them: `{ wait }`), and collects what the server sends
 * until it closes the connection.
 */
function exchange(url: string, chunks: (string | { wait: number })[]): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    // Half-open allowed: like a client that sends its whole request before it reads, this one keeps writing
    // after the server has answered and half-closed.
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    let response = '';
    let error: string | null = null;
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on('close', () => resolve({ response, error, ms: Date.now() - started }));
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        if (typeof chunk === 'string') socket.write(chunk);
        else await new Promise((r) => setTimeout(r, chunk.wait));
      }
      if (!socket.destroyed) socket.end();
    })();
  });
}

function statusAndError(raw: string): { status: number; code: string; headers: string } {
  const [head, body] = raw.split('\r\n\r\n');
  return { status: Number(head!.split(' ')[1]), code: (JSON.parse(body!) as { error: { code: string } }).error.code, headers: head!.toLowerCase() };
}

describe('request headers', () => {
  it('a 100 KB header gets 431 REQUEST_HEADERS_TOO_LARGE, and so does an 8 MB one rather than a reset', async () => {
    const b = await start();
    // 8 MB: the client is still sending when the server refuses the request (on loopback, whose buffers are
    // large, that takes megabytes; over a network 100 KB can do it). Closing at once would reset the
    // connection under the client's feet, and with it the answer.
    for (const size of [100 * 1024, 8_000_000, 8_000_000, 8_000_000]) {
      const { response, error } = await exchange(b.url!, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`]);
      expect(error, `${size} bytes`).toBeNull();
      expect(statusAndError(response)).toMatchObject({ status: 431, code: 'REQUEST_HEADERS_TOO_LARGE' });
      expect(statusAndError(response).headers).toContain('connection: close');
    }
    expect((await fetch(`${b.url}/health`)).status).toBe(200);
  });

  it('maxHeaderBytes sets the limit', async () => {
    const b = await start({ maxHeaderBytes: 2_048 });
    expect((await fetch(`${b.url}/health`, { headers: { 'x-pad': 'a'.repeat(1_500) } })).status).toBe(200);
    const { response, error } = await exchange(b.url!, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(3_000)}\r\n\r\n`]);
    expect(error).toBeNull();
    expect(JSON.parse(response.split('\r\n\r\n')[1]!).error).toMatchObject({ code: 'REQUEST_HEADERS_TOO_LARGE', maxHeaderBytes: 2_048, retriable: false });
  });
});

describe('slow clients', () => {
  it('headers trickled byte by byte are cut after requestHeadersTimeoutMs with 408 REQUEST_INCOMPLETE', async () => {
    const b = await start({ requestHeadersTimeoutMs: 500, requestTimeoutMs: 5_000 });
    const drip = Array.from({ length: 100 }, (_, i) => [`X-${i}: y\r\n`, { wait: 50 }]).flat();
    const { response, ms } = await exchange(b.url!, ['GET /health HTTP/1.1\r\nHost: x\r\n', ...drip]);
    expect(statusAndError(response)).toMatchObject({ status: 408, code: 'REQUEST_INCOMPLETE' });
    // 500 ms, plus at most one check interval (1 s) and the lingering close (2 s), not Node's 60 s
    expect(ms).toBeLessThan(6_000);
  });

  it('a body trickled for longer than requestTimeoutMs is cut with 408', async () => {
    const b = await start({ requestHeadersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const head = 'POST /topics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const drip = Array.from({ length: 60 }, () => [' ', { wait: 50 }]).flat();
    const { response, ms } = await exchange(b.url!, [head, ...drip]);
    expect(statusAndError(response)).toMatchObject({ status: 408, code: 'REQUEST_INCOMPLETE' });
    expect(ms).toBeLessThan(7_000);
  });

  it('a long poll that waits longer than requestTimeoutMs is not cut', async () => {
    const b = await start({ requestHeadersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    await fetch(`${b.url}/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"t"}' });
    const started = Date.now();
    const response = await fetch(`${b.url}/topics/t/partitions/0/records?offset=0&maxWaitMs=2500`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { records: unknown[] }).records).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_400);
  });

  it('refuses requestHeadersTimeoutMs above requestTimeoutMs at start-up', async () => {
    await expect(start({ requestHeadersTimeoutMs: 5_000, requestTimeoutMs: 2_000 })).rejects.toThrow(/requestHeadersTimeoutMs \(5000\) must not be above requestTimeoutMs \(2000\)/);
  });
});

describe('JSON bodies', () => {
  const produce = (b: RunningBroker, payload: string | Buffer, contentType = 'application/json') =>
    b.app.inject({ method: 'POST', url: '/topics/t/records', headers: { 'content-type': contentType }, payload });

  it('a charset other than UTF-8 is 415 UNSUPPORTED_MEDIA_TYPE; UTF-8 in any spelling is read', async () => {
    const b = await start();
    await b.app.inject({ method: 'POST', url: '/topics', headers: { 'content-type': 'application/json' }, payload: '{"name":"t"}' });
    const utf16 = Buffer.from('{"records":[{"value":"x"}]}', 'utf16le');
    for (const type of ['application/json; charset=utf-16', 'application/json; charset=UTF-16LE', 'application/json;charset="latin1"']) {
      const response = await produce(b, utf16, type);
      expect(response.statusCode, type).toBe(415);
      expect(response.json().error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', retriable: false });
    }
    expect((await produce(b, 'x', 'text/plain')).json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    for (const type of ['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;charset=utf8', 'application/json']) {
      expect((await produce(b, '{"records":[{"value":"é"}]}', type)).statusCode, type).toBe(200);
    }
    const invalid = await produce(b, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]));
    expect(invalid.json().error).toMatchObject({ code: 'INVALID_REQUEST', message: 'the body is not valid UTF-8' });
    expect((await produce(b, '{"records": [')).json().error.message).toMatch(/^the body is not valid JSON: /);
    const records = (await b.app.inject({ method: 'GET', url: '/topics/t/partitions/0/records?offset=0' })).json().records;
    expect(records.map((r: { value: string }) => r.value)).toEqual(['é', 'é', 'é', 'é']);
  });

  it('record header keys __proto__ and constructor are ordinary names, stored and returned; nothing is polluted', async () => {
    const b = await start();
    await b.app.inject({ method: 'POST', url: '/topics', headers: { 'content-type': 'application/json' }, payload: '{"name":"t"}' });
    const body = '{"records":[{"value":"v","headers":{"__proto__":"p","constructor":"c","toString":"s","n":null}}]}';
    const produced = await produce(b, body);
    expect(produced.statusCode, produced.body).toBe(200);
    const fetched = await b.app.inject({ method: 'GET', url: '/topics/t/partitions/0/records?offset=0' });
    expect(fetched.body).toContain('"headers":{"__proto__":"p","constructor":"c","toString":"s","n":null}');
    const headers = JSON.parse(fetched.body).records[0].headers;
    expect(Object.keys(headers)).toEqual(['__proto__', 'constructor', 'toString', 'n']);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    const config = await b.app.inject({ method: 'POST', url: '/topics', headers: { 'content-type': 'application/json' }, payload: '{"name":"u","config":{"__proto__":{"retentionMs":1}}}' });
    expect(config.json().error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('unknown topic config key "__proto__"') });
  });
});
