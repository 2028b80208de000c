/**
 * Share groups (queue semantics on a topic; docs/queues.md): group config, receive with leases and long
 * polling, acks (accept, release, reject) and visibility changes with one result per item, describe, list,
 * delete. Bodies are checked whole before anything changes: a bad body is 400 with nothing applied.
 */
import type { FastifyInstance } from 'fastify';
import { MAX_DELIVERY_COUNT_MAX, VISIBILITY_TIMEOUT_MAX_MS, VISIBILITY_TIMEOUT_MIN_MS, validateGroupId, type ShareGroupConfig } from '../../share-groups/share-group-config.js';
import type { AckType, ItemResult } from '../../share-groups/share-acks.js';
import { validateTopicName } from '../../topics/topic-manager.js';
import { errorBody } from '../errors.js';
import { encodeShareFrames } from '../../common/share-frames.js';
import { RECORD_BATCH_MEDIA_TYPE, wantsBatches, type Services } from './common.js';

const groupParams = { type: 'object', properties: { group: { type: 'string' } } } as const;
const visibility = { type: 'integer', minimum: VISIBILITY_TIMEOUT_MIN_MS, maximum: VISIBILITY_TIMEOUT_MAX_MS } as const;
const MAX_ITEMS = 10_000;

function groupParam(params: unknown): string {
  return validateGroupId((params as { group?: unknown }).group);
}

function itemResults(results: ItemResult[]): { results: unknown[] } {
  return { results: results.map((r) => ('ok' in r ? { receipt: r.receipt, ok: true } : { receipt: r.receipt, error: errorBody(r.error).error })) };
}

export function shareGroupRoutes(app: FastifyInstance, s: Services): void {
  app.put(
    '/share-groups/:group',
    {
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
      schema: {
        summary: 'Create or update a share group\'s config',
        tags: ['share-groups'],
        params: groupParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            visibilityTimeoutMs: visibility,
            maxDeliveryCount: { type: 'integer', minimum: 1, maximum: MAX_DELIVERY_COUNT_MAX },
            deadLetterTopic: { type: ['string', 'null'] },
            startFrom: { type: 'string', enum: ['latest', 'earliest'] },
          },
        },
      },
    },
    async (request) => s.shareGroups.configure(groupParam(request.params), request.body as Partial<ShareGroupConfig>),
  );

  app.post(
    '/share-groups/:group/receive',
    {
      schema: {
        summary: 'Lease up to maxRecords records of the topics to this receiver (long-polls up to maxWaitMs when none is available); with Accept: application/vnd.sluice.record-batch the records come as record batches',
        tags: ['share-groups'],
        params: groupParams,
        body: {
          type: 'object',
          required: ['topics'],
          additionalProperties: false,
          properties: {
            topics: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 1_000 },
            maxRecords: { type: 'integer', minimum: 1, maximum: MAX_ITEMS },
            maxWaitMs: { type: 'integer', minimum: 0, maximum: s.config.maxFetchWaitMs },
            visibilityTimeoutMs: visibility,
            encoding: { type: 'string', enum: ['utf8', 'base64'] },
          },
        },
      },
    },
    async (request, reply) => {
      const group = groupParam(request.params);
      const body = request.body as { topics: string[]; maxRecords?: number; maxWaitMs?: number; visibilityTimeoutMs?: number; encoding?: 'utf8' | 'base64' };
      body.topics.forEach(validateTopicName);
      const encoding = body.encoding ?? 'utf8';
      const received = await s.shareGroups.receive(group, {
        topics: body.topics,
        maxRecords: body.maxRecords ?? 100,
        maxWaitMs: body.maxWaitMs ?? 0,
        ...(body.visibilityTimeoutMs !== undefined ? { visibilityTimeoutMs: body.visibilityTimeoutMs } : {}),
      });
      // The binary reply: leases in a JSON header, records as record batches (src/common/share-frames.ts).
      if (wantsBatches(request.headers.accept)) return reply.type(RECORD_BATCH_MEDIA_TYPE).send(Buffer.concat(encodeShareFrames(received)));
      const records = received.map(({ topic, partition, record, deliveryCount, receipt }) => {
        const headers: Record<string, string | null> = {};
        for (const h of record.headers) headers[h.key] = h.value === null ? null : h.value.toString('utf8');
        return {
          topic,
          partition,
          offset: record.offset,
          key: record.key === null ? null : record.key.toString(encoding),
          value: record.value === null ? null : record.value.toString(encoding),
          headers,
          timestamp: record.timestamp,
          deliveryCount,
          receipt,
        };
      });
      return { records };
    },
  );

  app.post(
    '/share-groups/:group/acks',
    {
      schema: {
        summary: 'Accept, release or reject leased records; one result per ack, in order (accepts and rejects are durable before the reply)',
        tags: ['share-groups'],
        params: groupParams,
        body: {
          type: 'object',
          required: ['acks'],
          additionalProperties: false,
          properties: {
            acks: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_ITEMS,
              items: {
                type: 'object',
                required: ['receipt', 'type'],
                additionalProperties: false,
                properties: { receipt: { type: 'string' }, type: { type: 'string', enum: ['accept', 'release', 'reject'] } },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const body = request.body as { acks: { receipt: string; type: AckType }[] };
      return itemResults(await s.shareGroups.acknowledge(groupParam(request.params), body.acks));
    },
  );

  app.post(
    '/share-groups/:group/visibility',
    {
      schema: {
        summary: 'Extend leases to visibilityTimeoutMs from now; one result per receipt',
        tags: ['share-groups'],
        params: groupParams,
        body: {
          type: 'object',
          required: ['receipts', 'visibilityTimeoutMs'],
          additionalProperties: false,
          properties: { receipts: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: MAX_ITEMS }, visibilityTimeoutMs: visibility },
        },
      },
    },
    async (request) => {
      const body = request.body as { receipts: string[]; visibilityTimeoutMs: number };
      return itemResults(s.shareGroups.changeVisibility(groupParam(request.params), body.receipts, body.visibilityTimeoutMs));
    },
  );

  app.get('/share-groups', { schema: { summary: 'List share groups and the topics they read', tags: ['share-groups'] } }, async () => ({ groups: s.shareGroups.list() }));

  app.get('/share-groups/:group', { schema: { summary: 'Describe a share group: config and, per partition, start offset, acquired, available, lag', tags: ['share-groups'], params: groupParams } }, async (request) =>
    s.shareGroups.describe(groupParam(request.params)),
  );

  app.delete('/share-groups/:group', { schema: { summary: 'Delete a share group: its leases end and its state goes', tags: ['share-groups'], params: groupParams } }, async (request, reply) => {
    await s.shareGroups.delete(groupParam(request.params));
    return reply.code(204).send();
  });
}
