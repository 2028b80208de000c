/**
 * Fetch records (JSON, or whole stored batches with Accept: application/vnd.sluice.record-batch) and look up
 * offsets by timestamp.
 */
import type { FastifyInstance } from 'fastify';
import { jsonRecordsOf } from '../json-records.js';
import { RECORD_BATCH_MEDIA_TYPE, wantsBatches, enumQuery, intQuery, offsetQuery, partitionParam, topicParam, type Services } from './common.js';

const DEFAULT_MAX_BYTES = 1_048_576;
const DEFAULT_MAX_RECORDS = 10_000;
const partitionParams = { type: 'object', properties: { topic: { type: 'string' }, partition: { type: 'string' } } } as const;

export function fetchRoutes(app: FastifyInstance, s: Services): void {
  app.get(
    '/topics/:topic/partitions/:partition/records',
    {
      schema: {
        summary: 'Fetch records from an offset (long polls with maxWaitMs at the high watermark)',
        tags: ['fetch'],
        params: partitionParams,
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'string' },
            maxBytes: { type: 'string' },
            maxRecords: { type: 'string' },
            maxWaitMs: { type: 'string' },
            encoding: { type: 'string' },
          },
        },
        // Compiled serialization of the JSON reply (the binary reply is a Buffer and bypasses it).
        response: {
          200: {
            type: 'object',
            properties: {
              records: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['offset', 'timestamp', 'key', 'value', 'headers'],
                  properties: {
                    offset: { type: 'integer' },
                    timestamp: { type: 'integer' },
                    key: { type: ['string', 'null'] },
                    value: { type: ['string', 'null'] },
                    headers: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
                  },
                },
              },
              nextOffset: { type: 'integer' },
              highWatermark: { type: 'integer' },
              logStartOffset: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const topic = topicParam(request.params);
      const partition = partitionParam(request.params);
      const query = request.query as Record<string, unknown>;
      const requested = offsetQuery(query, 'offset');
      const maxBytes = intQuery(query, 'maxBytes', DEFAULT_MAX_BYTES, 1, s.config.maxRequestBytes);
      const maxRecords = intQuery(query, 'maxRecords', DEFAULT_MAX_RECORDS, 1, 1_000_000);
      const maxWaitMs = intQuery(query, 'maxWaitMs', 0, 0, s.config.maxFetchWaitMs);
      const encoding = enumQuery(query, 'encoding', ['utf8', 'base64'] as const, 'utf8');
      const offset = requested === 'earliest' || requested === 'latest' ? (await s.replicas.listOffset(topic, partition, requested)).offset : requested;
      // A client that goes away ends its long poll at once (no waiter, no read for nobody).
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) gone.abort();
      };
      reply.raw.once('close', onClose);
      const result = await s.fetches.fetch(topic, partition, offset, { maxBytes, maxWaitMs, signal: gone.signal }).finally(() =>
        reply.raw.off('close', onClose),
      );
      s.metrics.bytesOut.inc({ topic }, result.bytes.length);
      if (wantsBatches(request.headers.accept)) {
        return reply
          .header('Sluice-Next-Offset', String(result.nextOffset))
          .header('Sluice-High-Watermark', String(result.highWatermark))
          .header('Sluice-Log-Start-Offset', String(result.logStartOffset))
          .type(RECORD_BATCH_MEDIA_TYPE)
          .send(result.bytes);
      }
      // maxBytes bounds the stored bytes read above and, here, the decoded records returned (at least one).
      const { records, nextOffset } = await jsonRecordsOf(result.bytes, offset, { maxRecords, maxBytes }, encoding);
      return {
        records,
        nextOffset: nextOffset ?? result.nextOffset,
        highWatermark: result.highWatermark,
        logStartOffset: result.logStartOffset,
      };
    },
  );

  app.get(
    '/topics/:topic/partitions/:partition/offsets',
    {
      schema: {
        summary: 'The first offset whose record timestamp is >= timestamp (or earliest / latest)',
        tags: ['fetch'],
        params: partitionParams,
        querystring: { type: 'object', properties: { timestamp: { type: 'string' } } },
      },
    },
    async (request) => {
      const topic = topicParam(request.params);
      const partition = partitionParam(request.params);
      const at = offsetQuery(request.query as Record<string, unknown>, 'timestamp');
      return s.replicas.listOffset(topic, partition, at);
    },
  );
}
