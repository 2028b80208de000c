/**
 * Produce (v3+: record batches v2 only). Each partition's records are appended as the client built them,
 * through the same path as the HTTP binary produce (ReplicaManager.produceBatches: validation, Kafka's
 * idempotent sequence rules, acks, the partition's delayed produce for acks=all). Partitions are appended in
 * parallel; an error fails only its partition. acks=0 gets no reply at all, as in Kafka.
 *
 * Idempotence: producer ids come from InitProducerId (the same id space as POST /producers), and a retried
 * batch is answered with the offsets it got the first time. Transactions are not supported: a request with a
 * transactional id is refused per partition with TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
 */
import { Produce } from '../generated/index.js';
import { BrokerError } from '../../common/errors.js';
import type { Acks } from '../../replication/replica-manager.js';
import { expected, KafkaErrors } from '../errors.js';
import type { KafkaServices } from '../services.js';

const ACKS: Record<number, Acks> = { 0: '0', 1: '1', [-1]: 'all' };

export function produceHandler(s: KafkaServices) {
  return async (_ctx: unknown, _version: number, request: Produce.ProduceRequest): Promise<Produce.ProduceResponse | null> => {
    const acks = ACKS[request.acks];
    const failAll = (code: number, message: string): Produce.ProduceResponse => ({
      throttleTimeMs: 0,
      responses: request.topicData.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => partitionReply(p.index, code, message)) })),
    });
    if (acks === undefined) return failAll(KafkaErrors.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, got ${request.acks}`);
    if (request.transactionalId !== null) {
      return acks === '0' ? null : failAll(KafkaErrors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactions are not supported by sluice');
    }
    const options = { acks, timeoutMs: Math.max(0, request.timeoutMs) };
    const responses = await Promise.all(
      request.topicData.map(async (topic) => ({
        name: topic.name,
        partitionResponses: await Promise.all(
          topic.partitionData.map(async (p) => {
            try {
              if (p.records === null || p.records.length === 0) throw new BrokerError('CORRUPT_MESSAGE', 'no record batch');
              const appended = await s.replicas.produceBatches(topic.name, p.index, p.records, options);
              const reply = partitionReply(p.index, KafkaErrors.NONE, null);
              reply.baseOffset = appended[0]?.baseOffset ?? -1;
              if (acks !== '0') reply.logStartOffset = s.topics.partition(topic.name, p.index).logStartOffset;
              return reply;
            } catch (err) {
              const { code, message } = expected(err);
              return partitionReply(p.index, code, message);
            }
          }),
        ),
      })),
    );
    return acks === '0' ? null : { throttleTimeMs: 0, responses };
  };
}

function partitionReply(index: number, errorCode: number, errorMessage: string | null): Produce.PartitionProduceResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage };
}
