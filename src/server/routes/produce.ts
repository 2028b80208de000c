/**
 * Produce: JSON records (`POST /topics/:topic/records`) and raw record batches
 * (`POST /topics/:topic/partitions/:partition/batches`), plus producer-id issuance for idempotence.
 */
import type { FastifyInstance } from 'fastify';
import { BrokerError } from '../../common/errors.js';
import type { Acks } from '../../replication/replica-manager.js';
import { planBatches, type Encoding, type JsonRecord } from '../json-records.js';
import { forwardBatches, splitByLeader } from '../produce-forwarding.js';
import { RECORD_BATCH_MEDIA_TYPE, enumQuery, intQuery, partitionParam, topicParam, type Services } from './common.js';

const ACKS: readonly Acks[] = ['0', '1', 'all'];
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 300_000;

const recordSchema = {
  type: 'object',
  required: ['value'],
  additionalProperties: false,
  properties: {
    key: { type: ['string', 'null'] },
    value: { type: ['string', 'null'] },
    headers: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
    partition: { type: 'integer', minimum: 0 },
    timestamp: { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 },
  },
} as const;

const produceBody = {
  type: 'object',
  required: ['records'],
  additionalProperties: false,
  properties: {
    records: { type: 'array', items: recordSchema },
    acks: { type: 'string', enum: ACKS },
    timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_TIMEOUT_MS },
    encoding: { type: 'string', enum: ['utf8', 'base64'] },
    producer: {
      type: 'object',
      required: ['id', 'epoch', 'sequence'],
      additionalProperties: false,
      properties: { id: { type: 'integer', minimum: 0 }, epoch: { type: 'integer', minimum: 0, maximum: 32767 }, sequence: { type: 'integer', minimum: 0, maximum: 2147483647 } },
    },
  },
} as const;

interface ProduceBody {
  records: JsonRecord[];
  acks?: Acks;
  timeoutMs?: number;
  encoding?: Encoding;
  producer?: { id: number; epoch: number; sequence: number };
}

export function produceRoutes(app: FastifyInstance, s: Services): void {
  app.post(
    '/topics/:topic/records',
    {
      schema: {
        summary: 'Produce JSON records',
        tags: ['produce'],
        params: { type: 'object', properties: { topic: { type: 'string' } } },
        body: produceBody,
        // A response schema lets fastify serialize the per-record offsets with a compiled serializer.
        response: {
          200: {
            type: 'object',
            required: ['offsets'],
            properties: {
              offsets: {
                type: 'array',
                items: { type: 'object', required: ['partition', 'offset', 'timestamp'], properties: { partition: { type: 'integer' }, offset: { type: 'integer' }, timestamp: { type: 'integer' } } },
              },
              duplicate: { type: 'boolean' },
            },
          },
        },
      },
    },
    async (request) => {
      const topic = topicParam(request.params);
      const body = request.body as ProduceBody;
      const meta = s.topics.topic(topic);
      const config = s.topics.configOf(meta);
      const producer = body.producer ?? null;
      if (producer) s.replicas.checkProducer(producer.id, producer.epoch);
      let planned = planBatches(topic, body.records, body.encoding ?? 'utf8', meta.partitions, config, s.clock.now(), s.partitioner, producer);
      // Cluster mode: partitions led by other brokers are forwarded to them (produce-forwarding.ts).
      let forwarded: Promise<Map<number, { partition: number; offset: number; timestamp: number }>> | null = null;
      if (s.cluster) {
        const split = splitByLeader(s.cluster, topic, planned, request, producer);
        planned = split.local;
        if (split.remote.length > 0) forwarded = forwardBatches(s.cluster, topic, body, split.remote, s.config.interBrokerToken);
        forwarded?.catch(() => undefined); // awaited below, after the local part
      }
      const { appended, duplicate } =
        planned.length === 0
          ? { appended: [], duplicate: false }
          : await s.replicas.produceRecordBatches(
              topic,
              planned.map((b) => ({ partition: b.partition, data: b.data })),
              { acks: body.acks ?? 'all', timeoutMs: body.timeoutMs ?? DEFAULT_TIMEOUT_MS },
              producer,
            );
      const offsets = new Array<{ partition: number; offset: number; timestamp: number }>(body.records.length);
      if (forwarded) for (const [index, offset] of await forwarded) offsets[index] = offset;
      let bytes = 0;
      planned.forEach((batch, i) => {
        bytes += batch.data.length;
        const { baseOffset, timestamps } = appended[i]!;
        batch.recordIndexes.forEach((recordIndex, j) => {
          const timestamp = timestamps?.[j] ?? batch.timestamps[j]!;
          offsets[recordIndex] = { partition: batch.partition, offset: baseOffset < 0 ? -1 : baseOffset + j, timestamp };
        });
      });
      if (!duplicate) {
        s.metrics.bytesIn.inc({ topic }, bytes);
        s.metrics.recordsIn.inc({ topic }, body.records.length);
      }
      return duplicate ? { offsets, duplicate: true } : { offsets };
    },
  );

  app.post(
    '/topics/:topic/partitions/:partition/batches',
    {
      schema: {
        summary: 'Produce raw RecordBatch v2 bytes (Content-Type application/vnd.sluice.record-batch)',
        tags: ['produce'],
        params: { type: 'object', properties: { topic: { type: 'string' }, partition: { type: 'string' } } },
        querystring: { type: 'object', properties: { acks: { type: 'string' }, timeoutMs: { type: 'string' } } },
      },
    },
    async (request) => {
      const topic = topicParam(request.params);
      const partition = partitionParam(request.params);
      const query = request.query as Record<string, unknown>;
      const acks = enumQuery(query, 'acks', ACKS, 'all');
      const timeoutMs = intQuery(query, 'timeoutMs', DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
      if (!Buffer.isBuffer(request.body)) {
        throw new BrokerError('INVALID_REQUEST', `the body must be record batches with Content-Type ${RECORD_BATCH_MEDIA_TYPE}`);
      }
      if (request.body.length === 0) throw new BrokerError('INVALID_REQUEST', 'the body holds no record batch');
      const batches = await s.replicas.produceBatches(topic, partition, request.body, { acks, timeoutMs });
      const appended = batches.filter((b) => !b.duplicate);
      if (appended.length > 0) {
        s.metrics.bytesIn.inc({ topic }, request.body.length);
        s.metrics.recordsIn.inc({ topic }, appended.reduce((n, b) => n + b.lastOffset - b.baseOffset + 1, 0));
      }
      return { batches: batches.map((b) => (b.duplicate ? { baseOffset: b.baseOffset, lastOffset: b.lastOffset, duplicate: true } : { baseOffset: b.baseOffset, lastOffset: b.lastOffset })) };
    },
  );

  app.post(
    '/producers',
    {
      schema: {
        summary: 'Get a producer id for idempotent produce (the same name fences its older epoch)',
        tags: ['produce'],
        body: { type: ['object', 'null'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 256 } } },
      },
    },
    async (request) => {
      const name = (request.body as { name?: string } | null | undefined)?.name ?? null;
      const identity = await s.store.registerProducer(name);
      return { producerId: identity.producerId, producerEpoch: identity.producerEpoch };
    },
  );
}
