/**
 * /openapi.json is valid OpenAPI 3 (swagger-parser), documents every route with its bodies and the error
 * schema, and documents every status a route really answers with: a run of requests (successes and the usual
 * mistakes) goes through each route, and the broker's own request counter (route, method, status) is checked
 * against the document; every JSON body of that run is validated against the schema the document gives it.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv } from 'ajv';
import type { OpenAPIV3 } from 'openapi-types';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/log/record-batch.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { ROUTE_DOCS, documentedStatuses } from '../../src/server/openapi.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const raw = Buffer.isBuffer(body) || typeof body === 'string';
  return broker!.app.inject({
    method: method as 'GET',
    url,
    headers: { ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body === undefined ? {} : { payload: raw ? (body as string) : JSON.stringify(body) }),
  });
}

const BATCH = 'application/vnd.sluice.record-batch';

describe('the OpenAPI document', () => {
  it('is valid, documents every route, the error body and the binary batch body', async () => {
    broker = await startTestBroker(tempDir());
    const document = (await call('GET', '/openapi.json')).json() as OpenAPIV3.Document;
    await SwaggerParser.validate(structuredClone(document) as never);

    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      (['get', 'post', 'put', 'patch', 'delete'] as const).filter((m) => item?.[m]).map((m) => [`${m.toUpperCase()} ${path}`, item![m]!] as const),
    );
    expect(operations.map(([key]) => key).sort()).toEqual(Object.keys(ROUTE_DOCS).sort()); // no route undocumented, no stale entry
    for (const [key, operation] of operations) {
      const statuses = Object.keys(operation.responses).map(Number);
      expect(statuses, key).toEqual(documentedStatuses(key));
      for (const [status, response] of Object.entries(operation.responses) as [string, OpenAPIV3.ResponseObject][]) {
        if (Number(status) >= 400) expect(response.content?.['application/json']?.schema, `${key} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
        else if (Number(status) !== 204) expect(Object.keys(response.content ?? {}).length, `${key} ${status} has a body`).toBeGreaterThan(0);
      }
    }
    expect(document.paths['/topics']!.post!.responses['201']).toBeDefined();
    expect(document.paths['/topics/{topic}']!.delete!.responses['204']).toBeDefined();
    const batches = document.paths['/topics/{topic}/partitions/{partition}/batches']!.post!.requestBody as OpenAPIV3.RequestBodyObject;
    expect(batches.content[BATCH]!.schema).toEqual({ type: 'string', format: 'binary' });
    expect((document.paths['/topics/{topic}/partitions/{partition}/records']!.get!.responses['200'] as OpenAPIV3.ResponseObject).content![BATCH]).toBeDefined();
    expect((document.components!.schemas!['Error'] as OpenAPIV3.SchemaObject).properties!['error']).toEqual({ $ref: '#/components/schemas/ErrorDetail' });
    expect((document.components!.schemas!['ErrorDetail'] as OpenAPIV3.SchemaObject).required).toEqual(['code', 'message', 'retriable']);
  });

  it('documents every status each route answered with in a run of real requests', async () => {
    broker = await startTestBroker(tempDir());
    const batch = encodeBatch({ records: [{ value: 'x' }] });
    const requests: [string, string, unknown?, Record<string, string>?][] = [
      ['POST', '/topics', { name: 'o', partitions: 2 }],
      ['POST', '/topics', { name: 'o' }],
      ['POST', '/topics', { name: 'bad/name' }],
      ['POST', '/topics', { name: 'x', config: { nope: 1 } }],
      ['POST', '/topics', 'not json', { 'content-type': 'text/plain' }],
      ['GET', '/topics'],
      ['GET', '/topics/o'],
      ['GET', '/topics/missing'],
      ['PATCH', '/topics/o/config', { retentionMs: 1000 }],
      ['PATCH', '/topics/o/config', { segmentBytes: null }],
      ['DELETE', '/topics/o/config/retentionMs'],
      ['DELETE', '/topics/o/config/nope'],
      ['POST', '/topics/o/records', { records: [{ value: 'a' }, { key: 'k', value: 'b' }] }],
      ['POST', '/topics/o/records', { records: [{ value: 'a', partition: 9 }] }],
      ['POST', '/topics/missing/records', { records: [{ value: 'a' }] }],
      ['POST', '/topics/o/partitions/0/batches', batch, { 'content-type': BATCH }],
      ['POST', '/topics/o/partitions/0/batches', Buffer.from('garbage garbage garbage garbage garbage garbage garbage garbage'), { 'content-type': BATCH }],
      ['POST', '/producers', {}],
      ['POST', '/internal/replica/fetch', Buffer.from('short'), { 'content-type': 'application/vnd.sluice.replica-request' }],
      ['POST', '/internal/replica/epoch-end-offsets', Buffer.from('short'), { 'content-type': 'application/vnd.sluice.replica-request' }],
      ['GET', '/topics/o/partitions/0/records?offset=0'],
      ['GET', '/topics/o/partitions/0/records?offset=0', undefined, { accept: BATCH }],
      ['GET', '/topics/o/partitions/0/records?offset=999'],
      ['GET', '/topics/o/partitions/7/records?offset=0'],
      ['GET', '/topics/o/partitions/0/offsets?timestamp=earliest'],
      ['POST', '/fetch', { partitions: [{ topic: 'o', partition: 0, offset: 0 }, { topic: 'o', partition: 1, offset: 50 }] }],
      ['POST', '/fetch', { partitions: 'no' }],
      ['POST', '/groups/g/offsets', { offsets: [{ topic: 'o', partition: 0, offset: 1 }] }],
      ['POST', '/groups/g/offsets', { offsets: [{ topic: 'o', partition: 0, offset: 1000 }] }],
      ['GET', '/groups/g/offsets'],
      ['GET', '/groups/none/offsets'],
      ['GET', '/groups'],
      ['GET', '/groups/g'],
      ['POST', '/groups/g/offsets/reset', { topic: 'o', to: 'earliest' }],
      ['POST', '/groups/none/offsets/reset', { topic: 'o', to: 'earliest' }],
      ['POST', '/groups/m/members', { topics: ['o'] }],
      ['POST', '/groups/m/members', { topics: ['missing'] }],
      ['POST', '/groups/m/members/nobody/heartbeat', {}],
      ['DELETE', '/groups/m/members/nobody'],
      ['DELETE', '/groups/m'],
      ['DELETE', '/groups/g'],
      ['DELETE', '/groups/none'],
      ['PUT', '/share-groups/sg', { visibilityTimeoutMs: 5000 }],
      ['PUT', '/share-groups/sg', { visibilityTimeoutMs: -1 }],
      ['POST', '/share-groups/sg/receive', { topics: ['o'], maxRecords: 5 }],
      ['POST', '/share-groups/sg/receive', { topics: ['o'], maxRecords: 5 }, { accept: BATCH }],
      ['POST', '/share-groups/sg/receive', { topics: ['missing'] }],
      ['POST', '/share-groups/sg/acks', { acks: [{ receipt: 'forged', type: 'accept' }] }],
      ['POST', '/share-groups/sg/visibility', { receipts: ['forged'], visibilityTimeoutMs: 1000 }],
      ['GET', '/share-groups'],
      ['GET', '/share-groups/sg'],
      ['GET', '/share-groups/none'],
      ['DELETE', '/share-groups/sg'],
      ['DELETE', '/share-groups/none'],
      ['GET', '/health'],
      ['GET', '/cluster'],
      ['GET', '/metrics'],
      ['POST', '/admin/retention/run'],
      ['DELETE', '/topics/o'],
      ['DELETE', '/topics/o'],
    ];
    // Every JSON body is checked against the schema the document gives for its route and status.
    const document = (await call('GET', '/openapi.json')).json() as OpenAPIV3.Document;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'api', components: document.components }, 'api');
    const schemaFor = (method: string, url: string, status: number) => {
      const path = Object.keys(document.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(url.split('?')[0]!));
      const response = document.paths[path!]?.[method.toLowerCase() as 'get']?.responses[String(status)] as OpenAPIV3.ResponseObject | undefined;
      return response?.content?.['application/json']?.schema;
    };
    const withRefs = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"api#/components/'));
    const seen = new Set<number>();
    const mismatches: string[] = [];
    for (const [method, url, body, headers] of requests) {
      const response = await call(method, url, body, headers);
      seen.add(response.statusCode);
      if (!String(response.headers['content-type']).startsWith('application/json')) continue;
      const schema = schemaFor(method, url, response.statusCode);
      if (!schema) {
        mismatches.push(`${method} ${url} ${response.statusCode}: no JSON schema`);
        continue;
      }
      const validate = ajv.compile(withRefs(schema));
      if (!validate(response.json())) mismatches.push(`${method} ${url} ${response.statusCode}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(mismatches).toEqual([]);
    // The answers cover successes and errors of several kinds.
    expect([...seen].sort()).toEqual(expect.arrayContaining([200, 201, 204, 400, 404, 409, 416]));

    const text = (await call('GET', '/metrics')).body;
    const counter = [...text.matchAll(/^sluice_http_requests_total\{([^}]*)\} /gm)].map((m) => ({
      labels: Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!])) as Record<string, string>,
    }));
    const undocumented: string[] = [];
    const routes = new Set<string>();
    for (const { labels } of counter) {
      const key = `${labels.method} ${String(labels.route).replace(/:([A-Za-z]+)/g, '{$1}')}`;
      if (key === 'GET /openapi.json') continue;
      routes.add(key);
      if (!documentedStatuses(key).includes(Number(labels.status))) undocumented.push(`${key} answered ${labels.status}`);
    }
    expect(undocumented).toEqual([]);
    expect([...routes].sort()).toEqual(Object.keys(ROUTE_DOCS).sort()); // the run went through every route
  });
});
