/**
 * `POST /fetch`: one request and one long poll for many partitions of this broker. JSON records by default;
 * with `Accept: application/vnd.sluice.record-batch` the stored batches of each partition in the framing of
 * src/common/fetch-frames.ts, sent as they lie on disk.
 */
import type { FastifyInstance } from 'fastify';
import { encodeFetchFrames, type FetchFrame } from '../../common/fetch-frames.js';
import { BrokerError } from '../../common/errors.js';
import type { FetchManyEntry } from '../../replication/fetch-manager.js';
import { validateTopicName } from '../../topics/topic-manager.js';
import { errorBody } from '../errors.js';
import { jsonRecordsOf, type Encoding, type FetchedRecord } from '../json-records.js';
import { RECORD_BATCH_MEDIA_TYPE, wantsBatches, type Services } from './common.js';

/** Kafka's fetch.max.bytes default. */
const DEFAULT_MAX_BYTES = 52_428_800;
const DEFAULT_MAX_BYTES_PER_PARTITION = 1_048_576;
const MAX_PARTITIONS_PER_REQUEST = 100_000;
const MAX_RECORDS_PER_PARTITION = 1_000_000;

interface MultiFetchBody {
  partitions: { topic: string; partition: number; offset: number }[];
  maxWaitMs?: number;
  maxBytes?: number;
  maxBytesPerPartition?: number;
  encoding?: Encoding;
}

export function multiFetchRoutes(app: FastifyInstance, s: Services): void {
  app.post(
    '/fetch',
    {
      schema: {
        summary: 'Fetch from many partitions with one long poll (JSON, or stored batches with Accept: application/vnd.sluice.record-batch)',
        tags: ['fetch'],
        body: {
          type: 'object',
          required: ['partitions'],
          additionalProperties: false,
          properties: {
            partitions: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_PARTITIONS_PER_REQUEST,
              items: {
                type: 'object',
                required: ['topic', 'partition', 'offset'],
                additionalProperties: false,
                properties: {
                  topic: { type: 'string' },
                  partition: { type: 'integer', minimum: 0 },
                  offset: { type: 'integer', minimum: 0 },
                },
              },
            },
            maxWaitMs: { type: 'integer', minimum: 0, maximum: s.config.maxFetchWaitMs },
            maxBytes: { type: 'integer', minimum: 1 },
            maxBytesPerPartition: { type: 'integer', minimum: 1 },
            encoding: { type: 'string', enum: ['utf8', 'base64'] },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as MultiFetchBody;
      for (const p of body.partitions) validateTopicName(p.topic);
      // A client that goes away ends its long poll at once.
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) gone.abort();
      };
      reply.raw.once('close', onClose);
      const entries = await s.fetches
        .fetchMany(body.partitions, {
          maxWaitMs: body.maxWaitMs ?? 0,
          maxBytes: body.maxBytes ?? DEFAULT_MAX_BYTES,
          maxBytesPerPartition: body.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
          signal: gone.signal,
        })
        .finally(() => reply.raw.off('close', onClose));
      for (const e of entries) if ('result' in e) s.metrics.bytesOut.inc({ topic: e.topic }, e.result.bytes.length);
      if (wantsBatches(request.headers.accept)) {
        const frames = encodeFetchFrames(entries.map(toFrame));
        return reply.type(RECORD_BATCH_MEDIA_TYPE).send(Buffer.concat(frames));
      }
      return { partitions: await toJson(entries, body) };
    },
  );
}

/**
 * JSON entries: decoded records are bounded like the stored bytes were (maxBytesPerPartition, and maxBytes in
 * total, except that the first partition with records gets at least one); a partition past the total budget
 * answers no records and its requested offset as nextOffset.
 */
async function toJson(entries: FetchManyEntry[], body: MultiFetchBody) {
  let remaining = body.maxBytes ?? DEFAULT_MAX_BYTES;
  const perPartition = body.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION;
  const out = [];
  for (const [i, e] of entries.entries()) {
    if ('error' in e) {
      out.push({ topic: e.topic, partition: e.partition, error: errorOf(e.error) });
      continue;
    }
    const offset = body.partitions[i]!.offset;
    const { bytes, highWatermark, logStartOffset } = e.result;
    const spent = remaining < (body.maxBytes ?? DEFAULT_MAX_BYTES);
    let records: FetchedRecord[] = [];
    let nextOffset = e.result.nextOffset;
    if (bytes.length > 0 && (remaining > 0 || !spent)) {
      const decoded = await jsonRecordsOf(bytes, offset, { maxRecords: MAX_RECORDS_PER_PARTITION, maxBytes: Math.max(1, Math.min(perPartition, remaining)) }, body.encoding ?? 'utf8');
      records = decoded.records;
      nextOffset = decoded.nextOffset ?? nextOffset;
      remaining -= decoded.decodedBytes;
    } else if (bytes.length > 0) {
      nextOffset = offset;
    }
    out.push({ topic: e.topic, partition: e.partition, records, nextOffset, highWatermark, logStartOffset });
  }
  return out;
}

function toFrame(e: FetchManyEntry): FetchFrame {
  if ('error' in e) return { kind: 'error', topic: e.topic, partition: e.partition, error: errorOf(e.error) };
  const { bytes, nextOffset, highWatermark, logStartOffset } = e.result;
  return { kind: 'records', topic: e.topic, partition: e.partition, highWatermark, logStartOffset, nextOffset, batches: bytes };
}

function errorOf(err: BrokerError): { code: string; message: string; retriable: boolean } {
  return errorBody(err).error as { code: string; message: string; retriable: boolean };
}
