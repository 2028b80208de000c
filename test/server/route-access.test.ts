/**
 * Every route of the broker, driven from the routes it registered: no token (401), a wrong token (401), a
 * principal without the operation (403, and nothing changed), a principal with exactly the ACLs the access
 * table asks for (served). A route without an entry in ROUTE_ACCESS, or without a sample request here,
 * fails this test. Also: literal and prefix ACLs, filtered listings, the audit lines.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { newToken } from '../../src/security/tokens.js';
import { startTestBroker } from '../helpers/broker.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const admin = newToken();
const full = newToken();
const none = newToken();
const prefixed = newToken();

const ALL = ['read', 'write', 'create', 'delete', 'alter', 'describe'];
const principals = [
  { name: 'admin', tokenSha256: admin.tokenSha256, acls: [{ resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['admin'] }] },
  {
    name: 'full',
    tokenSha256: full.tokenSha256,
    acls: [
      { resource: 'topic', name: 't', pattern: 'prefix', operations: ALL },
      { resource: 'group', name: 'g', pattern: 'prefix', operations: ALL },
      { resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['describe', 'alter'] },
    ],
  },
  // Everything, but on names no sample uses: every sample must be refused.
  {
    name: 'none',
    tokenSha256: none.tokenSha256,
    acls: [
      { resource: 'topic', name: 'other', pattern: 'literal', operations: ['read', 'describe', 'create', 'delete', 'alter'] },
      { resource: 'group', name: 'other', pattern: 'literal', operations: ALL },
    ],
  },
  {
    name: 'prefixed',
    tokenSha256: prefixed.tokenSha256,
    acls: [
      { resource: 'topic', name: 'billing-', pattern: 'prefix', operations: ['describe', 'write'] },
      { resource: 'topic', name: 'orders', pattern: 'literal', operations: ['read'] },
      { resource: 'group', name: 'billing-', pattern: 'prefix', operations: ['describe'] },
    ],
  },
];

let dir: string;
let broker: RunningBroker;
const auditLines: Record<string, unknown>[] = [];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
type Inject = { method: string; url: string; payload?: unknown; headers?: Record<string, string> };

async function call(req: Inject, token: string | null) {
  const headers: Record<string, string> = { ...(req.headers ?? {}), ...(token ? bearer(token) : {}) };
  if (req.payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const payload = req.payload === undefined ? undefined : Buffer.isBuffer(req.payload) ? req.payload : JSON.stringify(req.payload);
  return broker.app.inject({ method: req.method as 'GET', url: req.url, headers, ...(payload !== undefined ? { payload } : {}) });
}

async function asAdmin(method: string, url: string, payload?: unknown) {
  return call({ method, url, ...(payload !== undefined ? { payload } : {}) }, admin.token);
}

/** What a refused request must not change. */
async function snapshot() {
  const parts = await Promise.all([
    asAdmin('GET', '/topics?internal=true'),
    asAdmin('GET', '/topics/t'),
    asAdmin('GET', '/topics/t-del'),
    asAdmin('GET', '/topics/t/partitions/0/offsets?timestamp=latest'),
    asAdmin('GET', '/groups'),
    asAdmin('GET', '/groups/g-empty/offsets'),
    asAdmin('GET', '/share-groups'),
  ]);
  return parts.map((r) => r.body);
}

/** One sample request per route: `METHOD url` as registered. */
const SAMPLES: Record<string, () => Promise<Inject>> = {
  'GET /openapi.json': async () => ({ method: 'GET', url: '/openapi.json' }),
  'GET /cluster': async () => ({ method: 'GET', url: '/cluster' }),
  'GET /metrics': async () => ({ method: 'GET', url: '/metrics' }),
  'POST /admin/retention/run': async () => ({ method: 'POST', url: '/admin/retention/run', payload: {} }),
  'POST /topics': async () => {
    await asAdmin('DELETE', '/topics/t-new');
    return { method: 'POST', url: '/topics', payload: { name: 't-new', partitions: 1 } };
  },
  'GET /topics': async () => ({ method: 'GET', url: '/topics' }),
  'GET /topics/:topic': async () => ({ method: 'GET', url: '/topics/t' }),
  'PATCH /topics/:topic/config': async () => ({ method: 'PATCH', url: '/topics/t/config', payload: { retentionMs: 123_456 } }),
  'DELETE /topics/:topic/config/:key': async () => {
    await asAdmin('PATCH', '/topics/t/config', { retentionBytes: 99_999 });
    return { method: 'DELETE', url: '/topics/t/config/retentionBytes' };
  },
  'DELETE /topics/:topic': async () => {
    await asAdmin('POST', '/topics', { name: 't-del', partitions: 1 });
    return { method: 'DELETE', url: '/topics/t-del' };
  },
  'POST /topics/:topic/records': async () => ({ method: 'POST', url: '/topics/t/records', payload: { records: [{ value: 'x' }] } }),
  'POST /topics/:topic/partitions/:partition/batches': async () => ({
    method: 'POST',
    url: '/topics/t/partitions/0/batches',
    payload: Buffer.alloc(70),
    headers: { 'content-type': 'application/vnd.sluice.record-batch' },
  }),
  'POST /producers': async () => ({ method: 'POST', url: '/producers', payload: {} }),
  'POST /internal/replica/fetch': async () => ({ method: 'POST', url: '/internal/replica/fetch', payload: Buffer.alloc(8), headers: { 'content-type': 'application/vnd.sluice.replica-request' } }),
  'POST /internal/replica/epoch-end-offsets': async () => ({
    method: 'POST',
    url: '/internal/replica/epoch-end-offsets',
    payload: Buffer.alloc(8),
    headers: { 'content-type': 'application/vnd.sluice.replica-request' },
  }),
  'GET /topics/:topic/partitions/:partition/records': async () => ({ method: 'GET', url: '/topics/t/partitions/0/records?offset=0' }),
  'GET /topics/:topic/partitions/:partition/offsets': async () => ({ method: 'GET', url: '/topics/t/partitions/0/offsets?timestamp=earliest' }),
  'POST /fetch': async () => ({ method: 'POST', url: '/fetch', payload: { partitions: [{ topic: 't', partition: 0, offset: 0 }] } }),
  'POST /groups/:group/members': async () => ({ method: 'POST', url: '/groups/g-join/members', payload: { topics: ['t'] } }),
  'POST /groups/:group/members/:memberId/heartbeat': async () => ({ method: 'POST', url: `/groups/g-live/members/${memberId}/heartbeat`, payload: {} }),
  'DELETE /groups/:group/members/:memberId': async () => ({ method: 'DELETE', url: '/groups/g-live/members/nobody' }),
  'POST /groups/:group/offsets': async () => ({ method: 'POST', url: '/groups/g-empty/offsets', payload: { offsets: [{ topic: 't', partition: 0, offset: 0 }] } }),
  'GET /groups/:group/offsets': async () => ({ method: 'GET', url: '/groups/g-empty/offsets' }),
  'GET /groups': async () => ({ method: 'GET', url: '/groups' }),
  'GET /groups/:group': async () => ({ method: 'GET', url: '/groups/g-live' }),
  'POST /groups/:group/offsets/reset': async () => ({ method: 'POST', url: '/groups/g-empty/offsets/reset', payload: { topic: 't', to: 'earliest' } }),
  'DELETE /groups/:group': async () => {
    await asAdmin('POST', '/groups/g-del/offsets', { offsets: [{ topic: 't', partition: 0, offset: 0 }] });
    return { method: 'DELETE', url: '/groups/g-del' };
  },
  'PUT /share-groups/:group': async () => ({ method: 'PUT', url: '/share-groups/g-share', payload: { visibilityTimeoutMs: 5_000 } }),
  'POST /share-groups/:group/receive': async () => ({ method: 'POST', url: '/share-groups/g-share/receive', payload: { topics: ['t'], maxRecords: 1 } }),
  'POST /share-groups/:group/acks': async () => ({ method: 'POST', url: '/share-groups/g-share/acks', payload: { acks: [{ receipt: 'forged', type: 'accept' }] } }),
  'POST /share-groups/:group/visibility': async () => ({ method: 'POST', url: '/share-groups/g-share/visibility', payload: { receipts: ['forged'], visibilityTimeoutMs: 1_000 } }),
  'GET /share-groups': async () => ({ method: 'GET', url: '/share-groups' }),
  'GET /share-groups/:group': async () => ({ method: 'GET', url: '/share-groups/g-share' }),
  'DELETE /share-groups/:group': async () => {
    await asAdmin('PUT', '/share-groups/g-share-del', {});
    return { method: 'DELETE', url: '/share-groups/g-share-del' };
  },
};

let memberId = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  writeFileSync(join(dir, 'auth.json'), JSON.stringify({ principals }));
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.includes('"audit":true')) auditLines.push(JSON.parse(line));
      cb();
    },
  });
  broker = await startTestBroker(join(dir, 'data'), { overrides: { authFile: join(dir, 'auth.json') }, logger: pino({ level: 'info' }, sink) });
  expect((await asAdmin('POST', '/topics', { name: 't', partitions: 1 })).statusCode).toBe(201);
  for (const name of ['orders', 'billing-eu', 'billing-us', 'other']) await asAdmin('POST', '/topics', { name, partitions: 1 });
  await asAdmin('POST', '/topics/t/records', { records: [{ value: 'a' }] });
  await asAdmin('POST', '/groups/g-empty/offsets', { offsets: [{ topic: 't', partition: 0, offset: 0 }] });
  await asAdmin('POST', '/groups/billing-x/offsets', { offsets: [{ topic: 't', partition: 0, offset: 0 }] });
  const joined = await asAdmin('POST', '/groups/g-live/members', { topics: ['t'] });
  memberId = joined.json().memberId;
});

afterAll(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the access table covers every route', () => {
  it('every registered route has an access rule and a sample request here', () => {
    expect(broker.app.security.unlistedRoutes).toEqual([]);
    const routes = broker.app.security.routes.filter((r) => !r.startsWith('HEAD ') && r !== 'GET /health');
    expect(routes.length).toBeGreaterThan(20);
    for (const route of routes) expect(Object.keys(SAMPLES), `no sample request for ${route}`).toContain(route);
  });

  it('GET /health needs no token', async () => {
    expect((await call({ method: 'GET', url: '/health' }, null)).statusCode).toBe(200);
  });

  it('HEAD routes take their GET\'s rule', async () => {
    expect((await call({ method: 'HEAD', url: '/topics/t' }, null)).statusCode).toBe(401);
    expect((await call({ method: 'HEAD', url: '/topics/t' }, none.token)).statusCode).toBe(403);
    expect((await call({ method: 'HEAD', url: '/topics/t' }, full.token)).statusCode).toBe(200);
  });

  it('an unknown route needs a token too', async () => {
    expect((await call({ method: 'GET', url: '/nope' }, null)).statusCode).toBe(401);
    expect((await call({ method: 'GET', url: '/nope' }, full.token)).statusCode).toBe(404);
  });
});

describe.each(Object.keys(SAMPLES))('%s', (route) => {
  it('no token, a wrong token, a malformed header: 401 with WWW-Authenticate; without the operation: 403 and nothing changed; with it: served', async () => {
    const req = await SAMPLES[route]!();
    const anonymous = await call(req, null);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(anonymous.json().error.code).toBe('UNAUTHENTICATED');
    expect((await call(req, newToken().token)).statusCode).toBe(401);
    expect((await call({ ...req, headers: { ...(req.headers ?? {}), authorization: 'Basic YTpi' } }, null)).statusCode).toBe(401);

    const before = await snapshot();
    const denied = await call(req, none.token);
    if (route === 'GET /openapi.json' || route === 'GET /topics' || route === 'GET /groups' || route === 'GET /share-groups') {
      expect(denied.statusCode).toBe(200); // any principal; listings are filtered (below)
    } else {
      expect(denied.statusCode, denied.body).toBe(403);
      expect(denied.json().error).toMatchObject({ code: 'NOT_AUTHORIZED' });
      expect(denied.json().error.operation).toBeDefined();
    }
    expect(await snapshot()).toEqual(before);

    // Inter-broker routes are for cluster admins (the brokers' own principal) only.
    const allowed = await call(await SAMPLES[route]!(), route.startsWith('POST /internal/') ? admin.token : full.token);
    expect([401, 403], `${route}: ${allowed.body}`).not.toContain(allowed.statusCode);
    expect(allowed.statusCode, allowed.body).toBeLessThan(500);
  });
});

describe('ACL patterns and listings', () => {
  it('prefix and literal ACLs: billing-* topics by prefix, orders only by its exact name', async () => {
    const p = (url: string) => call({ method: 'GET', url }, prefixed.token);
    expect((await p('/topics/billing-eu')).statusCode).toBe(200);
    expect((await p('/topics/orders')).statusCode).toBe(200); // read implies describe
    expect((await p('/topics/orders2')).statusCode).toBe(403);
    expect((await p('/topics/billing')).statusCode).toBe(403); // the prefix is "billing-"
    expect((await p('/topics/orders/partitions/0/records?offset=0')).statusCode).toBe(200);
    expect((await p('/topics/billing-eu/partitions/0/records?offset=0')).statusCode).toBe(403); // describe+write, no read
    const produced = await call({ method: 'POST', url: '/topics/billing-us/records', payload: { records: [{ value: 'v' }] } }, prefixed.token);
    expect(produced.statusCode).toBe(200);
  });

  it('listings show only what the principal may describe', async () => {
    const topics = (await call({ method: 'GET', url: '/topics' }, prefixed.token)).json().topics.map((t: { name: string }) => t.name);
    expect(topics.sort()).toEqual(['billing-eu', 'billing-us', 'orders']);
    const groups = (await call({ method: 'GET', url: '/groups' }, prefixed.token)).json().groups.map((g: { group: string }) => g.group);
    expect(groups).toEqual(['billing-x']);
    expect((await call({ method: 'GET', url: '/topics' }, none.token)).json().topics.map((t: { name: string }) => t.name)).toEqual(['other']);
    const adminTopics = (await asAdmin('GET', '/topics')).json().topics.length;
    expect(adminTopics).toBeGreaterThan(4);
  });

  it('a multi-partition fetch needs read on every topic it names', async () => {
    const body = { partitions: [{ topic: 'orders', partition: 0, offset: 0 }, { topic: 'billing-eu', partition: 0, offset: 0 }] };
    const refused = await call({ method: 'POST', url: '/fetch', payload: body }, prefixed.token);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ resource: 'topic', name: 'billing-eu', operation: 'read' });
  });

  it('audit lines: creates, deletes and alters, and every 401/403, with principal, action, resource, result, client address', () => {
    const created = auditLines.find((l) => l.action === 'topic.create' && l.principal === 'full' && l.result === 'ok');
    expect(created).toMatchObject({ audit: true, resource: ['topic:t-new'], status: 201, clientAddress: '127.0.0.1' });
    expect(auditLines.some((l) => l.action === 'topic.delete' && l.principal === 'none' && l.result === 'denied' && l.status === 403)).toBe(true);
    expect(auditLines.some((l) => l.result === 'unauthenticated' && l.status === 401 && l.principal === null)).toBe(true);
    expect(auditLines.some((l) => l.action === 'group.resetOffsets' && l.principal === 'full')).toBe(true);
  });
});
