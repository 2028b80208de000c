/**
 * The internal routes followers use (replica-protocol.ts has the wire format): `POST
 * /internal/replica/fetch` answers stored batches as they lie on disk, in the frames of
 * src/common/fetch-frames.ts; `POST /internal/replica/epoch-end-offsets` answers where a leader epoch ends.
 * Binary both ways, nothing decoded: the batches are the leader's bytes. Not for clients.
 */
import type { FastifyInstance } from 'fastify';
import { BrokerError } from '../../common/errors.js';
import { encodeFetchFrames } from '../../common/fetch-frames.js';
import {
  decodeEpochEndOffsetsRequest,
  decodeReplicaFetchRequest,
  encodeEpochEndOffsets,
  EPOCH_END_OFFSETS_PATH,
  REPLICA_FETCH_PATH,
} from '../../replication/replica-protocol.js';
import { RECORD_BATCH_MEDIA_TYPE, type Services } from './common.js';

function decoded<T>(body: unknown, decode: (data: Buffer) => T): T {
  if (!Buffer.isBuffer(body)) throw new BrokerError('INVALID_REQUEST', 'expected a binary replica request (Content-Type application/vnd.sluice.replica-request)');
  try {
    return decode(body);
  } catch (err) {
    throw new BrokerError('INVALID_REQUEST', `malformed replica request: ${(err as Error).message}`);
  }
}

export function replicaRoutes(app: FastifyInstance, s: Services): void {
  app.post(REPLICA_FETCH_PATH, { schema: { summary: 'Internal: a follower fetches stored batches of many partitions (binary)', tags: ['internal'] } }, async (request, reply) => {
    const fetch = decoded(request.body, decodeReplicaFetchRequest);
    if (fetch.maxWaitMs < 0 || fetch.maxWaitMs > s.config.maxFetchWaitMs) {
      throw new BrokerError('INVALID_REQUEST', `maxWaitMs must be from 0 to ${s.config.maxFetchWaitMs}`);
    }
    if (fetch.maxBytes < 1 || fetch.partitions.some((p) => p.maxBytes < 1 || p.fetchOffset < 0)) {
      throw new BrokerError('INVALID_REQUEST', 'maxBytes must be >= 1 and fetch offsets >= 0');
    }
    // A follower that goes away ends its long poll at once.
    const gone = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort();
    };
    reply.raw.once('close', onClose);
    const frames = await s.replicaFetches.fetch(fetch, gone.signal).finally(() => reply.raw.off('close', onClose));
    return reply.type(RECORD_BATCH_MEDIA_TYPE).send(Buffer.concat(encodeFetchFrames(frames)));
  });

  app.post(EPOCH_END_OFFSETS_PATH, { schema: { summary: 'Internal: where a leader epoch ends on this leader (binary)', tags: ['internal'] } }, async (request, reply) => {
    const question = decoded(request.body, decodeEpochEndOffsetsRequest);
    return reply.type('application/octet-stream').send(encodeEpochEndOffsets(s.replicaFetches.epochEndOffsets(question)));
  });
}
