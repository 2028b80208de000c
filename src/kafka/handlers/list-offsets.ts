/**
 * ListOffsets (v1+): -2 earliest (log start offset), -1 latest (high watermark), else the first offset whose
 * record timestamp is >= the one asked, with that record's timestamp; offset -1 when no record is that late
 * (as Kafka answers).
 */
import { ListOffsets } from '../generated/index.js';
import { expected, KafkaErrors } from '../errors.js';
import type { KafkaServices } from '../services.js';

const LATEST = -1;
const EARLIEST = -2;

export function listOffsetsHandler(s: KafkaServices) {
  return async (_ctx: unknown, _version: number, request: ListOffsets.ListOffsetsRequest): Promise<ListOffsets.ListOffsetsResponse> => ({
    throttleTimeMs: 0,
    topics: await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (p) => {
            const reply: ListOffsets.ListOffsetsPartitionResponse = { partitionIndex: p.partitionIndex, errorCode: KafkaErrors.NONE, timestamp: -1, offset: -1, leaderEpoch: -1 };
            try {
              const partition = s.topics.partition(topic.name, p.partitionIndex);
              reply.leaderEpoch = partition.leaderEpoch;
              const at = p.timestamp === LATEST ? 'latest' : p.timestamp === EARLIEST ? 'earliest' : p.timestamp;
              if (typeof at === 'number' && at < 0) {
                reply.errorCode = KafkaErrors.INVALID_REQUEST;
                return reply;
              }
              const found = await partition.listOffset(at);
              if (typeof at === 'number') {
                if (found.timestamp !== null) Object.assign(reply, { offset: found.offset, timestamp: found.timestamp });
              } else reply.offset = found.offset;
              return reply;
            } catch (err) {
              reply.errorCode = expected(err).code;
              return reply;
            }
          }),
        ),
      })),
    ),
  });
}
