/**
 * A few hundred generated malformed requests (fast-check) over real HTTP at a running broker process:
 * every one gets a 4xx with the contract's error body, none a 5xx, the broker stays up and no data changes.
 * Requests go through node:http with raw paths, so dot segments and odd encodings reach the server as sent.
 */
import fc from 'fast-check';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/errors.js';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: BrokerProcess;

beforeAll(async () => {
  broker = new BrokerProcess(tempDir(), await freePort(), ['--max-request-bytes', '65536']);
  await broker.start();
  await postJson(`${broker.url}/topics`, { name: 'victim', partitions: 2 });
  await postJson(`${broker.url}/topics/victim/records`, { records: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] });
}, 30_000);
afterAll(async () => {
  await broker.stop('SIGKILL');
});

function raw(method: string, path: string, headers: Record<string, string>, body: Buffer | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request: the server may close a connection after an error reply, and a pooled
    // socket would race that close.
    const req = request({ host: '127.0.0.1', port: broker.port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

const badName = fc.oneof(
  fc.constantFrom('..', '%2e%2e', '%2E%2E', '.', '%2e', '..%2f..%2fetc', 'a%2fb', '%00', 'x%20y', '%ZZ', '%C3%A9', 'a*b', '%2e%2e%2f', 'x'.repeat(250)),
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => encodeURIComponent(s + '/')),
);
const junkJson = fc.oneof(
  fc.constantFrom('{', '[', '{"records": [}', 'null', '"str"', '{"records": "x"}', '{"records": [{"value": 1}]}', '{"records": [{}]}', '{"records": [{"value": "x", "partition": -1}]}', '{"records": [{"value": "x", "timestamp": "now"}]}', '{"records": [{"value": "x"}], "acks": 2}', '{"records": [{"value": "x"}], "encoding": "hex"}', '{"records": [{"value": "x"}], "producer": {"id": "a"}}', '{"records": [{"value": "x", "key": {"a": 1}}]}'),
  fc.jsonValue().map((v) => JSON.stringify({ records: [{ value: 'x' }], bogus: v })),
  fc.string({ maxLength: 50 }),
);
const badOffset = fc.constantFrom('', 'first', '-1', '1e3', '0x10', '99999999999999999999', 'NaN', '%00');

const requestArb = fc.oneof(
  fc.record({ kind: fc.constant('get-topic'), name: badName }),
  fc.record({ kind: fc.constant('produce-bad-name'), name: badName }),
  fc.record({ kind: fc.constant('produce-junk'), body: junkJson, contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8') }),
  fc.record({ kind: fc.constant('binary-junk'), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }), partition: fc.constantFrom('0', '1', '7', '-1', 'x') }),
  fc.record({ kind: fc.constant('fetch-bad'), offset: badOffset, partition: fc.constantFrom('0', '9', 'x', '-1'), extra: fc.constantFrom('', '&maxBytes=0', '&maxRecords=abc', '&maxWaitMs=-5', '&encoding=utf16', '&maxWaitMs=999999999') }),
  fc.record({ kind: fc.constant('create-bad'), body: fc.oneof(junkJson, fc.jsonValue().map((v) => JSON.stringify({ name: 'nx-new', partitions: 1, config: { notAKey: v } })), fc.constantFrom('{"name": 5}', '{"name": "nx-a", "partitions": 0}', '{"name": "nx-a", "partitions": 1.5}', '{"name": "nx-a", "replicationFactor": 2}', '{"name": "victim"}')) }),
  fc.record({ kind: fc.constant('alter-bad'), body: fc.oneof(fc.constantFrom('{"segmentBytes": 1}', '{"compression": "zstd"}', '{"retentionMs": -5}', '[]', '"x"', '{"cleanupPolicy": "compact"}', '{"retentionMs": 1, "segmentBytes": null}'), fc.jsonValue().map((v) => JSON.stringify({ unknownKey: v }))) }),
  fc.record({ kind: fc.constant('reset-bad'), topic: fc.constantFrom('victim', 'nx-gone'), key: fc.constantFrom('retentionms', 'unknownKey', '%2e%2e', 'constructor', '__proto__') }),
  fc.record({ kind: fc.constant('delete-missing'), name: fc.stringMatching(/^[a-z]{1,10}$/).map((s) => `nx-${s}`) }),
  fc.record({ kind: fc.constant('unknown-route'), path: fc.constantFrom('/admin', '/topics/victim/partitions', '/topics/victim/partitions/0', '/groups/x/y/z', '/%2e%2e/%2e%2e/etc/passwd', '/../../etc/passwd') }),
);

type BadRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function toHttp(r: BadRequest): { method: string; path: string; headers: Record<string, string>; body: Buffer | null } {
  const json = { 'content-type': 'application/json' };
  switch (r.kind) {
    case 'get-topic':
      return { method: 'GET', path: `/topics/${r.name}`, headers: {}, body: null };
    case 'produce-bad-name':
      return { method: 'POST', path: `/topics/${r.name}/records`, headers: json, body: Buffer.from('{"records":[{"value":"x"}]}') };
    case 'produce-junk':
      return { method: 'POST', path: '/topics/victim/records', headers: { 'content-type': r.contentType }, body: Buffer.from(r.body) };
    case 'binary-junk':
      return { method: 'POST', path: `/topics/victim/partitions/${r.partition}/batches`, headers: { 'content-type': 'application/vnd.sluice.record-batch' }, body: Buffer.from(r.bytes) };
    case 'fetch-bad':
      return { method: 'GET', path: `/topics/victim/partitions/${r.partition}/records?offset=${r.offset}${r.extra}`, headers: {}, body: null };
    case 'create-bad':
      return { method: 'POST', path: '/topics', headers: json, body: Buffer.from(r.body) };
    case 'alter-bad':
      return { method: 'PATCH', path: '/topics/victim/config', headers: json, body: Buffer.from(r.body) };
    case 'reset-bad':
      return { method: 'DELETE', path: `/topics/${r.topic}/config/${r.key}`, headers: {}, body: null };
    case 'delete-missing':
      return { method: 'DELETE', path: `/topics/${r.name}`, headers: {}, body: null };
    case 'unknown-route':
      return { method: 'GET', path: r.path, headers: {}, body: null };
  }
}

async function snapshot() {
  const topics = await (await fetch(`${broker.url}/topics`)).json();
  const victim = await (await fetch(`${broker.url}/topics/victim`)).json();
  return { topics, victim };
}

describe('malformed requests at a running broker', () => {
  it('all get a 4xx with a known error code; nothing changes; the broker stays up', async () => {
    const before = await snapshot();
    const codes = new Set(Object.keys(ERROR_CODES));
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const { method, path, headers, body } = toHttp(r);
        const response = await raw(method, path, headers, body).catch((err: Error) => {
          throw new Error(`${method} ${path}: ${err.message}; broker exit ${broker.child?.exitCode}; output:\n${broker.output.slice(-2000)}`);
        });
        expect(response.status, `${method} ${path} -> ${response.status} ${response.body}`).toBeGreaterThanOrEqual(400);
        expect(response.status, `${method} ${path} -> ${response.status} ${response.body}`).toBeLessThan(500);
        const parsed = JSON.parse(response.body) as { error: { code: string; message: string } };
        expect(codes.has(parsed.error.code), parsed.error.code).toBe(true);
        expect(typeof parsed.error.message).toBe('string');
        seen.set(parsed.error.code, (seen.get(parsed.error.code) ?? 0) + 1);
      }),
      { numRuns: 400, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(await snapshot()).toEqual(before);
    expect((await fetch(`${broker.url}/health`)).status).toBe(200);
    expect([...seen.keys()]).toEqual(expect.arrayContaining(['INVALID_REQUEST', 'INVALID_TOPIC_NAME', 'CORRUPT_MESSAGE', 'UNKNOWN_TOPIC', 'NOT_FOUND', 'INVALID_CONFIG']));
  }, 120_000);

  it('dot segments sent raw reach no file and get INVALID_TOPIC_NAME', async () => {
    for (const path of ['/topics/%2e%2e', '/topics/..', '/topics/%2E%2E/records']) {
      const response = await raw(path.endsWith('records') ? 'POST' : 'GET', path, { 'content-type': 'application/json' }, path.endsWith('records') ? Buffer.from('{"records":[{"value":"x"}]}') : null);
      expect(JSON.parse(response.body).error.code, path).toBe('INVALID_TOPIC_NAME');
    }
  });
});
